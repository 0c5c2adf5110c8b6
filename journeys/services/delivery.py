"""Event delivery: an event recorded, then taken in at once by every live run of the customer (a workflow
update per run, asked again while the server is busy) and starting the journeys it triggers; what Temporal did
not take in stays owed in the store, and the deliverer that runs with the worker finishes it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
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
from journeys.engine.listening import hears
from journeys.errors import JourneysError
from journeys.format.models import Journey
from journeys.services.catalogue import definitions, publish
from journeys.services.continuous import enrol_customer
from journeys.services.enrolment import JourneyPaused, enroll
from journeys.services.shared import NeverStarted, RunEffect, once_started, utc_now
from journeys.settings import Settings
from journeys.store import NewEvent, PendingEvent, RunRow, Store, StoreUnavailable, UnknownCustomer
from journeys.store.base import utc

DELIVER_PATIENCE = timedelta(minutes=2)  # how long `signal` keeps asking a busy server to take an event in
GRACE = timedelta(seconds=2)  # an event owed for less is still being delivered by whoever recorded it
# Customers a delivery pass takes side by side. Each is a workflow update for the worker, and an event sent
# alone (support staff's `signal`, a sale) waits behind those in flight: with 16 rather than 64 in flight,
# event → run ended under API ingest went from 1.95x to 1.64x bare at p99 for the same ingest (quick runs).
DELIVERING = 16
# A batch (the API's, the deliverer's) is delivered SLICE customers at a time, and before each slice, while an
# event sent alone is in flight in this process (a sale, support staff's `signal`), it pauses ALONE_FIRST:
# otherwise that event shares the process with the whole batch, and waits on the store behind it. Quick API
# runs, event -> run ended p99 with a background ingest at half the ingest figure: 3.5x bare unsliced, 1.9x
# with slices of 64, 1.3x with 32 (ingest 4,625, 3,721 and 2,959 events/s: each slice reads and writes once).
SLICE = 32
ALONE_FIRST = 0.005
_alone = 0  # events sent alone being recorded and delivered in this process now


class NotDelivered(JourneysError):
    """Temporal did not take a recorded event in: it stays owed, and the deliverer (or the same event id again)
    finishes the delivery."""

    def __init__(self, event_id: str, reason: str) -> None:
        self.reason = reason
        super().__init__(
            f"{reason}; the event is recorded and owed: journeys delivers it once Temporal answers (a worker must "
            f"be running), as does the same command again with --id {event_id}"
        )


class NotRecorded(JourneysError):
    """The store did not answer: the event may not be recorded, and only the same id is safe to send again."""


class SignalResult(BaseModel):
    event_id: str
    customer: str
    event: str
    duplicate: bool
    delivered: bool = True  # False: recorded, and journeys delivers it once Temporal answers (no one sends it again)
    runs: list[RunEffect] = Field(default_factory=list)


async def signal(
    client: Client | None,
    store: Store,
    settings: Settings,
    customer_id: str,
    name: str,
    data: dict[str, Any],
    event_id: str | None = None,
    journey_id: str | None = None,
    *,
    source: str = "cli",
    at: datetime | None = None,
) -> SignalResult:
    """Record the event, then deliver it to every live run at once and start the journeys it triggers.

    Recording comes first and is the promise: from then on the event is owed to the runs until every live
    run it concerns has taken it in (the store keeps it pending). With Temporal answering (`client`), this
    returns once every live run has taken the event in (workflow updates, not fire-and-forget signals);
    without (`client` None, or Temporal failing meanwhile), it returns `delivered: false` and the deliverer
    that runs with the worker finishes the delivery when Temporal answers again (`deliver_pending`). A paused
    journey that the event triggers enrols no one: its effect is `skipped`, with the reason. `source` is the
    door the event came in by (cli, api, provider, import), kept on the timeline; `at`, when it happened."""
    event = Event(id=event_id or uuid.uuid4().hex, name=name, data=data, at=at or utc_now())
    (result,) = await signal_many(client, store, settings, [NewEvent(customer_id, event, source, journey_id)])
    if isinstance(result, UnknownCustomer):
        raise result
    return result


async def signal_many(
    client: Client | None, store: Store, settings: Settings, incoming: Sequence[NewEvent]
) -> list[SignalResult | UnknownCustomer]:
    """`signal` for many events at once (the API's batches): recorded in one transaction, then delivered as
    `signal` delivers one, each customer's in the order given, different customers' side by side. An event
    for a customer the store does not hold is `UnknownCustomer` in its place, and nothing else changes."""
    global _alone
    alone = len(incoming) == 1
    _alone += alone
    try:
        return await _signal_many(client, store, settings, incoming)
    finally:
        _alone -= alone


async def _signal_many(
    client: Client | None, store: Store, settings: Settings, incoming: Sequence[NewEvent]
) -> list[SignalResult | UnknownCustomer]:
    try:
        outcomes = await asyncio.to_thread(store.record_events, incoming)
    except StoreUnavailable as exc:  # it may have died during the commit: only the same id is safe to send again
        ids = ", ".join(n.event.id for n in incoming[:3]) + (", ..." if len(incoming) > 3 else "")
        raise NotRecorded(f"{exc}; if it was recorded, only the same id is safe: --id {ids}") from None
    results: list[SignalResult | UnknownCustomer] = [
        UnknownCustomer(new.customer_id)
        if outcome == "unknown"
        else SignalResult(
            event_id=new.event.id,
            customer=new.customer_id,
            event=new.event.name,
            duplicate=outcome == "duplicate",
            delivered=False,
        )
        for new, outcome in zip(incoming, outcomes, strict=True)
    ]
    taken = [(new, result) for new, result in zip(incoming, results, strict=True) if isinstance(result, SignalResult)]
    if client is None or not taken:
        return results
    try:
        effects = await take_in(client, store, settings, [new for new, _ in taken])
    except StoreUnavailable:  # recorded and owed: the deliverer delivers them once the store answers again
        return results
    for (_, result), done in zip(taken, effects, strict=True):
        if isinstance(done, list):
            result.runs, result.delivered = done, True
    return results


async def record(store: Store, customer_id: str, event: Event, source: str, only_journey: str | None = None) -> bool:
    """Put the event on the customer's timeline, owed to their runs (or `only_journey`'s); False when its id
    was recorded before."""
    try:
        return await asyncio.to_thread(store.record_event, customer_id, event, source=source, only_journey=only_journey)
    except StoreUnavailable as exc:  # it may have died during the commit: only the same id is safe to send again
        raise NotRecorded(f"{exc}; if it was recorded, only the same id is safe: --id {event.id}") from None


async def take_in(
    client: Client, store: Store, settings: Settings, recorded: Sequence[NewEvent]
) -> list[list[RunEffect] | Exception]:
    """Deliver what these events' customers are owed, oldest first, up to and including each of these events,
    and return what each event did to each run (or why it was not delivered: it stays owed). One customer's
    events reach their runs in the order they were recorded: an event left pending by an outage goes before
    a newer one. An event recorded before (a duplicate id) and delivered since is delivered again to the live
    runs, which take an event id once: this is how a delivery cut short is finished by hand (the same
    command, the same id)."""
    by_customer: dict[str, list[NewEvent]] = {}
    for new in recorded:
        by_customer.setdefault(new.customer_id, []).append(new)
    done = await _deliver_to_customers(client, store, settings, by_customer, _Customer.take_in_each)
    return [done.get(new.event.id, NotDelivered(new.event.id, "not delivered")) for new in recorded]


async def deliver_pending(client: Client, store: Store, settings: Settings, grace: timedelta = GRACE) -> int:
    """One pass of the deliverer: every event owed for longer than `grace` (younger ones are being delivered
    by whoever recorded them), customer by customer in the order recorded, customers side by side. Returns
    how many it delivered; an event Temporal does not take stays owed for the next pass."""
    owed = await asyncio.to_thread(store.pending_events, utc_now() - grace)
    by_customer: dict[str, list[PendingEvent]] = {}
    for event in owed:
        by_customer.setdefault(event.customer_id, []).append(event)
    owed_now = {cid: list(events) for cid, events in by_customer.items()}  # read just now: not read again
    done = await _deliver_to_customers(client, store, settings, by_customer, _Customer.deliver_these, owed_now)
    delivered = [effects for effects in done.values() if isinstance(effects, list)]
    failures = [failure for failure in done.values() if isinstance(failure, Exception)]
    if failures and not delivered:
        raise failures[0]
    return len(delivered)


async def _deliver_to_customers(
    client: Client,
    store: Store,
    settings: Settings,
    by_customer: Mapping[str, Sequence[Any]],
    plan: Callable[[_Customer, Sequence[Any]], Awaitable[None]],
    owed: Mapping[str, list[PendingEvent]] | None = None,
) -> dict[str, list[RunEffect] | Exception]:
    """What `plan` delivers of each customer's events, SLICE customers at a time (see `_after_alone`), each
    slice's customers side by side (at most DELIVERING at once), their owed events (unless given) and live runs
    read once for the slice, and what was delivered marked so in one write. Returns each event's effects, or
    the failure that stopped its customer's delivery before it."""
    catalogue = definitions(settings)
    done: dict[str, list[RunEffect] | Exception] = {}
    ids = list(by_customer)
    for start in range(0, len(ids), SLICE):
        if len(ids) > 1:  # a batch: it goes after the events sent alone
            await _after_alone()
        chunk = ids[start : start + SLICE]
        owed_now, live = await asyncio.to_thread(_owed_and_live, store, chunk, owed)
        customers = [
            _Customer(client, store, settings, catalogue, owed_now.get(cid, []), live.get(cid, [])) for cid in chunk
        ]
        done.update(await _deliver_slice(store, customers, [by_customer[cid] for cid in chunk], plan))
    return done


