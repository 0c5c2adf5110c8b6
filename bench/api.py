"""The HTTP API as an external system uses it: the app served by uvicorn on loopback (`http_server`, as
`journeys serve` serves it), one httpx client with keep-alive posting to it, on the dev server, worker and
store of `bench.cluster`, all in this process.

- Ingest: events through `POST /v1/events:batch` (1,000 per request, one request after the other), half of
  them for customers whose modem-swap run waits, half for customers without a run, against the same number
  of events sent as Temporal signals from one client to bare waiting workflows (`Bare.nudge`). The event,
  `page_viewed`, is one the modem swap names nowhere: recorded, and answered `ignored` for the run without
  waking it. Said beside: the same with `delivered`, which a later step of the modem swap waits for, so each
  reaches its run (a workflow update) and is ignored there.
- Event → run ended: `POST /v1/events` of `swapped` until the run has ended, while a background ingest posts
  batches at half the measured rate, against a bare workflow's `finish` signal → completed, interleaved (and,
  first, a third as many samples with no ingest, to tell the HTTP path's cost from the contention's).
- Delivery after an outage: events recorded while Temporal does not answer (`delivery.signal` without a
  client: recorded and owed, as the API does then), then the deliverer that runs beside every worker
  (the `delivery` job of `journeys.runtime.background`) is started, and timed until nothing is owed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from temporalio.client import Client

from bench.baseline import Bare
from bench.cluster import Cluster, cluster
from bench.console import say
from bench.population import Population
from bench.report import Figure, against, reported
from bench.runtime import WARM_UP, told
from bench.stats import percentile
from bench.tally import Nudged, reached
from journeys.http.app import http_server
from journeys.runtime.background import background, worker_jobs
from journeys.services.delivery import GRACE, signal
from journeys.services.shared import PARALLEL, utc_now

EVENT_P99_MS = 250  # event → run ended over HTTP with ingest beside: the HTTP API's own targets
EVENT_RATIO = 1.5
INGEST_RATIO = 0.5
BATCH = 1_000  # events per `POST /v1/events:batch`, the most it takes
EVENT = "page_viewed"  # the modem swap names it nowhere: its runs are not woken for it
ACTED_ON = "delivered"  # a later step of the modem swap waits for it: each reaches its waiting run
TICK_S = 0.25  # the background ingest posts a batch every TICK_S
DRAIN_S = 600  # the most the bare workflows may take to take the baseline's signals in


@dataclass(frozen=True)
class Plan:
    waiting: int  # runs waiting while events are ingested (and as many bare workflows)
    events: int  # ingested, half to customers with a waiting run, half to customers without
    samples: int  # event → run ended, over HTTP and as many bare signals, interleaved (a third of them alone)
    outage: int  # events owed after an outage, each ending one run


QUICK = Plan(waiting=1_000, events=2_000, samples=150, outage=200)
FULL = Plan(waiting=10_000, events=20_000, samples=300, outage=1_000)


def run(quick: bool) -> list[Figure]:
    return asyncio.run(measure(QUICK if quick else FULL))


async def measure(plan: Plan) -> list[Figure]:
    async with cluster() as bench:
        population = Population(bench)
        await population.enrol(WARM_UP)
        await population.start_bare(WARM_UP, wait=False)
        say(f"{plan.waiting:,} runs and as many bare workflows waiting")
        await population.fill(plan.waiting + plan.samples + plan.outage, bare=plan.waiting + plan.samples)
        sampled = [population.take() for _ in range(plan.samples)]
        owed_to = [population.take() for _ in range(plan.outage)]
        live = list(population.waiting)
        idle = [f"idle{n}" for n in range(len(live))]  # customers in the store with no run
        await asyncio.to_thread(bench.add_customers, idle)
        targets = [customer for pair in zip(live, idle, strict=True) for customer in pair]
        bare = list(population.bare_waiting[: len(live)])
        async with api(bench) as post:
            await ingest(post, targets[: 2 * WARM_UP])
            await ingest(post, targets[: 2 * WARM_UP], event=ACTED_ON)
            figures = told(await ingest_figures(bench.client, post, targets, bare, plan.events))
            rate = figures[0].value
            figures += told(await latency_figures(population, post, sampled, targets, rate / 2))
        figures += told(await outage_figures(bench, population, owed_to))
    return figures


Post = Any  # `post(path, json)` → the response's JSON, raising on any status but 200 and 202


@asynccontextmanager
async def api(bench: Cluster) -> AsyncIterator[Post]:
    """The app served on a free loopback port, and a function posting to it with a key of scope `events`."""
    key = await asyncio.to_thread(bench.store.create_key, "bench", "events", by="bench")
    settings = bench.settings.model_copy(update={"api_rate": 1_000_000.0})  # the figures are not the limiter's

    async def client_factory() -> Client:
        return bench.client

    async with (
        http_server(settings, bench.store, client_factory, port=0, host="127.0.0.1") as port,
        httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {key}"}, timeout=300
        ) as http,
    ):

        async def post(path: str, body: dict[str, Any]) -> Any:
            response = await http.post(path, json=body)
            if response.status_code not in (200, 202):
                raise RuntimeError(f"POST {path}: {response.status_code} {response.text[:300]}")
            return response.json()

        yield post


def _events(targets: list[str], count: int, offset: int, event: str) -> list[dict[str, Any]]:
    return [{"customer": targets[(offset + n) % len(targets)], "event": event, "data": {"n": n}} for n in range(count)]


async def ingest(post: Post, targets: list[str], offset: int = 0, count: int | None = None, event: str = EVENT) -> int:
    """One event per target (or `count`, round the targets) in batches of BATCH; how many were taken."""
    events = _events(targets, len(targets) if count is None else count, offset, event)
    for start in range(0, len(events), BATCH):
        results = (await post("/v1/events:batch", {"events": events[start : start + BATCH]}))["results"]
        refused = [r for r in results if "error" in r or not r.get("delivered")]
        if refused:
            raise RuntimeError(f"{len(refused)} events of a batch were not taken in, e.g. {refused[0]}")
    return len(events)


# --- ingest ---------------------------------------------------------------------------------------


async def ingest_figures(client: Client, post: Post, targets: list[str], bare: list[str], count: int) -> list[Figure]:
    """The baseline counts signals the server has accepted; its workflows take them in afterwards, in this
    process and on the same server. That work is waited for before the API is measured, not left to run
    inside the API's measure (it halved it: 2,000 replays of bare workflows). How long the bare workflows took
    to have taken every signal in is said beside: the API answers only once every run has taken its event in."""
    say(f"{count:,} events as signals to {len(bare):,} bare waiting workflows")
    gate = asyncio.Semaphore(PARALLEL)
    handled = Nudged.count + count

    async def nudge(wid: str) -> None:
        async with gate:
            await client.get_workflow_handle(wid).signal(Bare.nudge)

    began = time.perf_counter()
    await asyncio.gather(*(nudge(bare[n % len(bare)]) for n in range(count)))
    accepted = time.perf_counter() - began
    await reached(Nudged, handled, began + DRAIN_S, f"signals were not taken in after {DRAIN_S} s", every=0.01)
    taken_in = time.perf_counter() - began
    baseline = count / accepted

    say(f"{count:,} events through POST /v1/events:batch, {len(targets) // 2:,} of {len(targets):,} customers waiting")
    began = time.perf_counter()
    await ingest(post, targets, count=count)
    value = count / (time.perf_counter() - began)
    ratio = value / baseline
    say(f"{count:,} events that the waiting runs act on ({ACTED_ON}), through POST /v1/events:batch")
    began = time.perf_counter()
    await ingest(post, targets, count=count, event=ACTED_ON)
    acted_on = count / (time.perf_counter() - began)
    return [
        against(
            f"api_ingest_{count}_events_per_s",
            value,
            baseline,
            "events/s",
            f"≥ {INGEST_RATIO}× the same events as signals to bare waiting workflows",
            met=ratio >= INGEST_RATIO,
        ),
        against(
            f"api_ingest_{count}_vs_signals_taken_in",
            value,
            count / taken_in,
            "events/s",
            "report (baseline: until the bare workflows had taken every signal in, as the API answers)",
        ),
        against(
            f"api_ingest_{count}_acted_on_events_per_s",
            acted_on,
            baseline,
            "events/s",
            f"report (`{ACTED_ON}`, awaited by a later step: each reaches its waiting run as a workflow update)",
        ),
    ]


# --- event → run ended ----------------------------------------------------------------------------


async def latency_figures(
    population: Population, post: Post, sampled: list[str], targets: list[str], rate: float
) -> list[Figure]:
    """The first third of the samples with nothing else going on (to tell the HTTP path from the contention
    with ingest), the rest while the background ingest runs; the target is on the rest."""
    quiet = len(sampled) // 3
    say(f"event → run ended over HTTP, {quiet} samples alone")
    alone, alone_bare = await _samples(population, post, sampled[:quiet])
    say(f"event → run ended over HTTP, {len(sampled) - quiet} samples, ingest at {rate:.0f} events/s meanwhile")
    background = Background(post, targets, rate)
    task = asyncio.create_task(background.run())
    try:
        journeys, bare = await _samples(population, post, sampled[quiet:], task)
    finally:
        task.cancel()
    achieved = background.sent / (time.perf_counter() - background.began)
    p99, base99 = percentile(journeys, 99), percentile(bare, 99)
    ratio = p99 / base99
    return [
        _percentile_figure("api_event_to_end_alone_p50_ms", alone, alone_bare, 50),
        _percentile_figure("api_event_to_end_alone_p99_ms", alone, alone_bare, 99),
        _percentile_figure("api_event_to_end_p50_ms", journeys, bare, 50),
        against(
            "api_event_to_end_p99_ms",
            p99,
            base99,
            "ms",
            f"≤ {EVENT_P99_MS} ms and ≤ {EVENT_RATIO}× the bare signal's p99, ingest at half its rate",
            met=p99 <= EVENT_P99_MS and ratio <= EVENT_RATIO,
        ),
        reported(
            "api_background_ingest_events_per_s",
            round(achieved, 1),
            "events/s",
            f"report (asked: {rate:.1f}, half the ingest figure)",
        ),
    ]


async def _samples(
    population: Population, post: Post, customers: list[str], beside: asyncio.Task[None] | None = None
) -> tuple[list[float], list[float]]:
    """Event → run ended for each customer, each followed by a bare signal → completed; `beside` failing
    stops the measure and says why."""
    journeys: list[float] = []
    bare: list[float] = []
    for customer in customers:
        journeys.append(await _event_to_end(population, post, customer))
        bare.append(await _signal_bare(population))
        if beside is not None and beside.done():
            beside.result()
    return journeys, bare


def _percentile_figure(name: str, samples: list[float], baseline: list[float], p: int) -> Figure:
    return against(name, percentile(samples, p), percentile(baseline, p), "ms")


class Background:
    """Batches posted every TICK_S so that `rate` events per second go in, on the ingest's customers."""

    def __init__(self, post: Post, targets: list[str], rate: float) -> None:
        self.post, self.targets, self.rate = post, targets, rate
        self.sent = 0
        self.began = time.perf_counter()

    async def run(self) -> None:
        tick = 0
        while True:
            due = round(self.rate * TICK_S * (tick + 1)) - self.sent
            if due > 0:
                self.sent += await ingest(self.post, self.targets, offset=self.sent, count=due)
            tick += 1
            await asyncio.sleep(max(0.0, self.began + tick * TICK_S - time.perf_counter()))


