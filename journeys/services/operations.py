"""What the support and marketing commands do against Temporal and the store (the CLI only prints)."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import os
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from journeys.engine import interpreter as engine
from journeys.engine.interpreter import Customer, Event, PastRun
from journeys.engine.runs import Change, MigrateRequest, MoveRequest, RunInput, RunStatus, bundle_templates
from journeys.errors import JourneysError
from journeys.format.models import Journey
from journeys.settings import Settings
from journeys.store import RunAuditRow, Store, StoreUnavailable
from journeys.templates import TemplateFiles

PARALLEL = 64  # client calls in flight at once
DELIVER_PATIENCE = timedelta(minutes=2)  # how long `signal` keeps asking a busy server to take an event in
UNSTARTED_PATIENCE = timedelta(seconds=30)  # how long it waits for a registered run's enrolment to start it
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


class Published(BaseModel):
    """A journey as enrolment uses it: the definition and its templates, bundled by value."""

    journey: Journey
    templates: dict[str, Any]
    source: str

    @property
    def hash(self) -> str:
        return hashlib.sha256(self.source.encode()).hexdigest()


def publish(path: Path) -> Published:
    from journeys.format.loader import load_or_raise

    journey = load_or_raise(path, TemplateFiles(path.parent / "templates"))
    return Published(
        journey=journey,
        templates=bundle_templates(journey, TemplateFiles(path.parent / "templates")),
        source=path.read_text(encoding="utf-8"),
    )


def find_journey(settings: Settings, journey_id: str) -> Path:
    """The definition file of a journey id (or a path given directly)."""
    direct = Path(journey_id)
    if direct.suffix in (".yaml", ".yml") and direct.is_file():
        return direct
    definitions = _definitions(settings)
    for path, journey in definitions.items():
        if journey.id == journey_id or path.stem == journey_id:
            return path
    known = ", ".join(sorted(j.id for j in definitions.values())) or "none"
    raise JourneysError(f"no journey {journey_id!r} in {settings.definitions} (known: {known})")


def _definitions(settings: Settings) -> dict[Path, Journey]:
    """The valid journeys in the definitions folder (each file loaded once until it changes on disk)."""
    found: dict[Path, Journey] = {}
    for path in sorted(settings.definitions.glob("*.yaml")):
        stat = path.stat()
        journey = _valid_journey(path, settings.templates, stat.st_mtime_ns, stat.st_size)
        if journey is not None:
            found[path] = journey
    return found


@functools.lru_cache(maxsize=256)
def _valid_journey(path: Path, templates: Path, mtime_ns: int, size: int) -> Journey | None:
    """Loading and validating a definition costs tens of ms: `signal` must not pay it on every call."""
    from journeys.format.loader import load_journey

    journey, problems = load_journey(path, TemplateFiles(templates))
    return None if any(p.severity == "error" for p in problems) else journey


def _now() -> datetime:
    return datetime.now(timezone.utc)


# --- enrol ----------------------------------------------------------------------------------------


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
    """Enrol customers (respecting `entry`), idempotently: enrolling twice makes one run."""
    journey = published.journey
    if store.is_paused(journey.id):
        raise JourneysError(f"journey {journey.id!r} is paused: it enrols no one (journeys resume {journey.id})")
    store.save_version(journey.id, journey.version, published.source, published.hash, _now())
    gate = asyncio.Semaphore(PARALLEL)

    async def one(customer_id: str) -> Enrolment:
        async with gate:
            return await _enrol_one(client, store, settings, published, customer_id, trigger)

    return list(await asyncio.gather(*(one(c) for c in customer_ids)))


async def _enrol_one(
    client: Client, store: Store, settings: Settings, published: Published, customer_id: str, trigger: Event | None
) -> Enrolment:
    """Register the run in the store (deciding under the customer's lock: see `Store.register_run`), then
    start it. A run registered by an enrolment interrupted before it started the workflow is started by the
    next one; Temporal refuses a second start of a workflow id, so racing enrolments make one run."""
    journey = published.journey
    now = _now()

    def refusal(customer: Customer, past: list[PastRun]) -> str | None:
        return engine.enrolment_refusal(journey, customer, now, past)

    registration = await asyncio.to_thread(store.register_run, customer_id, journey.id, journey.version, now, refusal)
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
        customer_id=customer_id,
        entry=registration.entry,
        trigger=trigger,
        snapshot=snapshot,
        missed=sorted((e for e in snapshot.customer.events.values() if e.at >= since), key=lambda e: e.at),
    )
    for attempt in range(START_ATTEMPTS):
        try:
            await client.start_workflow(
                "Journey",
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


# --- signal ---------------------------------------------------------------------------------------


class RunEffect(BaseModel):
    journey: str
    workflow_id: str
    effect: Literal["exited", "advanced", "ignored", "started", "skipped", "cancelled"]
    reason: str | None = None


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
) -> SignalResult:
    """Record the event, deliver it to every live run at once, start journeys it triggers.

    Returns once every live run has taken the event in (workflow updates, not fire-and-forget signals)."""
    event = Event(id=event_id or uuid.uuid4().hex, name=name, data=data, at=_now())
    try:
        recorded = await asyncio.to_thread(store.record_event, customer_id, event)
    except StoreUnavailable as exc:  # it may have died during the commit: only the same id is safe to send again
        raise JourneysError(f"{exc}; if it was recorded, only the same id is safe: --id {event.id}") from None
    result = SignalResult(event_id=event.id, customer=customer_id, event=name, duplicate=not recorded)
    # A duplicate is delivered again: runs take an event id once, and this is how a delivery that an outage
    # interrupted is finished (run the same command again with the same --id).
    live = await asyncio.to_thread(store.live_runs, customer_id, journey_id)
    result.runs = list(
        await asyncio.gather(*(_deliver(client, run.workflow_id, run.journey_id, event) for run in live))
    )
    if not recorded:
        return result
    for path, journey in _definitions(settings).items():
        if journey.entry.trigger != name or (journey_id and journey.id != journey_id):
            continue
        if any(r.journey == journey.id for r in result.runs):
            continue
        (enrolment,) = await enroll(client, store, settings, publish(path), [customer_id], trigger=event)
        effect = "started" if enrolment.status == "started" else "skipped"
        result.runs.append(
            RunEffect(
                journey=journey.id, workflow_id=enrolment.workflow_id or "", effect=effect, reason=enrolment.reason
            )
        )
    return result


async def _deliver(client: Client, wid: str, journey_id: str, event: Event) -> RunEffect:
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
            effect = await _once_started(
                handle, lambda: handle.execute_update("deliver", event, id=f"deliver:{event.id}", result_type=str)
            )
        except NeverStarted:
            return ignored("the run was registered but never started (an interrupted enrolment: enroll again)")
        except WorkflowUpdateRPCTimeoutOrCancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():  # our own cancellation (Ctrl-C), not the server's deadline
                raise
            if loop.time() > deadline:
                raise JourneysError(
                    f"Temporal did not take event {event.id} to {wid} within {DELIVER_PATIENCE.total_seconds():g} s; "
                    f"the event is recorded: run the same command again with --id {event.id} to deliver it"
                ) from None
            continue
        except RPCError as exc:
            if exc.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION):  # the run ended meanwhile
                return ignored("run is no longer live")
            raise JourneysError(
                f"Temporal did not take event {event.id} to {wid} ({exc.status.name if exc.status else 'error'}); "
                f"the event is recorded: run the same command again with --id {event.id} to deliver it"
            ) from None
        except WorkflowUpdateFailedError:
            return ignored("run is no longer live")
        return RunEffect(journey=journey_id, workflow_id=wid, effect=effect)  # type: ignore[arg-type]


class NeverStarted(Exception):
    """The store has the run live, Temporal has never had it: its enrolment was interrupted before the start."""


async def _once_started(handle: WorkflowHandle[Any, Any], update: Callable[[], Awaitable[str]]) -> str:
    """`update()` on a run; one that is registered in the store but not yet in Temporal (its enrolment is
    about to start it: see `Store.register_run`) is waited for, up to UNSTARTED_PATIENCE."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + UNSTARTED_PATIENCE.total_seconds()
    while True:
        try:
            return await update()
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise
            running = await _running(handle)
            if running is False:
                raise  # NOT_FOUND of a run Temporal has closed: it ended
            if loop.time() > deadline:
                if running is None:
                    raise NeverStarted(handle.id) from None
                raise
            if running is None:  # not started yet; when running, it started since the update was refused
                await asyncio.sleep(0.05)


async def _running(handle: WorkflowHandle[Any, Any]) -> bool | None:
    """Whether Temporal has the run running (True), closed (False), or not at all (None)."""
    try:
        description = await handle.describe()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return None
        raise
    return description.status == WorkflowExecutionStatus.RUNNING


# --- status, cancel -------------------------------------------------------------------------------


async def status(client: Client, store: Store, customer_id: str) -> dict[str, Any]:
    """The whole picture of one customer: profile, consent, documents, runs, messages."""
    found = await asyncio.to_thread(store.customer_and_row, customer_id)
    if found is None:
        raise JourneysError(f"no customer {customer_id!r} in the store")
    row, customer = found
    runs = await asyncio.to_thread(store.runs_of, customer_id)
    live = await asyncio.gather(*(_query(client, r.workflow_id) for r in runs if r.outcome == "running"))
    fresh = {wid: s for wid, s in live if s is not None}
    result_runs = []
    for run in runs:
        query = fresh.get(run.workflow_id)
        messages = await asyncio.to_thread(store.messages_of_run, run.workflow_id)
        audits = await asyncio.to_thread(store.audits_of, run.workflow_id)
        result_runs.append(
            {
                "journey": run.journey_id,
                "version": run.version,
                "workflow_id": run.workflow_id,
                "entry": run.entry,
                "started_at": run.started_at,
                "ended_at": run.ended_at,
                "outcome": query.outcome if query else run.outcome,
                "exit_event": query.exit_event if query else run.exit_event,
                "end_label": query.end_label if query else run.end_label,
                "current_step": query.current_step if query else run.current_step,
                "waiting_for": query.waiting_for if query else (run.waiting_for or []),
                "until": query.until if query else run.until,
                "failure": run.failure,
                "changes": [
                    {
                        "kind": a.kind,
                        "at": a.at,
                        "by": a.by,
                        "reason": a.reason,
                        "from_step": a.from_step,
                        "to_step": a.to_step,
                        "from_version": a.from_version,
                        "to_version": a.to_version,
                    }
                    for a in audits
                ],
                "messages": [
                    {
                        "at": m.created_at,
                        "step": m.step,
                        "channel": m.channel,
                        "to": m.recipient,
                        "status": m.status,
                        "subject": m.subject,
                        "body": m.body,
                        "error": m.error,
                    }
                    for m in messages
                ],
            }
        )
    return {
        "customer": {
            "id": row.id,
            "name": row.name,
            "email": row.email,
            "phone": row.phone,
            "locale": row.locale,
            "timezone": row.timezone,
            "attributes": row.attributes,
            "tags": row.tags,
            "consent": row.consent,
            "documents": customer.documents if customer else {},
        },
        "runs": result_runs,
    }


async def _query(client: Client, wid: str) -> tuple[str, RunStatus | None]:
    try:
        return wid, await client.get_workflow_handle(wid).query("status", result_type=RunStatus)
    except Exception:  # a run that ended or a worker that is down: the store's record stands
        return wid, None


async def settle(client: Client, wid: str, timeout: float = 30.0) -> RunStatus:
    """Wait until a run has acted on what it received (it waits again, or ended). For tests and simulation."""
    handle = client.get_workflow_handle(wid)
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        status = await handle.query("status", result_type=RunStatus)
        if status.idle or asyncio.get_running_loop().time() > deadline:
            return status
        await asyncio.sleep(0.02)


async def cancel(client: Client, store: Store, customer_id: str, journey_id: str | None) -> list[RunEffect]:
    live = await asyncio.to_thread(store.live_runs, customer_id, journey_id)

    async def one(wid: str, jid: str) -> RunEffect:
        handle: WorkflowHandle[Any, Any] = client.get_workflow_handle(wid)
        try:
            effect = await _once_started(handle, lambda: handle.execute_update("cancel", "support", result_type=str))
        except NeverStarted:  # ended in the store, so that no later enrolment starts it
            effect = "cancelled" if await asyncio.to_thread(store.cancel_unstarted, wid, _now()) else "ignored"
        except (RPCError, WorkflowUpdateFailedError):
            effect = "ignored"
        return RunEffect(journey=jid, workflow_id=wid, effect=effect)  # type: ignore[arg-type]

    return list(await asyncio.gather(*(one(r.workflow_id, r.journey_id) for r in live)))


# --- changing live runs ---------------------------------------------------------------------------


def _who(by: str | None) -> str:
    return by or os.environ.get("USER") or os.environ.get("USERNAME") or "unknown"


class Moved(BaseModel):
    customer: str
    journey: str
    workflow_id: str
    from_step: str | None
    to_step: str
    by: str
    reason: str
    at: datetime


async def move(
    client: Client, store: Store, customer_id: str, journey_id: str, to_step: str, reason: str, by: str | None
) -> Moved:
    """Put one live run at a step now; the audit trail keeps who, when, why, from and to."""
    live = await asyncio.to_thread(store.live_runs, customer_id, journey_id)
    if not live:
        raise JourneysError(f"{customer_id} has no live run of {journey_id}")
    run = live[0]
    try:
        change = await client.get_workflow_handle(run.workflow_id).execute_update(
            "move", MoveRequest(to_step=to_step), result_type=Change
        )
    except WorkflowUpdateFailedError as exc:
        raise JourneysError(f"cannot move {run.workflow_id}: {_cause(exc)}") from None
    moved = Moved(
        customer=customer_id,
        journey=journey_id,
        workflow_id=run.workflow_id,
        from_step=change.from_step,
        to_step=to_step,
        by=_who(by),
        reason=reason,
        at=_now(),
    )
    audit = RunAuditRow(
        workflow_id=run.workflow_id,
        kind="move",
        at=moved.at,
        by=moved.by,
        reason=reason,
        from_step=change.from_step,
        to_step=to_step,
        from_version=change.from_version,
        to_version=change.to_version,
    )
    await asyncio.to_thread(store.record_audit, audit)
    return moved


def _cause(exc: BaseException) -> str:
    cause = exc.__cause__ or exc
    return str(getattr(cause, "message", None) or cause)


class MigrationPlan(BaseModel):
    journey: str
    to_version: int
    dry_run: bool
    moves: list[dict[str, Any]] = Field(default_factory=list)  # {from_version, from_step, to_step, runs}
    unmapped: list[dict[str, Any]] = Field(default_factory=list)  # {from_version, step, runs}
    migrated: int = 0
    failed: list[dict[str, str]] = Field(default_factory=list)


async def migrate(
    client: Client,
    store: Store,
    settings: Settings,
    journey_id: str,
    to_version: int,
    step_map: dict[str, str],
    dry_run: bool,
    by: str | None = None,
) -> MigrationPlan:
    """Move live runs of older versions onto `to_version`; refuse while a step with runs is unmapped."""
    published = publish(find_journey(settings, journey_id))
    new = published.journey
    if new.version != to_version:
        raise JourneysError(
            f"{find_journey(settings, journey_id)} is version {new.version}: publish version {to_version} there first"
        )
    for old, target in step_map.items():
        if target not in {s.id for s in new.steps}:
            raise JourneysError(f"--map {old}={target}: version {to_version} has no step {target!r}")
    runs = [r for r in await asyncio.to_thread(store.live_runs_of_journey, new.id) if r.version < to_version]
    statuses = dict(await asyncio.gather(*(_query(client, r.workflow_id) for r in runs)))
    groups: dict[tuple[int, str], list[str]] = {}
    for run in runs:
        status = statuses.get(run.workflow_id)
        step = (status.current_step if status else None) or run.current_step or "?"
        groups.setdefault((run.version, step), []).append(run.workflow_id)
    plan = MigrationPlan(journey=new.id, to_version=to_version, dry_run=dry_run)
    new_steps = {s.id for s in new.steps}
    for (version, step), wids in sorted(groups.items()):
        target = step_map.get(step, step)
        if target in new_steps:
            plan.moves.append({"from_version": version, "from_step": step, "to_step": target, "runs": len(wids)})
        else:
            plan.unmapped.append({"from_version": version, "step": step, "runs": len(wids)})
    if dry_run or plan.unmapped:
        return plan
    store.save_version(new.id, new.version, published.source, published.hash, _now())
    request = MigrateRequest(journey=new, templates=published.templates, step_map=step_map)
    gate = asyncio.Semaphore(PARALLEL)

    async def one(wid: str) -> None:
        async with gate:
            try:
                change = await client.get_workflow_handle(wid).execute_update("migrate", request, result_type=Change)
            except (RPCError, WorkflowUpdateFailedError) as exc:
                plan.failed.append({"workflow_id": wid, "reason": _cause(exc)})
                return
            plan.migrated += 1
            audit = RunAuditRow(
                workflow_id=wid,
                kind="migrate",
                at=_now(),
                by=_who(by),
                reason=f"migrated to version {to_version}",
                from_step=change.from_step,
                to_step=change.to_step,
                from_version=change.from_version,
                to_version=change.to_version,
            )
            await asyncio.to_thread(store.record_audit, audit)
            await asyncio.to_thread(store.update_run, wid, version=to_version, current_step=change.to_step)

    await asyncio.gather(*(one(wid) for wids in groups.values() for wid in wids))
    return plan


async def set_paused(client: Client, store: Store, settings: Settings, journey_id: str, paused: bool) -> int:
    """Pause (enrol no one, send nothing) or resume a journey; on resume, held sends are woken. Returns live runs."""
    journey = publish(find_journey(settings, journey_id)).journey
    await asyncio.to_thread(store.set_paused, journey.id, paused, _now())
    live = await asyncio.to_thread(store.live_runs_of_journey, journey.id)
    if not paused:
        gate = asyncio.Semaphore(PARALLEL)

        async def wake(wid: str) -> None:
            async with gate:
                try:
                    await client.get_workflow_handle(wid).execute_update("resume", result_type=str)
                except (RPCError, WorkflowUpdateFailedError):
                    pass  # ended meanwhile: nothing to wake

        await asyncio.gather(*(wake(r.workflow_id) for r in live))
    return len(live)
