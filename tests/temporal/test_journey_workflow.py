"""The modem swap story on the real workflow, with days skipped on the time-skipping test server."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from journeys.engine.runs import RunInput, RunStatus, workflow_id
from journeys.format.customers import Profile
from journeys.services.catalogue import publish
from journeys.services.control import cancel, settle
from journeys.services.delivery import signal
from journeys.services.enrolment import enroll
from journeys.settings import Settings
from journeys.store import Store
from tests.support import ROOT

MODEM_SWAP = ROOT / "definitions" / "modem_swap.yaml"


def customer(cid: str, **extra: object) -> Profile:
    return Profile(
        id=cid,
        name="Reza",
        email=f"{cid}@example.com",
        phone="+989121000003",
        locale="fa",
        timezone="Asia/Tehran",
        attributes={"plan": "wimax", "wimax_id": f"W-{cid}"},
        **extra,
    )


def sent(store: Store, cid: str) -> list[tuple[str, str]]:
    return [(m.step, m.channel) for m in store.messages_of(cid) if m.status == "sent"]


async def test_swap_event_ends_reminder_loop_at_once(
    env: WorkflowEnvironment, client: Client, store: Store, settings: Settings
) -> None:
    store.upsert_customers([customer("c3")])
    (enrolment,) = await enroll(client, store, settings, publish(MODEM_SWAP), ["c3"])
    assert enrolment.status == "started"
    await env.sleep(timedelta(days=4, hours=12))  # the invitation, three days of silence, one reminder call
    assert sent(store, "c3") == [("invite", "email"), ("remind", "voice")]

    await settle(client, enrolment.workflow_id)
    result = await signal(client, store, settings, "c3", "swapped", {})
    assert [(r.workflow_id, r.effect) for r in result.runs] == [(enrolment.workflow_id, "exited")]
    await env.sleep(timedelta(days=30))
    assert sent(store, "c3") == [("invite", "email"), ("remind", "voice")]  # no call ever again
    (run,) = store.runs_of("c3")
    assert (run.outcome, run.exit_event) == ("exited", "swapped")
    status = await client.get_workflow_handle(enrolment.workflow_id).query("status", result_type=RunStatus)
    assert status.outcome == "exited"


async def test_already_swapped_customer_is_never_enrolled(client: Client, store: Store, settings: Settings) -> None:
    store.upsert_customers([customer("c4")])
    await signal(client, store, settings, "c4", "swapped", {})
    (enrolment,) = await enroll(client, store, settings, publish(MODEM_SWAP), ["c4"])
    assert (enrolment.status, enrolment.reason) == ("skipped", "entry.unless: customer already has event 'swapped'")
    assert store.runs_of("c4") == [] and store.messages_of("c4") == []


async def test_enrolling_twice_makes_one_run(client: Client, store: Store, settings: Settings) -> None:
    store.upsert_customers([customer("c1")])
    published = publish(MODEM_SWAP)
    first = await enroll(client, store, settings, published, ["c1"])
    second = await enroll(client, store, settings, published, ["c1"])
    assert first[0].workflow_id == second[0].workflow_id and second[0].status == "already"
    assert len(store.runs_of("c1")) == 1


async def test_document_recorded_once_is_never_asked_for_again(
    env: WorkflowEnvironment, client: Client, store: Store, settings: Settings
) -> None:
    store.upsert_customers([customer("c1")])
    (enrolment,) = await enroll(client, store, settings, publish(MODEM_SWAP), ["c1"])
    await env.sleep(timedelta(hours=13))
    await signal(client, store, settings, "c1", "registered", {})
    # the courier records the national ID at the door, then the delivery
    upload = await signal(client, store, settings, "c1", "document_uploaded", {"kind": "national_id", "ref": "c-1"})
    assert [r.effect for r in upload.runs] == ["ignored"]
    delivered = await signal(client, store, settings, "c1", "delivered", {})
    assert [r.effect for r in delivered.runs] == ["advanced"]
    assert (await settle(client, enrolment.workflow_id)).current_step == "settle"
    await env.sleep(timedelta(days=3))
    assert sent(store, "c1") == [("invite", "email"), ("happy_call", "voice")]  # never ask_id
    # one satisfaction call, whose digits come back as an event on the timeline
    rated = await signal(client, store, settings, "c1", "satisfaction_rated", {"digits": "4"})
    assert rated.runs == [] or all(r.effect == "ignored" for r in rated.runs)
    assert [e.data for e in store.events_of("c1") if e.name == "satisfaction_rated"] == [{"digits": "4"}]
    (run,) = store.runs_of("c1")
    assert (run.outcome, run.end_label) == ("completed", "converted")


async def test_same_event_id_twice_is_one_event(client: Client, store: Store, settings: Settings) -> None:
    store.upsert_customers([customer("c2")])
    await enroll(client, store, settings, publish(MODEM_SWAP), ["c2"])
    first = await signal(client, store, settings, "c2", "registered", {}, event_id="evt-1")
    again = await signal(client, store, settings, "c2", "registered", {}, event_id="evt-1")
    assert (first.duplicate, again.duplicate) == (False, True)
    assert [r.effect for r in again.runs] == [
        "ignored"
    ]  # delivered again (an outage may have cut the first), taken once
    assert [e.id for e in store.events_of("c2")] == ["evt-1"]


async def test_cancel_ends_live_runs(client: Client, store: Store, settings: Settings) -> None:
    store.upsert_customers([customer("c5")])
    (enrolment,) = await enroll(client, store, settings, publish(MODEM_SWAP), ["c5"])
    results = await cancel(client, store, "c5", None, "moved abroad")
    assert [(r.workflow_id, r.effect) for r in results.runs] == [(enrolment.workflow_id, "cancelled")]
    await client.get_workflow_handle(enrolment.workflow_id).result()
    (run,) = store.runs_of("c5")
    assert run.outcome == "cancelled"


async def test_long_run_continues_as_new_without_losing_state_or_events(
    env: WorkflowEnvironment, client: Client, store: Store, settings: Settings, tmp_path: Path
) -> None:
    """A daily reminder loop with a tiny history limit: many continue-as-new boundaries, visits and sends kept."""
    definition = tmp_path / "loop.yaml"
    definition.write_text(
        """
