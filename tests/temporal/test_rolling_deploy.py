"""A rolling deploy: workers of two versions on one task queue. Runs are enrolled as `JourneyV2`, carrying the
workflow changes they were made with (`RunInput.patches`), and take those paths without patch markers. A
worker that predates the type, or lacks one of a run's changes, must never act for the run (a marker or a
command it recorded would break the run on every newer worker): its task fails, and a newer worker takes
the run from where it was."""

from __future__ import annotations

from collections.abc import Sequence

from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from journeys.engine.runs import PATCHES, RUN_TYPE, RunInput, workflow_id
from journeys.runtime.temporal import build_worker, workflow_runner
from journeys.services.catalogue import publish
from journeys.services.control import settle
from journeys.services.enrolment import enroll
from journeys.settings import Settings
from journeys.store import Store
from journeys.workflows.journey import JourneyWorkflow
from tests.support.polling import eventually
from tests.temporal.test_journey_workflow import MODEM_SWAP, customer, sent

FAILED = "workflow_task_failed_event_attributes"
TAKEN = {"workflow_execution_started", "workflow_task_scheduled", "workflow_task_started", "workflow_task_failed"}


async def _failed_tasks(client: Client, wid: str) -> tuple[str, list[str]]:
    """Once a workflow task of the run has failed: the first failure's message (decoded: failures are
    encrypted as payloads are), and the types of the run's history events."""
    handle = client.get_workflow_handle(wid)

    async def failed() -> tuple[str, list[str]] | None:
        history = [e async for e in handle.fetch_history_events()]
        failures = [e.workflow_task_failed_event_attributes.failure for e in history if e.HasField(FAILED)]
        if not failures:
            return None
        message = str(await client.data_converter.decode_failure(failures[0]))
        return message, [str(e.WhichOneof("attributes")).removesuffix("_event_attributes") for e in history]

    return await eventually(failed, 10, f"a failed workflow task of {wid}")


def _acted(kinds: Sequence[str]) -> list[str]:
    """What a worker did for the run, beyond taking and failing tasks."""
    return [kind for kind in kinds if kind not in TAKEN]


async def test_a_worker_older_than_the_run_type_leaves_the_run_to_a_newer_one(
    env: WorkflowEnvironment, store: Store, settings: Settings
) -> None:
    store.upsert_customers([customer("c1")])
    older = Worker(
        env.client,
        task_queue=settings.task_queue,
        workflows=[JourneyWorkflow],  # the version before `JourneyV2`
        workflow_runner=workflow_runner(settings.workflow_sandbox),
    )
    async with older:
        (enrolment,) = await enroll(env.client, store, settings, publish(MODEM_SWAP), ["c1"])
        assert enrolment.workflow_id is not None
        failure, kinds = await _failed_tasks(env.client, enrolment.workflow_id)
    assert (
        f"Workflow class {RUN_TYPE} is not registered" in failure and _acted(kinds) == []
    )  # no marker, no command, nothing sent
    assert sent(store, "c1") == []
    async with build_worker(env.client, settings, store):
        await settle(env.client, enrolment.workflow_id)
    assert sent(store, "c1") == [("invite", "email")]


async def test_a_worker_that_lacks_one_of_the_runs_changes_fails_its_task(
    env: WorkflowEnvironment, store: Store, settings: Settings
) -> None:
    store.upsert_customers([customer("c2")])
    published = publish(MODEM_SWAP)
    run_input = RunInput(journey=published.journey, customer_id="c2", patches=(*PATCHES, "a-change-from-later"))
    wid = workflow_id("modem-swap", "c2", 1)
    async with build_worker(env.client, settings, store):
        await env.client.start_workflow(RUN_TYPE, run_input, id=wid, task_queue=settings.task_queue)
        failure, kinds = await _failed_tasks(env.client, wid)
    assert "predates the run's changes ['a-change-from-later']" in failure and _acted(kinds) == []
    assert sent(store, "c2") == []
