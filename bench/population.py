"""The runs a runtime benchmark works on: journey runs waiting for an event, and bare workflows waiting for
a signal, made through the same code paths as `journeys enroll --all` and a plain `start_workflow`."""

from __future__ import annotations

import asyncio
import random
import time

from bench.baseline import start_bare
from bench.cluster import Cluster
from bench.console import say
from bench.tally import Ran, reached
from journeys.engine.runs import workflow_id
from journeys.services.enrolment import enroll
from journeys.services.shared import PARALLEL

BATCH = 2_000  # customers per `enroll` call while filling up
SETTLE_S_PER_RUN = 0.5  # a generous bound on how long one run may take to reach its first wait


class Population:
    def __init__(self, cluster: Cluster, seed: int = 7) -> None:
        self.cluster = cluster
        self.random = random.Random(seed)
        self.customers = 0  # customers made so far (c0, c1, ...); each has one run
        self.waiting: list[str] = []  # customers whose run is waiting for `registered` (or its timeout, in days)
        self.bare = 0  # bare workflows started so far
        self.bare_waiting: list[str] = []  # ids of bare workflows waiting for their `finish` signal

    async def enrol(self, count: int) -> float:
        """Enrol `count` new customers in the modem swap; seconds until each has its first message sent."""
        ids = [f"c{n}" for n in range(self.customers, self.customers + count)]
        self.customers += count
        cluster = self.cluster
        await asyncio.to_thread(cluster.add_customers, ids)
        began = time.perf_counter()
        enrolments = await enroll(cluster.client, cluster.store, cluster.settings, cluster.published, ids)
        refused = [e for e in enrolments if e.status != "started"]
        if refused:
            raise RuntimeError(f"{len(refused)} customers were not enrolled, e.g. {refused[0]}")
        await cluster.wait_for_sent(ids, timeout=60 + count * SETTLE_S_PER_RUN)
        self.waiting += ids
        return time.perf_counter() - began

    async def start_bare(self, count: int, *, wait: bool) -> float:
        """Start `count` bare workflows as `enroll` starts runs; seconds until each ran its no-op activity."""
        ids = [f"bare-{n}" for n in range(self.bare, self.bare + count)]
        self.bare += count
        target = Ran.count + count
        gate = asyncio.Semaphore(PARALLEL)

        async def one(wid: str) -> None:
            async with gate:
                await start_bare(self.cluster.client, wid, wait=wait)

        began = time.perf_counter()
        await asyncio.gather(*(one(wid) for wid in ids))
        deadline = began + 60 + count * SETTLE_S_PER_RUN
        await reached(Ran, target, deadline, "bare workflows never ran their activity", every=0.02)
        if wait:
            self.bare_waiting += ids
        return time.perf_counter() - began

    async def fill(self, journeys: int, bare: int = 0) -> None:
        """Until `journeys` runs and `bare` bare workflows are waiting."""
        began, start = time.perf_counter(), len(self.waiting)
        while len(self.waiting) < journeys:
            await self.enrol(min(BATCH, journeys - len(self.waiting)))
            if journeys - start > BATCH:
                rate = (len(self.waiting) - start) / (time.perf_counter() - began)
                left = (journeys - len(self.waiting)) / rate
                say(f"{len(self.waiting):,} runs waiting ({rate:.0f}/s, {left:.0f} s to go)")
        if len(self.bare_waiting) < bare:
            await self.start_bare(bare - len(self.bare_waiting), wait=True)

    def take(self) -> str:
        """A waiting customer chosen at random (recent and old runs alike), no longer counted as waiting."""
        return _take(self.waiting, self.random)

    def take_bare(self) -> str:
        return _take(self.bare_waiting, self.random)

    def pick(self) -> str:
        """A waiting customer chosen at random; it stays waiting."""
        return self.random.choice(self.waiting)

    def workflow_id(self, customer_id: str) -> str:
        return workflow_id(self.cluster.published.journey.id, customer_id, 1)


def _take(items: list[str], rng: random.Random) -> str:
    index = rng.randrange(len(items))
    items[index], items[-1] = items[-1], items[index]
    return items.pop()