async def _after_alone() -> None:
    """Let the events sent alone in flight in this process go first, for ALONE_FIRST."""
    if _alone:
        await asyncio.sleep(ALONE_FIRST)


async def _deliver_slice(
    store: Store,
    customers: list[_Customer],
    events: list[Sequence[Any]],
    plan: Callable[[_Customer, Sequence[Any]], Awaitable[None]],
) -> dict[str, list[RunEffect] | Exception]:
    """`plan` for each customer with their events, side by side (at most DELIVERING at once), then what was
    delivered marked so in one write."""
    gate = asyncio.Semaphore(DELIVERING)

    async def one(customer: _Customer, theirs: Sequence[Any]) -> None:
        async with gate:
            try:
                await plan(customer, theirs)
            except Exception as exc:  # what is not delivered stays owed; the failure is said per event
                customer.failure = exc

    try:
        await asyncio.gather(*(one(c, theirs) for c, theirs in zip(customers, events, strict=True)))
    finally:
        await asyncio.to_thread(store.mark_delivered, [event_id for c in customers for event_id in c.effects])
    done: dict[str, list[RunEffect] | Exception] = {}
    for customer in customers:
        done.update(customer.effects)
        if customer.failure is not None:
            done.update({event.id: customer.failure for event in customer.owed})
    return done


