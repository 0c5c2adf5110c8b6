"""What the services share: the clock they stamp records with, how many client calls they keep in flight,
what an action did to a run, and an update that waits for a registered run's enrolment to start it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

from pydantic import BaseModel
from temporalio.client import WorkflowExecutionStatus, WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode

PARALLEL = 64  # client calls in flight at once
UNSTARTED_PATIENCE = timedelta(seconds=30)  # how long it waits for a registered run's enrolment to start it


def utc_now() -> datetime:
    """The time now, in UTC: what the services stamp events, versions and audits with."""
    return datetime.now(timezone.utc)


class RunEffect(BaseModel):
    """What an event or a cancel did to one run."""

    journey: str
    workflow_id: str
    effect: Literal["exited", "advanced", "ignored", "started", "skipped", "cancelled"]
    reason: str | None = None


class NeverStarted(Exception):
    """The store has the run live, Temporal has never had it: its enrolment was interrupted before the start."""


async def once_started(handle: WorkflowHandle[Any, Any], update: Callable[[], Awaitable[str]]) -> str:
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
