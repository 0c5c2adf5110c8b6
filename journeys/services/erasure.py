"""Erasure (the right to be forgotten): end the customer's live runs, delete their workflow histories from
Temporal, remove their personal data from the store, and leave an audit entry without personal data.

The order matters. Temporal first: every live run is cancelled (as `journeys cancel` does) and waited for until
it has closed, so no activity of it writes to the store afterwards; then Temporal is asked to delete every
execution under each of the customer's workflow ids (a run that continued as new has several). Temporal
accepts a deletion durably and carries it out itself: a run it closed moments ago goes once its close has
been processed (the server's `history.transferProcessorUpdateAckInterval`, 30 s by default, 1 s under
`journeys dev`); `forget` waits up to `patience` for the executions to be gone and counts those still there
as pending. Only then does the store forget the customer, in one transaction (`Store.erase_customer`).
Should Temporal refuse or fail half way, the store still has everything and the same command again finishes
the work. A run enrolled meanwhile is found by the store's transaction, which then changes nothing: that run
is ended and deleted too, and the store tried again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import DeleteWorkflowExecutionRequest
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from journeys.errors import InputError, JourneysError
from journeys.services.control import cancel_runs, who
from journeys.services.shared import PARALLEL, utc_now
from journeys.services.status import unknown_customer
from journeys.store import RunRow, Store, UnsettledRuns
from journeys.store.erasure import PersonalText

PATIENCE = 60.0  # seconds given to a cancelled run to close, and to Temporal to carry out the deletions
ATTEMPTS = 3  # store transactions tried while runs keep being enrolled meanwhile


class ErasedRun(BaseModel):
    journey: str
    workflow_id: str  # as it was: the store no longer knows it
    effect: Literal["cancelled", "ended", "terminated"]  # ended: before the erasure; terminated: by the deletion
    histories: int  # executions Temporal held under the workflow id (0: it never started there)
    deleted: bool  # they are gone from Temporal (False: accepted for deletion, not yet carried out)


class Erasure(BaseModel):
    """What `forget` did: who, when, why, and counts of what was removed (no personal data)."""

    customer: str
    at: datetime
    by: str
    reason: str
    runs: list[ErasedRun] = Field(default_factory=list)
    removed: dict[str, int] = Field(default_factory=dict)  # the store's counts, and Temporal's histories


def check(store: Store, customer_id: str, reason: str) -> None:
    """Refuse, in one line, an unknown customer, an empty reason, or a reason that names the customer."""
    if not reason.strip():
        raise InputError("--reason must say why the customer is erased")
    row = store.customer_row(customer_id)
    if row is None:
        raise JourneysError(unknown_customer(store, customer_id))
    if PersonalText(row).find(reason) is not None:
        raise InputError("--reason names the customer (their name, email or phone): the audit keeps no personal data")


async def forget(
    client: Client, store: Store, customer_id: str, reason: str, by: str | None = None, patience: float = PATIENCE
) -> Erasure:
    """Erase the customer (see the module's docstring)."""
    await asyncio.to_thread(check, store, customer_id, reason)
    by = who(by)
    done: dict[str, ErasedRun] = {}
    executions: dict[str, list[str]] = {}
    for attempt in range(ATTEMPTS):
        runs = [r for r in await asyncio.to_thread(store.runs_of, customer_id) if r.workflow_id not in done]
        try:
            ended = await _end_and_delete(client, store, runs, patience)
            for run, effect, run_ids in ended:
                executions[run.workflow_id] = run_ids
                done[run.workflow_id] = ErasedRun(
                    journey=run.journey_id,
                    workflow_id=run.workflow_id,
                    effect=effect,
                    histories=len(run_ids),
                    deleted=True,
                )
            pending = await await_deleted(client, executions, patience)
        except RPCError as exc:
            raise JourneysError(
                f"Temporal failed while erasing {customer_id!r} ({exc.message}): nothing was removed from the store "
                "yet; run the command again"
            ) from None
        for wid in pending:
            done[wid].deleted = False
        at = utc_now()
        details = {
            "temporal_histories": sum(r.histories for r in done.values()),
            "temporal_pending": sum(r.histories for r in done.values() if not r.deleted),
        }
        try:
            counts = await asyncio.to_thread(
                store.erase_customer, customer_id, by=by, reason=reason, at=at, settled=set(done), details=details
            )
        except UnsettledRuns:
            if attempt == ATTEMPTS - 1:
                raise
            continue
        return Erasure(
            customer=customer_id,
            at=at,
            by=by,
            reason=reason,
            runs=sorted(done.values(), key=lambda r: r.workflow_id),
            removed={**counts.counts(), **details},
        )
    raise AssertionError("unreachable")


async def _end_and_delete(
    client: Client, store: Store, runs: Sequence[RunRow], patience: float
) -> list[tuple[RunRow, str, list[str]]]:
    """Cancel the live runs, wait for them to close, ask Temporal to delete every execution of every run."""
    live = [r for r in runs if r.outcome == "running"]
    effects: dict[str, str] = {}
    if live:
        try:
            ended = await asyncio.wait_for(cancel_runs(client, store, live), patience)
            effects = {e.workflow_id: e.effect for e in ended}
        except TimeoutError:  # no worker takes the cancel: the deletion terminates the runs
            effects = {r.workflow_id: "terminated" for r in live}
    gate = asyncio.Semaphore(PARALLEL)

    async def one(run: RunRow) -> tuple[RunRow, str, list[str]]:
        async with gate:
            effect = effects.get(run.workflow_id, "ended")
            if effect == "cancelled":
                await _closed(client, run.workflow_id, patience)  # its last report reaches the store first
            elif effect != "terminated":
                effect = "ended"  # it had ended before (the cancel was ignored)
            return run, effect, await request_deletion(client, run.workflow_id)

    return list(await asyncio.gather(*(one(r) for r in runs)))


async def _closed(client: Client, wid: str, patience: float) -> bool:
    """Wait until the run has closed (or Temporal has no such run); False when it is still running."""
    handle = client.get_workflow_handle(wid)
    deadline = asyncio.get_running_loop().time() + patience
    while True:
        try:
            if (await handle.describe()).status != WorkflowExecutionStatus.RUNNING:
                return True
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                return True
            raise
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.05)


