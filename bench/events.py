"""`journeys events import` against `journeys signal` in a loop, on a Temporal dev server started here.

Customers are enrolled in the shipped modem swap (their runs wait for `registered`), then each gets the same
number of `page_viewed` events twice: once through `journeys.services.delivery.signal`, one call after the
other as a person's script calling `journeys signal` would, and once as a CSV file through
`journeys.services.events_import.import_events` (what `journeys events import` runs). Every event is
delivered to the customer's live run, which takes it in and ignores it, so both paths do the same work on
the server: a recorded event and a workflow update per event. The loop runs first, so the import's runs
carry the longer histories.
"""

from __future__ import annotations

import asyncio
import csv
import json
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.cluster import cluster
from bench.console import say
from bench.population import Population
from bench.report import Figure
from journeys.services.delivery import signal
from journeys.services.events_import import import_events

EVENT = "page_viewed"  # no step waits for it: every run takes it in and ignores it


@dataclass(frozen=True)
class Plan:
    customers: int
    per_customer: int

    @property
    def events(self) -> int:
        return self.customers * self.per_customer


QUICK = Plan(customers=200, per_customer=10)
FULL = Plan(customers=1_000, per_customer=10)


def run(quick: bool) -> list[Figure]:
    return asyncio.run(measure(QUICK if quick else FULL))


async def measure(plan: Plan) -> list[Figure]:
    async with cluster() as bench:
        population = Population(bench)
        say(f"enrolling {plan.customers:,} customers for the events figure")
        await population.enrol(plan.customers)
        customers = list(population.waiting)
        events = [(customer, n) for n in range(plan.per_customer) for customer in customers]

        say(f"{plan.events:,} events through signal, one after the other")
        began = time.perf_counter()
        for customer, n in events:
            result = await signal(bench.client, bench.store, bench.settings, customer, EVENT, {"n": n, "by": "signal"})
            if [r.effect for r in result.runs] != ["ignored"]:
                raise RuntimeError(f"signal to {customer}: expected its run to take the event in, got {result.runs}")
        looped = time.perf_counter() - began

        say(f"{plan.events:,} events through events import")
        with tempfile.TemporaryDirectory(prefix="journeys-bench-events-") as folder:
            path = Path(folder) / "events.csv"
            with path.open("w", newline="", encoding="utf-8") as file:
                writer = csv.writer(file)
                writer.writerow(["customer", "event", "data"])
                writer.writerows([customer, EVENT, json.dumps({"n": n, "by": "import"})] for customer, n in events)
            began = time.perf_counter()
            report = await import_events(bench.client, bench.store, bench.settings, path)
            imported = time.perf_counter() - began
        if not report.complete or report.recorded != plan.events or report.effects["ignored"] != plan.events:
            raise RuntimeError(f"events import did not take every event in: {report.model_dump()}")

    value, baseline = plan.events / imported, plan.events / looped
    return [
        Figure(
            name=f"events_import_{plan.events}_per_s",
            value=round(value, 1),
            unit="events/s",
            baseline=round(baseline, 1),
            ratio=round(value / baseline, 2),
            target="report (baseline: the same events through signal in a loop)",
            met=True,
        )
    ]
