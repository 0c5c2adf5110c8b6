"""The deliverer: beside every worker, it delivers the events journeys still owes to runs (recorded while
Temporal did not answer, or by a process that died before delivering them), so no event is lost between the
store and the runs. Stateless: several workers may run it at once, since a run takes an event id once."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta

from temporalio.client import Client

from journeys.runtime.logs import get_logger
from journeys.services.delivery import deliver_pending
from journeys.settings import Settings
from journeys.store import Store

log = get_logger(__name__)
EVERY = timedelta(seconds=1)  # how often it looks for owed events
PATIENCE = timedelta(seconds=10)  # the longest pause between tries while Temporal or the store does not answer


async def deliver_forever(client: Client, store: Store, settings: Settings) -> None:
    """Deliver owed events every EVERY; while delivering fails, try again less often, up to every PATIENCE."""
    pause = EVERY
    while True:
        try:
            delivered = await deliver_pending(client, store, settings)
        except Exception as exc:  # Temporal or the store not answering: the events stay owed, nothing is lost
            log.warning("deliverer.waiting", reason=type(exc).__name__, retry_in_s=pause.total_seconds())
            pause = min(pause * 2, PATIENCE)
        else:
            if delivered:
                log.info("deliverer.delivered", events=delivered)
            pause = EVERY
        await asyncio.sleep(pause.total_seconds())


@contextlib.asynccontextmanager
async def delivering(client: Client, store: Store, settings: Settings) -> AsyncIterator[None]:
    """Run the deliverer while the block runs."""
    task = asyncio.create_task(deliver_forever(client, store, settings), name="journeys-deliverer")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