def _owed_and_live(
    store: Store, customer_ids: list[str], owed: Mapping[str, list[PendingEvent]] | None
) -> tuple[Mapping[str, list[PendingEvent]], dict[str, list[RunRow]]]:
    if owed is None:
        owed = store.pending_of_customers(customer_ids)
    return owed, store.live_runs_of_customers(customer_ids)


class _Customer:
    """One customer's delivery: their owed events, oldest first, to their live runs, read once and then kept
    up to date with what the events did (a run an event ended is left out, a run it started is read in)."""

    def __init__(
        self,
        client: Client,
        store: Store,
        settings: Settings,
        catalogue: Mapping[Path, Journey],
        owed: list[PendingEvent],
        live: list[RunRow],
    ) -> None:
        self.client, self.store, self.settings, self.catalogue = client, store, settings, catalogue
        self.owed, self.live = owed, live
        self.effects: dict[str, list[RunEffect]] = {}
        self.failure: Exception | None = None

    async def take_in_each(self, recorded: Sequence[NewEvent]) -> None:
        """What is owed up to and including each of `recorded`, in order; one not owed (delivered before): to
        the live runs again, triggering nothing."""
        for new in recorded:
            position = next((i for i, e in enumerate(self.owed) if e.id == new.event.id), None)
            if position is not None:
                await self.deliver_these(self.owed[: position + 1])
                continue
            event = await asyncio.to_thread(self.store.event, new.event.id)
            runs = [r for r in self.live if new.only_journey in (None, r.journey_id)] if event else []
            self.effects[new.event.id] = await self._to_runs(runs, event)

    async def deliver_these(self, owed: Sequence[PendingEvent]) -> None:
        """These owed events (the oldest), one after the other."""
        for event in list(owed):
            self.effects[event.id] = await self._deliver(event)
            self.owed.remove(event)

    async def _deliver(self, event: PendingEvent) -> list[RunEffect]:
        """One owed event to the customer's live runs (or its journey's), then the journeys it triggers or, for
        continuous ones, now lets the customer into."""
        client, store, settings = self.client, self.store, self.settings
        plain = Event(id=event.id, name=event.name, data=event.data, at=event.at)
        live = [r for r in self.live if event.only_journey in (None, r.journey_id)]
        # a run registered after the event was recorded read it in its snapshot: it is not owed the event
        effects = await self._to_runs([r for r in live if utc(r.started_at) <= event.recorded_at], plain)
        for path, journey in self.catalogue.items():
            if journey.entry.trigger != event.name or (event.only_journey and journey.id != event.only_journey):
                continue
            if any(r.journey_id == journey.id for r in live) or any(e.journey == journey.id for e in effects):
                continue
            if await asyncio.to_thread(_triggered_since, store, event, journey.id):
                continue  # this event (or a later one) enrolled them already: a delivery cut short, finished now
            effects.append(await _trigger(client, store, settings, path, journey.id, event.customer_id, plain))
        # the continuous journeys whose entry the event now lets the customer into
        effects += await enrol_customer(
            client, store, settings, event.customer_id, event.only_journey, catalogue=self.catalogue
        )
        ended = {e.workflow_id for e in effects if e.effect in ("exited", "cancelled")}
        self.live = [r for r in self.live if r.workflow_id not in ended]
        if any(e.effect == "started" for e in effects):
            self.live = await asyncio.to_thread(store.live_runs, event.customer_id)
        return effects

    async def _to_runs(self, runs: Sequence[RunRow], event: Event | None) -> list[RunEffect]:
        """The event to each of these runs that acts on it; the others ignore it without being woken (their
        definition names no such event and reads no `event`: see `journeys.engine.listening`)."""
        if event is None:
            return []

        async def one(run: RunRow) -> RunEffect:
            if hears(run.listens, event.name):
                return await deliver(self.client, run.workflow_id, run.journey_id, event)
            reason = f"version {run.version} of {run.journey_id} does not act on {event.name}"
            return RunEffect(journey=run.journey_id, workflow_id=run.workflow_id, effect="ignored", reason=reason)

        return list(await asyncio.gather(*(one(run) for run in runs)))


def _triggered_since(store: Store, event: PendingEvent, journey_id: str) -> bool:
    return any(utc(r.started_at) >= event.recorded_at for r in store.runs_of(event.customer_id, journey_id))


async def _trigger(
    client: Client, store: Store, settings: Settings, path: Path, journey_id: str, customer_id: str, event: Event
) -> RunEffect:
    try:
        (enrolment,) = await enroll(client, store, settings, publish(path), [customer_id], trigger=event)
    except JourneyPaused:  # the event is recorded and delivered all the same: only this journey waits
        reason = f"journey paused: it enrols no one until journeys resume {journey_id}"
        return RunEffect(journey=journey_id, workflow_id="", effect="skipped", reason=reason)
    except RPCError as exc:
        raise NotDelivered(event.id, f"Temporal did not start {journey_id} for {customer_id}: {exc.status}") from None
    effect = "started" if enrolment.status == "started" else "skipped"
    wid = enrolment.workflow_id or ""
    return RunEffect(journey=journey_id, workflow_id=wid, effect=effect, reason=enrolment.reason)


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
