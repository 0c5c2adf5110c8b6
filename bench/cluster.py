"""The runtime benchmarks' machine: a Temporal dev server started here with its state in a database file and
the settings `journeys dev` gives it, a SQLite store in a temp dir, the journey worker and the baseline
worker, all in this process, as `journeys dev` runs them (payloads encrypted with a key made for the run;
the baseline's go through the same client and codec).

Customers live in a zone where it is early afternoon now, so the modem swap's quiet hours never hold the
first message back, whatever time of day the benchmark runs.
"""

from __future__ import annotations

import asyncio
import tempfile
import uuid
import zlib
from collections.abc import AsyncIterator, Iterable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import distinct, select
from temporalio.client import Client
from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter
from temporalio.testing import WorkflowEnvironment

from bench.baseline import bare_worker
from journeys.format.customers import Profile
from journeys.runtime.codec import configured_keys, data_converter
from journeys.runtime.embedded import DEV_SERVER_ARGS
from journeys.runtime.temporal import binary, build_worker
from journeys.services.catalogue import Published, publish
from journeys.settings import Settings
from journeys.store import MessageRow, Store

DEFINITIONS = Path(__file__).resolve().parents[1] / "definitions"
JOURNEY = DEFINITIONS / "modem_swap.yaml"
POLL_S = 0.05  # how often the bench asks the store who has had their first message


@dataclass
class Cluster:
    client: Client
    store: Store
    settings: Settings
    published: Published

    def add_customers(self, ids: Iterable[str]) -> None:
        zone = afternoon_zone()
        self.store.upsert_customers(
            Profile(
                id=cid,
                name=f"Customer {cid}",
                email=f"{cid}@example.com",
                phone=f"+98912{zlib.crc32(cid.encode()) % 10_000_000:07d}",
                locale="en",
                timezone=zone,
                attributes={"plan": "wimax", "wimax_id": f"W-{cid}"},
            )
            for cid in ids
        )

    def sent_among(self, ids: list[str]) -> set[str]:
        """Which of these customers have a sent message (an indexed lookup each)."""
        table = MessageRow.__table__  # type: ignore[attr-defined]
        query = select(distinct(table.c.customer_id)).where(table.c.customer_id.in_(ids), table.c.status == "sent")
        with self.store.engine.connect() as connection:
            return set(connection.execute(query).scalars())

    async def wait_for_sent(self, ids: list[str], timeout: float) -> None:
        """Until each of these customers has a sent message in the outbox, asking only about those who had none
        yet, every 50 ms. (The bare baseline counts in memory; asking about all 2,000 of a batch every 20 ms
        took about an eighth of a core from the worker it measures.)"""
        deadline = asyncio.get_running_loop().time() + timeout
        left = set(ids)
        while left := left - await asyncio.to_thread(self.sent_among, sorted(left)):
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"{len(left)} of {len(ids)} customers had no message sent after {timeout:.0f} s")
            await asyncio.sleep(POLL_S)


def afternoon_zone(now: datetime | None = None) -> str:
    """A fixed-offset zone in which it is about 13:00 now (Etc/GMT signs are inverted: Etc/GMT-3 is UTC+3)."""
    hour = (now or datetime.now(timezone.utc)).hour
    offset = 13 - hour
    offset = offset - 24 if offset > 14 else offset
    return "Etc/UTC" if offset == 0 else f"Etc/GMT{-offset:+d}"


@asynccontextmanager
async def cluster() -> AsyncIterator[Cluster]:
    with tempfile.TemporaryDirectory(prefix="journeys-bench-") as folder:
        settings = Settings(
            data_dir=Path(folder),
            definitions=DEFINITIONS,
            task_queue=f"bench-{uuid.uuid4().hex[:8]}",
            database_url=f"sqlite:///{Path(folder) / 'journeys.db'}",
        )
        keys = configured_keys(settings, create=True)  # as `journeys dev`: payloads encrypted in Temporal
        settings = settings.model_copy(update={"encryption_key": keys})
        store = Store.open(settings.store_url)
        try:
            async with AsyncExitStack() as stack:
                env = await WorkflowEnvironment.start_local(
                    data_converter=data_converter(keys),
                    dev_server_existing_path=binary("temporal"),
                    dev_server_database_filename=str(Path(folder) / "temporal.db"),
                    dev_server_log_level="never",
                    dev_server_extra_args=DEV_SERVER_ARGS,
                    runtime=_quiet_runtime(),
                )
                stack.push_async_callback(env.shutdown)
                await stack.enter_async_context(build_worker(env.client, settings, store))
                bare = bare_worker(env.client, settings.workflow_cache, settings.workflow_sandbox)
                await stack.enter_async_context(bare)
                yield Cluster(env.client, store, settings, publish(JOURNEY))
        finally:
            store.close()


def _quiet_runtime() -> Runtime:
    """The SDK's own log at ERROR: a loaded worker warns of every slow workflow task, which the figures show."""
    return Runtime(telemetry=TelemetryConfig(logging=LoggingConfig(filter=TelemetryFilter("ERROR", "ERROR"))))