async def request_deletion(client: Client, wid: str) -> list[str]:
    """Ask Temporal to delete every execution it holds under the workflow id (a running one is terminated);
    the run ids asked for. A refusal raises, in one line."""
    run_ids = await executions_of(client, wid)
    for run_id in run_ids:
        request = DeleteWorkflowExecutionRequest(
            namespace=client.namespace, workflow_execution=WorkflowExecution(workflow_id=wid, run_id=run_id)
        )
        try:
            await client.workflow_service.delete_workflow_execution(request)
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise JourneysError(
                    f"Temporal refused to delete {wid} ({exc.message}): nothing was removed from the store yet"
                ) from None
    return run_ids


async def await_deleted(client: Client, executions: dict[str, list[str]], patience: float) -> set[str]:
    """Wait until Temporal holds none of these executions, up to `patience`; the workflow ids still there."""
    deadline = asyncio.get_running_loop().time() + patience
    waiting = {wid for wid, run_ids in executions.items() if run_ids}
    while waiting:
        order = sorted(waiting)
        held = await asyncio.gather(*(_holds(client, wid, executions[wid]) for wid in order))
        waiting = {wid for wid, still in zip(order, held, strict=True) if still}
        if not waiting or asyncio.get_running_loop().time() > deadline:
            break
        await asyncio.sleep(0.2)
    return waiting


async def _holds(client: Client, wid: str, run_ids: list[str]) -> bool:
    """Whether Temporal still describes any of the executions, or lists any under the workflow id."""
    for run_id in run_ids:
        try:
            await client.get_workflow_handle(wid, run_id=run_id).describe()
            return True
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise
    return bool(await _listed(client, wid))


async def executions_of(client: Client, wid: str) -> list[str]:
    """The run ids Temporal holds under `wid`: the newest, and every one it continued from (each execution's
    first event names the one before), plus any the visibility store lists."""
    found: list[str] = []
    run_id: str | None = None
    while True:
        try:
            description = await client.get_workflow_handle(wid, run_id=run_id).describe()
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                break
            raise
        if description.run_id in found:
            break
        found.append(description.run_id)
        run_id = await _continued_from(client, wid, description.run_id)
        if not run_id:
            break
    return found + [r for r in await _listed(client, wid) if r not in found]


async def _continued_from(client: Client, wid: str, run_id: str) -> str | None:
    handle = client.get_workflow_handle(wid, run_id=run_id)
    async for event in handle.fetch_history_events(page_size=1):
        return event.workflow_execution_started_event_attributes.continued_execution_run_id or None
    return None


async def _listed(client: Client, wid: str) -> list[str]:
    """What the visibility store lists under `wid` (best effort: a server without visibility lists nothing)."""
    quoted = wid.replace("\\", "\\\\").replace("'", "\\'")
    try:
        return [e.run_id async for e in client.list_workflows(f"WorkflowId = '{quoted}'")]
    except RPCError:
        return []
