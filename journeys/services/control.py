"""Live control: cancel, move and migrate runs, pause and resume a journey (each change audited), and wait
for a run to settle."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.service import RPCError

from journeys.engine import listening
from journeys.engine.listening import Listens
from journeys.engine.runs import Change, MigrateRequest, MoveRequest, RunStatus
from journeys.errors import JourneysError
from journeys.format.customers import Event
from journeys.services.catalogue import find_journey, publish
from journeys.services.shared import PARALLEL, NeverStarted, RunEffect, once_started, utc_now
from journeys.services.status import query_status
from journeys.settings import Settings
from journeys.store import RunAuditRow, RunRow, Store
from journeys.store.base import utc


async def settle(client: Client, wid: str, timeout: float = 30.0) -> RunStatus:
    """Wait until a run has acted on what it received (it waits again, or ended). For tests and simulation."""
    handle = client.get_workflow_handle(wid)
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        status = await handle.query("status", result_type=RunStatus)
        if status.idle or asyncio.get_running_loop().time() > deadline:
            return status
        await asyncio.sleep(0.02)


class Cancelled(BaseModel):
    """What `journeys cancel` did: each live run's effect, and who cancelled, when and why (kept in the audit
    trail of every run it ended)."""

    customer: str
    by: str
    reason: str
    at: datetime
    runs: list[RunEffect]


async def cancel(
    client: Client, store: Store, customer_id: str, journey_id: str | None, reason: str, by: str | None = None
) -> Cancelled:
    """End the customer's live runs (of one journey, or all); each run it ended keeps a `cancel` audit entry."""
    if not reason.strip():
        raise JourneysError("--reason is required: say why (it is kept in the audit trail)")
    live = await asyncio.to_thread(store.live_runs, customer_id, journey_id)
    effects = await cancel_runs(client, store, live)
    done = Cancelled(customer=customer_id, by=who(by), reason=reason, at=utc_now(), runs=effects)
    for effect in effects:
        if effect.effect == "cancelled":
            audit = RunAuditRow(workflow_id=effect.workflow_id, kind="cancel", at=done.at, by=done.by, reason=reason)
            await asyncio.to_thread(store.record_audit, audit)
    return done


async def cancel_runs(client: Client, store: Store, live: Sequence[RunRow]) -> list[RunEffect]:
    """End these runs with outcome `cancelled` (a run registered but never started is ended in the store)."""

    async def one(wid: str, jid: str) -> RunEffect:
        handle: WorkflowHandle[Any, Any] = client.get_workflow_handle(wid)
        try:
            effect = await once_started(handle, lambda: handle.execute_update("cancel", "support", result_type=str))
        except NeverStarted:  # ended in the store, so that no later enrolment starts it
            effect = "cancelled" if await asyncio.to_thread(store.cancel_unstarted, wid, utc_now()) else "ignored"
        except (RPCError, WorkflowUpdateFailedError):
            effect = "ignored"
        else:
            if effect == "cancelled":  # the run took it; ended in the store now, no send of it is reserved after
                await asyncio.to_thread(store.record_cancel, wid, utc_now())
        return RunEffect(journey=jid, workflow_id=wid, effect=effect)  # type: ignore[arg-type]

    return list(await asyncio.gather(*(one(r.workflow_id, r.journey_id) for r in live)))


def who(by: str | None) -> str:
    """Who did it: `--by`, or the user running the command."""
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
        by=who(by),
        reason=reason,
        at=utc_now(),
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
    statuses = dict(await asyncio.gather(*(query_status(client, r.workflow_id) for r in runs)))
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
    store.save_version(new.id, new.version, published.source, published.hash, utc_now())
    request = MigrateRequest(journey=new, templates=published.templates, step_map=step_map)
    gate = asyncio.Semaphore(PARALLEL)
    rows = {r.workflow_id: r for r in runs}

    async def one(wid: str) -> None:
        async with gate:
            missed = await asyncio.to_thread(_unheard, store, rows[wid], published.listens)
            asked = request.model_copy(update={"missed": missed}) if missed else request
            try:
                change = await client.get_workflow_handle(wid).execute_update("migrate", asked, result_type=Change)
            except (RPCError, WorkflowUpdateFailedError) as exc:
                plan.failed.append({"workflow_id": wid, "reason": _cause(exc)})
                return
            plan.migrated += 1
            audit = RunAuditRow(
                workflow_id=wid,
                kind="migrate",
                at=utc_now(),
                by=who(by),
                reason=f"migrated to version {to_version}",
                from_step=change.from_step,
                to_step=change.to_step,
                from_version=change.from_version,
                to_version=change.to_version,
            )
            await asyncio.to_thread(store.record_audit, audit)
            await asyncio.to_thread(
                store.update_run, wid, version=to_version, current_step=change.to_step, listens=published.listens
            )

    await asyncio.gather(*(one(wid) for wids in groups.values() for wid in wids))
    return plan


def _unheard(store: Store, run: RunRow, listens: Listens) -> list[Event]:
    """The events since the run began that the new version acts on and the old one was not given (delivery
    asks the run's `listens`): handed to the run with its migration, as if it had heard them then. The run
    hears both versions' events from here on, so none recorded meanwhile falls between the two."""
    if not listening.more(run.listens, listens):
        return []
    store.update_run(run.workflow_id, listens=listening.union(run.listens, listens))
    return [
        Event(id=row.id, name=row.name, data=row.data, at=utc(row.at))
        for row in sorted(store.event_rows_of(run.customer_id), key=lambda row: utc(row.recorded_at))
        if utc(row.recorded_at) >= utc(run.started_at)
        and row.only_journey in (None, run.journey_id)
        and listening.hears(listens, row.name)
        and not listening.hears(run.listens, row.name)
    ]


async def set_paused(client: Client, store: Store, settings: Settings, journey_id: str, paused: bool) -> int:
    """Pause (enrol no one, send nothing) or resume a journey; on resume, held sends are woken. Returns live runs."""
    journey = publish(find_journey(settings, journey_id)).journey
    await asyncio.to_thread(store.set_paused, journey.id, paused, utc_now())
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