id: loop
name: Daily check
exit_on: [stop]
steps:
  - {id: ping, send: sms, message: {text: "ping {{ customer.name }}"}, max_visits: 6, on_max: done}
  - {id: pause, wait_for: answered, since: step, timeout: 1d, on_timeout: ping}
  - {id: answered, end: answered}
  - {id: done, end: gave_up}
""",
        encoding="utf-8",
    )
    store.upsert_customers([customer("c9")])
    published = publish(definition)
    run_input = RunInput(journey=published.journey, customer_id="c9", history_limit=20)
    handle = await client.start_workflow(
        "Journey", run_input, id=workflow_id("loop", "c9", 1), task_queue=settings.task_queue
    )
    store.create_run(handle.id, "loop", 1, "c9", 1, await env.get_current_time())
    first_run = (await handle.describe()).run_id
    await env.sleep(timedelta(days=3, hours=1))
    assert (await client.get_workflow_handle(handle.id).describe()).run_id != first_run  # it continued as new
    result = await signal(client, store, settings, "c9", "answered", {})
    assert [r.effect for r in result.runs] == ["advanced"]
    status = await client.get_workflow_handle(handle.id, result_type=RunStatus).result()
    assert (status.outcome, status.end_label) == ("completed", "answered")
    keys = [m.key for m in store.messages_of("c9")]
    assert len(keys) == len(set(keys)) == 4  # one send a day, never a repeated idempotency key


async def test_a_waiting_run_records_where_it_waits_and_until_when(
    env: WorkflowEnvironment, client: Client, store: Store, settings: Settings
) -> None:
    """The store, not Temporal, answers status and report: a run at a timed wait has written its deadline."""
    store.upsert_customers([customer("c7")])
    (enrolment,) = await enroll(client, store, settings, publish(MODEM_SWAP), ["c7"])
    await settle(client, enrolment.workflow_id)
    (run,) = store.runs_of("c7")
    status = await client.get_workflow_handle(enrolment.workflow_id).query("status", result_type=RunStatus)
    assert status.idle and status.until is not None
    assert (run.current_step, run.until) == (status.current_step, status.until)
