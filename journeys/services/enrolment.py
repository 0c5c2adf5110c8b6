"""Enrolment: registering a customer's run in the store, then starting it in Temporal, idempotently."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from journeys.engine import interpreter as engine
from journeys.engine.interpreter import Customer, Event, PastRun
from journeys.engine.runs import PATCHES, RUN_TYPE, RunInput
from journeys.errors import JourneysError
from journeys.format.models import Journey
from journeys.services.catalogue import Published
from journeys.services.shared import PARALLEL, utc_now
from journeys.settings import Settings
from journeys.store import Store

START_ATTEMPTS = 4  # a start the server did not answer in time is asked for again, 1, 2 and 4 s later
# What a loaded server answers, or the client says when it does not answer in time: worth asking again.
BUSY = frozenset(
    {
        RPCStatusCode.CANCELLED,  # the client's own timeout ("Timeout expired")
        RPCStatusCode.DEADLINE_EXCEEDED,
        RPCStatusCode.RESOURCE_EXHAUSTED,
        RPCStatusCode.UNAVAILABLE,
    }
)


class JourneyPaused(JourneysError):
    """The journey is paused (`journeys pause`): it enrols no one until it is resumed."""


class Enrolment(BaseModel):
    customer: str
    status: Literal["started", "already", "skipped"]
    workflow_id: str | None = None
    reason: str | None = None


async def enroll(
    client: Client,
    store: Store,
    settings: Settings,
    published: Published,
    customer_ids: Sequence[str],
    trigger: Event | None = None,
) -> list[Enrolment]:
    """Enrol customers (respecting `entry`), idempotently: enrolling twice makes one run.

    `trigger`: the event that enrols them, for a journey with `entry.trigger` (`signal` passes it); without
    it such a journey is refused, as a paused one is (`JourneyPaused`)."""
    journey = published.journey
    if trigger is None:
        refuse_by_hand(journey)
    if store.is_paused(journey.id):
        raise JourneyPaused(f"journey {journey.id!r} is paused: it enrols no one (journeys resume {journey.id})")
    store.save_version(journey.id, journey.version, published.source, published.hash, utc_now())
    gate = asyncio.Semaphore(PARALLEL)

    async def one(customer_id: str) -> Enrolment:
        async with gate:
            return await _enrol_one(client, store, settings, published, customer_id, trigger)

    return list(await asyncio.gather(*(one(c) for c in customer_ids)))


def refuse_by_hand(journey: Journey) -> None:
    """A journey with `entry.trigger` enrols a customer only on that event (its messages speak of it):
    enrolling by hand (`journeys enroll`) is refused, in one line."""
    trigger = journey.entry.trigger
    if trigger is not None:
        raise JourneysError(
            f"journey {journey.id!r} enrols only on its event {trigger!r} (entry.trigger), not by hand: "
            f"journeys signal CUSTOMER {trigger}"
        )


async def _enrol_one(
    client: Client, store: Store, settings: Settings, published: Published, customer_id: str, trigger: Event | None
) -> Enrolment:
    """Register the run in the store (deciding under the customer's lock: see `Store.register_run`), then
    start it. A run registered by an enrolment interrupted before it started the workflow is started by the
    next one; Temporal refuses a second start of a workflow id, so racing enrolments make one run."""
    journey = published.journey
    now = utc_now()

    def refusal(customer: Customer, past: list[PastRun]) -> str | None:
        return engine.enrolment_refusal(journey, customer, now, past)

    registration = await asyncio.to_thread(
        store.register_run, customer_id, journey.id, journey.version, now, refusal, published.listens
    )
    if registration.status == "unknown":
        return Enrolment(customer=customer_id, status="skipped", reason="no such customer in the store")
    if registration.status == "refused":
        return Enrolment(customer=customer_id, status="skipped", reason=registration.reason)
    assert registration.workflow_id is not None and registration.entry is not None
    wid = registration.workflow_id
    if registration.status == "live" and not registration.unstarted:
        return Enrolment(customer=customer_id, status="already", workflow_id=wid)
    snapshot = registration.snapshot
    assert snapshot is not None and registration.registered_at is not None
    since = registration.registered_at
    run_input = RunInput(
        journey=journey,
        templates=published.templates,
        definition=published.digest,
        customer_id=customer_id,
        entry=registration.entry,
        trigger=trigger,
        snapshot=snapshot,
        missed=sorted((e for e in snapshot.customer.events.values() if e.at >= since), key=lambda e: e.at),
        patches=PATCHES,
    )
    for attempt in range(START_ATTEMPTS):
        try:
            await client.start_workflow(
                RUN_TYPE,
                run_input,
                id=wid,
                task_queue=settings.task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            )
        except WorkflowAlreadyStartedError:  # another enrolment (or an earlier, interrupted one) started it
            # ... or our own earlier attempt, which the server carried out but did not answer in time
            ours = attempt > 0 and registration.status == "new"
            return Enrolment(customer=customer_id, status="started" if ours else "already", workflow_id=wid)
        except RPCError as exc:
            task = asyncio.current_task()
            if exc.status not in BUSY or attempt == START_ATTEMPTS - 1 or (task is not None and task.cancelling()):
                raise  # the run stays registered: the next `enroll` starts it
            await asyncio.sleep(2**attempt)
        else:
            break
    return Enrolment(customer=customer_id, status="started", workflow_id=wid)
