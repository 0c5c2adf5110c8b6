"""Background loops that run beside a worker (`journeys worker`, `journeys dev`): each job is a pass called
again and again, `INTERVAL` apart, until the worker stops (Ctrl-C, SIGTERM), which cancels a pass where it is.

Every job is stateless as far as the store is concerned and idempotent, so any number of workers run them
side by side. A pass that fails (the store or Temporal away for a moment) is logged and tried again at the
next interval: a loop never takes the worker down. The jobs: continuous entry, and the deliverer, which
delivers the events journeys still owes to runs (recorded while Temporal did not answer, or by a process that
died before delivering them); a new job is one more entry in `worker_jobs`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

from temporalio.client import Client

from journeys.runtime.logs import get_logger
from journeys.services.continuous import Enroller
from journeys.services.delivery import deliver_pending
from journeys.settings import Settings
from journeys.store import Store

log = get_logger(__name__)

INTERVAL = 1.0  # seconds between the end of one pass and the start of the next

Job = Callable[[], Awaitable[Any]]


def worker_jobs(client: Client, store: Store, settings: Settings) -> dict[str, Job]:
    """The loops a worker runs, by name."""
    enroller = Enroller(client, store, settings)

    async def continuous_entry() -> None:
        for done in await enroller.run_once():
            if done.enrolled:
                log.info("entry.enrolled", journey=done.journey, enrolled=done.enrolled, changed=done.changed)

    async def delivery() -> None:
        delivered = await deliver_pending(client, store, settings)
        if delivered:
            log.info("deliverer.delivered", events=delivered)

    return {"continuous-entry": continuous_entry, "delivery": delivery}


async def _loop(name: str, job: Job, interval: float) -> None:
    while True:
        try:
            await job()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - logged and tried again: a loop never takes the worker down
            log.warning("background.failed", job=name, error=f"{type(exc).__name__}: {exc}")
        await asyncio.sleep(interval)


@asynccontextmanager
async def background(jobs: Mapping[str, Job], interval: float = INTERVAL) -> AsyncIterator[list[asyncio.Task[None]]]:
    """Run each job in its loop while the block runs (`worker_jobs` gives a worker's); stop them when it ends."""
    tasks = [asyncio.create_task(_loop(name, job, interval), name=name) for name, job in jobs.items()]
    try:
        yield tasks
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
