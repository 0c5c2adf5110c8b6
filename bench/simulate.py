"""`journeys simulate` throughput: 10,000 customers × 30 days on the shipped modem swap journey.

Baseline: rendering the same messages straight from their templates, with no journey logic, so the
ratio is what the interpreter and simulator add on top of the unavoidable template work. Both are timed by
the process's CPU clock: both are one thread that never waits, so CPU time is their time on an idle machine,
and it stays so on a shared one, where the wall clock counts whatever else runs.

`simulate --engine temporal` (the real workflow and activities on the time-skipping test server, one
customer's run settled at a time) is reported on a smaller population, against the in-process engine on
the same population.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta
from pathlib import Path

from bench.report import Figure
from journeys.engine.interpreter import Send
from journeys.engine.messages import MessageSource, render_message
from journeys.format.customers import Customer, Event
from journeys.format.inputs import PlannedEvent
from journeys.format.loader import load_or_raise
from journeys.services.catalogue import publish
from journeys.simulate.inprocess import simulate
from journeys.simulate.temporal import simulate_on_temporal
from journeys.templates import TemplateFiles

DEFINITIONS = Path(__file__).resolve().parents[1] / "definitions"
START = datetime.fromisoformat("2026-11-23T08:00:00+03:30")
ZONES = [None, "Asia/Tehran", "Europe/London", "America/New_York"]
RATIO_TARGET = 2.0  # the simulation may take at most this many times what rendering its messages alone takes


def population(size: int) -> tuple[list[Customer], list[PlannedEvent]]:
    """A mixed population: a fifth swap mid-loop, a fifth register and receive, some never answer."""
    customers, events = [], []
    for n in range(size):
        cid = f"c{n}"
        customers.append(
            Customer(
                id=cid,
                name=f"Customer {n}",
                email=f"c{n}@example.com",
                phone=f"+98912{n:07d}",
                locale="fa" if n % 2 else "en",
                timezone=ZONES[n % len(ZONES)],
                attributes={"plan": "wimax" if n % 10 else "fiber", "wimax_id": f"W-{n}"},
            )
        )
        kind = n % 5
        jitter = timedelta(hours=n % 7)

        def at(days: int, jitter: timedelta = jitter) -> datetime:
            return START + timedelta(days=days) + jitter

        if kind == 0:
            events.append(PlannedEvent(cid, Event(id=f"{cid}-s", name="swapped", at=at(8))))
        elif kind in (1, 2):
            events.append(PlannedEvent(cid, Event(id=f"{cid}-r", name="registered", at=at(1))))
            if kind == 1:
                doc = {"kind": "national_id", "ref": f"courier-{n}"}
                events.append(PlannedEvent(cid, Event(id=f"{cid}-d", name="document_uploaded", data=doc, at=at(4))))
            events.append(PlannedEvent(cid, Event(id=f"{cid}-v", name="delivered", at=at(4))))
    events.sort(key=lambda p: p.event.at)
    return customers, events


def run(quick: bool) -> list[Figure]:
    return [*in_process(quick), on_temporal(quick)]


def in_process(quick: bool) -> list[Figure]:
    size = 2_000 if quick else 10_000
    journey = load_or_raise(DEFINITIONS / "modem_swap.yaml")
    customers, events = population(size)
    source = MessageSource(TemplateFiles(DEFINITIONS / "templates"))
    began = time.process_time()
    result = simulate(journey, customers, events, START, 30, source)
    elapsed = time.process_time() - began

    by_id = {c.id: c for c in customers}
    began = time.process_time()
    for simulated in result.customers:
        customer = by_id[simulated.id]
        for message in simulated.messages:
            step = journey.step(message.step)
            send = Send(step=step.id, channel=message.channel, template=step.template, message=None, seq=1, visit=1)
            context = {"customer": customer.context, "event": None, "journey": {}, "now": START}
            render_message(message.channel, source.message(send, customer.locale), customer, context)
    baseline = time.process_time() - began
    ratio = elapsed / baseline
    return [
        Figure(
            name=f"simulate_modem_swap_{size}_customers_30d_s",
            value=round(elapsed, 3),
            unit="s",
            baseline=round(baseline, 3),
            ratio=round(ratio, 2),
            target=f"≤ {RATIO_TARGET:g}× rendering the same messages (CPU time)",
            met=ratio <= RATIO_TARGET,
        ),
        Figure(
            name="simulate_messages_per_s",
            value=round(result.totals.messages / elapsed),
            unit="messages/s",
            baseline=round(result.totals.messages / baseline),
            ratio=round(baseline / elapsed, 2),
            target="report",
            met=True,
        ),
    ]


def on_temporal(quick: bool) -> Figure:
    """The Temporal engine on a small population; baseline: the in-process engine on the same one."""
    size = 50 if quick else 200
    path = DEFINITIONS / "modem_swap.yaml"
    journey = load_or_raise(path)
    customers, events = population(size)
    source = MessageSource(TemplateFiles(DEFINITIONS / "templates"))
    began = time.perf_counter()
    local = simulate(journey, customers, events, START, 30, source)
    baseline = time.perf_counter() - began
    began = time.perf_counter()
    durable = asyncio.run(simulate_on_temporal(publish(path), customers, events, START, 30))
    elapsed = time.perf_counter() - began
    same = durable.totals == local.totals
    return Figure(
        name=f"simulate_temporal_engine_{size}_customers_30d_s",
        value=round(elapsed, 2),
        unit="s",
        baseline=round(baseline, 3),
        ratio=round(elapsed / baseline, 1),
        target="report (baseline: the in-process engine, same customers)"
        + ("" if same else "; TOTALS DIFFER from the in-process engine"),
        met=same,
    )