async def _event_to_end(population: Population, post: Post, customer: str) -> float:
    handle = population.cluster.client.get_workflow_handle(population.workflow_id(customer))
    began = time.perf_counter()
    result = await post("/v1/events", {"customer": customer, "event": "swapped"})
    await handle.result()
    elapsed = (time.perf_counter() - began) * 1000
    if [run["effect"] for run in result["runs"]] != ["exited"]:
        raise RuntimeError(f"event to {customer}: expected the run to exit, got {result['runs']}")
    return elapsed


async def _signal_bare(population: Population) -> float:
    handle = population.cluster.client.get_workflow_handle(population.take_bare())
    began = time.perf_counter()
    await handle.signal(Bare.finish)
    await handle.result()
    return (time.perf_counter() - began) * 1000


# --- delivery after an outage ---------------------------------------------------------------------


async def outage_figures(bench: Cluster, population: Population, customers: list[str]) -> list[Figure]:
    """`swapped` for each customer recorded without Temporal (owed), then the deliverer started: seconds until
    nothing is owed; then every run must have ended."""
    say(f"{len(customers):,} events recorded while Temporal does not answer")
    for customer in customers:
        result = await signal(None, bench.store, bench.settings, customer, "swapped", {}, source="api")
        if result.delivered:
            raise RuntimeError(f"an event for {customer} was delivered without Temporal")
    await asyncio.sleep(GRACE.total_seconds())  # an outage at least as long as the deliverer's grace
    say("Temporal answers again: the deliverer runs")
    began = time.perf_counter()
    jobs = worker_jobs(bench.client, bench.store, bench.settings)
    async with background({"delivery": jobs["delivery"]}):
        while await asyncio.to_thread(bench.store.pending_events, utc_now(), 1):
            await asyncio.sleep(0.02)
        took = time.perf_counter() - began
    handles = [bench.client.get_workflow_handle(population.workflow_id(c)) for c in customers]
    await asyncio.wait_for(asyncio.gather(*(h.result() for h in handles)), timeout=60)
    count = len(customers)
    return [
        reported(
            f"api_outage_{count}_owed_delivered_s",
            round(took, 2),
            "s",
            "report (no baseline: Temporal has no owed events; the deliverer passes every 1 s, 500 a pass)",
        ),
        reported(f"api_outage_{count}_owed_delivered_per_s", round(count / took, 1), "events/s"),
    ]
