"""Event delivery: an event recorded, taken in at once by every live run of the customer (a workflow update
per run, asked again while the server is busy), and starting the journeys it triggers."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

from pydantic import BaseModel, Field
from temporalio.client import (
    Client,
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.service import RPCError, RPCStatusCode

from journeys.engine.interpreter import Event
from journeys.errors import JourneysError
from journeys.services.catalogue import definitions, publish
from journeys.services.continuous import enrol_customer
from journeys.services.enrolment import JourneyPaused, enroll
from journeys.services.shared import NeverStarted, RunEffect, once_started, utc_now
from journeys.settings import Settings
from journeys.store import Store, StoreUnavailable

DELIVER_PATIENCE = timedelta(minutes=2)  # how long `signal` keeps asking a busy server to take an event in


class NotDelivered(JourneysError):
    """Temporal did not take a recorded event in; the same event id again finishes the delivery."""

    def __init__(self, event_id: str, reason: str) -> None:
        self.reason = reason
        super().__init__(
            f"{reason}; the event is recorded: run the same command again with --id {event_id} to deliver it"
        )


class SignalResult(BaseModel):
    event_id: str
    customer: str
    event: str
    duplicate: bool
    runs: list[RunEffect] = Field(default_factory=list)


async def signal(
    client: Client,
    store: Store,
    settings: Settings,
    customer_id: str,
    name: str,
    data: dict[str, Any],
    event_id: str | None = None,
    journey_id: str | None = None,
    *,
    source: str = "cli",
) -> SignalResult:
    """Record the event, deliver it to every live run at once, start journeys it triggers.

    Returns once every live run has taken the event in (workflow updates, not fire-and-forget signals), and once
    the continuous journeys whose entry the customer now meets have started their runs. A
    paused journey that the event triggers enrols no one: its effect is `skipped`, with the reason. `source` is the
    door the event came in by (cli, api, provider, import), kept on the timeline."""
    event = Event(id=event_id or uuid.uuid4().hex, name=name, data=data, at=utc_now())
    recorded = await record(store, customer_id, event, source)
    return await take_effect(client, store, settings, customer_id, event, recorded, journey_id)


async def record(store: Store, customer_id: str, event: Event, source: str) -> bool:
    """Put the event on the customer's timeline; False when its id was recorded before."""
    try:
        return await asyncio.to_thread(store.record_event, customer_id, event, source=source)
    except StoreUnavailable as exc:  # it may have died during the commit: only the same id is safe to send again
        raise JourneysError(f"{exc}; if it was recorded, only the same id is safe: --id {event.id}") from None


async def take_effect(
    client: Client,
    store: Store,
    settings: Settings,
    customer_id: str,
    event: Event,
    recorded: bool,
    journey_id: str | None = None,
) -> SignalResult:
    """What a recorded event does: every live run of the customer (or of `journey_id`) takes it in, and, the
    first time it is recorded, it starts the journeys whose `entry.trigger` it is and the continuous journeys
    whose entry it now lets the customer into."""
    result = SignalResult(event_id=event.id, customer=customer_id, event=event.name, duplicate=not recorded)
    # A duplicate is delivered again: runs take an event id once, and this is how a delivery that an outage
    # interrupted is finished (run the same command again with the same --id).
    live = await asyncio.to_thread(store.live_runs, customer_id, journey_id)
    result.runs = list(await asyncio.gather(*(deliver(client, run.workflow_id, run.journey_id, event) for run in live)))
    if not recorded:
        return result
    for path, journey in definitions(settings).items():
        if journey.entry.trigger != event.name or (journey_id and journey.id != journey_id):
            continue
        if any(r.journey == journey.id for r in result.runs):
            continue
        try:
            (enrolment,) = await enroll(client, store, settings, publish(path), [customer_id], trigger=event)
        except JourneyPaused:  # the event is recorded and delivered all the same: only this journey waits
            reason = f"journey paused: it enrols no one until journeys resume {journey.id}"
            result.runs.append(RunEffect(journey=journey.id, workflow_id="", effect="skipped", reason=reason))
            continue
        effect = "started" if enrolment.status == "started" else "skipped"
        result.runs.append(
            RunEffect(
                journey=journey.id, workflow_id=enrolment.workflow_id or "", effect=effect, reason=enrolment.reason
            )
        )
    result.runs += await enrol_customer(client, store, settings, customer_id, journey_id)
    return result


async def deliver(client: Client, wid: str, journey_id: str, event: Event) -> RunEffect:
    """Deliver `event` to one run by a workflow update whose id is the event's: a retried call, or another
    process delivering the same event id, joins the same update on the server and gets its real outcome.

    Under load the server may give up on the call before the worker has taken the update in (the client raises
    WorkflowUpdateRPCTimeoutOrCancelledError); the update is asked for again, with the same id, until
    DELIVER_PATIENCE runs out. A run registered whose enrolment has not yet started it (see
    `Store.register_run`) is waited for, up to UNSTARTED_PATIENCE."""
    handle: WorkflowHandle[Any, Any] = client.get_workflow_handle(wid)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DELIVER_PATIENCE.total_seconds()

    def ignored(reason: str) -> RunEffect:
        return RunEffect(journey=journey_id, workflow_id=wid, effect="ignored", reason=reason)

    while True:
        try:
            effect = await once_started(
                handle, lambda: handle.execute_update("deliver", event, id=f"deliver:{event.id}", result_type=str)
            )
        except NeverStarted:
            return ignored("the run was registered but never started (an interrupted enrolment: enroll again)")
        except WorkflowUpdateRPCTimeoutOrCancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():  # our own cancellation (Ctrl-C), not the server's deadline
                raise
            if loop.time() > deadline:
                patience = DELIVER_PATIENCE.total_seconds()
                raise NotDelivered(
                    event.id, f"Temporal did not take event {event.id} to {wid} within {patience:g} s"
                ) from None
            continue
        except RPCError as exc:
            if exc.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION):  # the run ended meanwhile
                return ignored("run is no longer live")
            status = exc.status.name if exc.status else "error"
            raise NotDelivered(event.id, f"Temporal did not take event {event.id} to {wid} ({status})") from None
        except WorkflowUpdateFailedError:
            return ignored("run is no longer live")
        return RunEffect(journey=journey_id, workflow_id=wid, effect=effect)  # type: ignore[arg-type]
