"""The durable runtime on a real Temporal dev server started here: enrolment throughput, signal latency
against the number of runs waiting (plotted to `bench/signal_latency.png`), and what holding many
waiting runs costs the worker.

Each figure is a ratio against a baseline measured in the same run, on the same server and in the same
process: `bench.baseline.Bare`, a workflow with one no-op activity (and, for signals, a wait for one
signal). The journey is the shipped modem swap, enrolled through `journeys.services.enrolment.enroll` (what
`journeys enroll --all` runs) and signalled through `journeys.services.delivery.signal` (`journeys signal`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from dataclasses import dataclass

from bench.cluster import cluster
from bench.console import say
from bench.plot import LatencyPoint, plot_signal_latency
from bench.population import Population
from bench.report import Figure
from bench.stats import percentile, rss_mib
from journeys.services.delivery import signal
from journeys.services.status import status

SIGNAL_P99_MS = 100
SIGNAL_RATIO = 1.0
ENROL_RATIO = 0.8
RSS_MIB = 1024
STATUS_MS = 200
WARM_UP = 20  # runs of each kind before anything is measured: imports, sandbox, connections


@dataclass(frozen=True)
class Plan:
    enrol: int  # customers enrolled at once for the throughput figure (and as many bare workflows)
    levels: tuple[int, ...]  # runs waiting when signal latency is measured; the last one is the figure
    samples: int  # signals per level, to journeys and as many to bare workflows, interleaved
    waiting: int  # runs waiting for the worker-memory and status figures
    statuses: int  # `status` calls measured


QUICK = Plan(enrol=200, levels=(200, 500, 1_000), samples=100, waiting=1_000, statuses=50)
FULL = Plan(enrol=1_000, levels=(1_000, 3_000, 10_000), samples=200, waiting=100_000, statuses=100)


def run(quick: bool, waiting: int | None = None) -> list[Figure]:
    """`waiting` overrides how many runs the memory and status figures hold (the fill is the long part)."""
    plan = QUICK if quick else FULL
    if waiting is not None:
        plan = dataclasses.replace(plan, waiting=waiting)
    return asyncio.run(measure(plan, quick))


async def measure(plan: Plan, quick: bool) -> list[Figure]:
    async with cluster() as bench:
        population = Population(bench)
        await population.enrol(WARM_UP)
        await population.start_bare(WARM_UP, wait=False)
        figures = told(await enrolment(population, plan.enrol))
        points = []
        for level in plan.levels:
            say(f"signal latency with {level:,} runs waiting")
            points.append(await signal_latency(population, level, plan.samples))
        figures += told(signal_figures(points, quick))
        say(f"holding {plan.waiting:,} runs waiting")
        figures += told(await waiting(population, plan, quick))
    return figures


def told(figures: list[Figure]) -> list[Figure]:
    """Said as soon as measured: a run that fails later (it may fill for an hour) keeps what it measured."""
    for f in figures:
        say(f"{f.name} = {f.value} {f.unit} (baseline {f.baseline}, ratio {f.ratio}, {'met' if f.met else 'not met'})")
    return figures


# --- enrolment ------------------------------------------------------------------------------------


async def enrolment(population: Population, count: int) -> list[Figure]:
    """`enroll --all` on `count` customers until each has its first message, against as many bare workflows."""
    say(f"enrolling {count:,} customers")
    baseline = count / await population.start_bare(count, wait=False)
    value = count / await population.enrol(count)
    ratio = value / baseline
    return [
        Figure(
            name=f"enrol_{count}_journeys_per_s",
            value=round(value, 1),
            unit="journeys/s",
            baseline=round(baseline, 1),
            ratio=round(ratio, 2),
            target=f"≥ {ENROL_RATIO}× a bare workflow with one no-op activity",
            met=ratio >= ENROL_RATIO,
        )
    ]


# --- signals --------------------------------------------------------------------------------------


async def signal_latency(population: Population, level: int, samples: int) -> LatencyPoint:
    """`journeys signal C swapped` until the run has ended, against signal → end of a bare workflow."""
    await population.fill(level + samples, bare=level + samples)
    journeys: list[float] = []
    bare: list[float] = []
    for _ in range(samples):
        journeys.append(await _signal_journey(population))
        bare.append(await _signal_bare(population))
    return LatencyPoint(
        waiting=level,
        p50_ms=percentile(journeys, 50),
        p99_ms=percentile(journeys, 99),
        baseline_p50_ms=percentile(bare, 50),
        baseline_p99_ms=percentile(bare, 99),
    )


async def _signal_journey(population: Population) -> float:
    bench = population.cluster
    customer = population.take()
    handle = bench.client.get_workflow_handle(population.workflow_id(customer))
    began = time.perf_counter()
    result = await signal(bench.client, bench.store, bench.settings, customer, "swapped", {})
    await handle.result()
    elapsed = (time.perf_counter() - began) * 1000
    if [run.effect for run in result.runs] != ["exited"]:
        raise RuntimeError(f"signal to {customer}: expected the run to exit, got {result.runs}")
    return elapsed


async def _signal_bare(population: Population) -> float:
    handle = population.cluster.client.get_workflow_handle(population.take_bare())
    began = time.perf_counter()
    await handle.signal("finish")
    await handle.result()
    return (time.perf_counter() - began) * 1000


def signal_figures(points: list[LatencyPoint], quick: bool) -> list[Figure]:
    last = points[-1]
    title = (
        f"`journeys signal` → run ended, against runs waiting ({'quick' if quick else 'full'} run)\n"
        "dev server, worker and SQLite store in one process on one machine"
    )
    plot = plot_signal_latency(points, title, SIGNAL_P99_MS)
    if plot is None:
        say("matplotlib is not installed: no plot (pip install -e '.[dev]')")
    p99_ratio = last.p99_ms / last.baseline_p99_ms
    return [
        Figure(
            name=f"signal_{last.waiting}_waiting_p50_ms",
            value=round(last.p50_ms, 1),
            unit="ms",
            baseline=round(last.baseline_p50_ms, 1),
            ratio=round(last.p50_ms / last.baseline_p50_ms, 2),
            target="report",
            met=True,
        ),
        Figure(
            name=f"signal_{last.waiting}_waiting_p99_ms",
            value=round(last.p99_ms, 1),
            unit="ms",
            baseline=round(last.baseline_p99_ms, 1),
            ratio=round(p99_ratio, 2),
            target=f"≤ {SIGNAL_P99_MS} ms and ≤ {SIGNAL_RATIO}× the bare workflow's p99",
            met=last.p99_ms <= SIGNAL_P99_MS and p99_ratio <= SIGNAL_RATIO,
        ),
    ]


# --- waiting runs ---------------------------------------------------------------------------------


async def waiting(population: Population, plan: Plan, quick: bool) -> list[Figure]:
    """Worker memory with `plan.waiting` runs waiting, and `journeys status` of one of their customers.

    The memory is this whole process's: the worker, and the benchmark's client and bookkeeping (small)."""
    await population.fill(plan.waiting)
    bench = population.cluster
    latencies = []
    for _ in range(plan.statuses):
        began = time.perf_counter()
        await status(bench.client, bench.store, population.pick())
        latencies.append((time.perf_counter() - began) * 1000)
    rss, peak = rss_mib()
    count = len(population.waiting)
    note = f" (the target is for {FULL.waiting:,})" if count < FULL.waiting else ""
    p99 = percentile(latencies, 99)
    return [
        Figure(
            name=f"waiting_{count}_runs_worker_rss_mib",
            value=round(rss, 1),
            unit="MiB",
            target=f"≤ {RSS_MIB} MiB{note}",
            met=rss <= RSS_MIB,
        ),
        Figure(
            name=f"waiting_{count}_runs_worker_peak_rss_mib",
            value=round(peak, 1),
            unit="MiB",
            target="report",
            met=True,
        ),
        Figure(
            name=f"waiting_{count}_runs_status_p99_ms",
            value=round(p99, 1),
            unit="ms",
            target=f"≤ {STATUS_MS} ms{note}",
            met=p99 <= STATUS_MS,
        ),
        Figure(
            name=f"waiting_{count}_runs_status_p50_ms",
            value=round(percentile(latencies, 50), 1),
            unit="ms",
            target="report",
            met=True,
        ),
    ]
