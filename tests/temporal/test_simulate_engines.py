"""One engine, two clocks: `simulate --engine temporal` prints what the in-process simulator prints."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from journeys.engine.messages import MessageSource
from journeys.format.customers import Customer, Event
from journeys.format.inputs import PlannedEvent, read_customers, read_events
from journeys.format.loader import load_or_raise
from journeys.services.catalogue import publish
from journeys.simulate.inprocess import simulate
from journeys.simulate.temporal import simulate_on_temporal
from journeys.templates import TemplateFiles
from tests.support import ROOT

DEFINITIONS = ROOT / "definitions"
START = datetime.fromisoformat("2026-11-23T08:00:00+03:30")
SHIPPED = sorted(p.stem for p in DEFINITIONS.glob("*.yaml"))


@pytest.mark.parametrize("name", SHIPPED)
async def test_temporal_engine_prints_the_same_simulation_as_the_local_one(name: str) -> None:
    path = DEFINITIONS / f"{name}.yaml"
    scenario = DEFINITIONS / "scenarios" / name
    customers = read_customers(next(p for p in scenario.iterdir() if p.stem == "customers"))
    events = read_events(scenario / "events.yaml", START, {c.id for c in customers})
    local = simulate(
        load_or_raise(path), customers, events, START, 30, MessageSource(TemplateFiles(DEFINITIONS / "templates"))
    )
    durable = await simulate_on_temporal(publish(path), customers, events, START, 30)
    expected = local.model_dump(mode="json", exclude={"customers": {"__all__": {"skipped_sends", "updates"}}})
    actual = durable.model_dump(mode="json", exclude={"customers": {"__all__": {"skipped_sends", "updates"}}})
    for mine, theirs in zip(actual["customers"], expected["customers"], strict=True):
        assert mine == theirs, mine["id"]
    assert actual == expected


ID_THANKS = """\
id: id-thanks
name: Thank you for your ID
entry: {when: "'national_id' in customer.documents", continuous: true}
steps:
  - {id: thanks, send: sms, message: {text: "We have your ID, {{ customer.name }}"}}
"""


async def test_both_engines_enrol_a_continuous_journey_when_an_event_makes_its_entry_true(tmp_path: Path) -> None:
    path = tmp_path / "id_thanks.yaml"
    path.write_text(ID_THANKS, encoding="utf-8")
    customers = [Customer(id=c, name=c.upper(), phone=f"+98912100000{i}") for i, c in enumerate(("c1", "c2"))]
    upload = Event(id="d1", name="document_uploaded", data={"kind": "national_id"}, at=START + timedelta(hours=2))
    events = [PlannedEvent("c1", upload)]
    local = simulate(load_or_raise(path), customers, events, START, 3, MessageSource(TemplateFiles(tmp_path)))
    durable = await simulate_on_temporal(publish(path), customers, events, START, 3)

    exclude = {"customers": {"__all__": {"skipped_sends", "updates"}}}
    assert durable.model_dump(mode="json", exclude=exclude) == local.model_dump(mode="json", exclude=exclude)
    c1, c2 = local.customers
    assert (c1.outcome, [m.offset_s for m in c1.messages]) == ("completed", [7200])
    assert (c2.outcome, c2.skipped_reason) == ("skipped", "entry.when is false")


def test_the_command_prints_the_same_json_for_both_engines() -> None:
    """Through `journeys simulate --json`: stdout is the JSON alone (no SDK warnings before it), the same."""
    scenario = DEFINITIONS / "scenarios" / "modem_swap"
    printed = {}
    for engine in ("local", "temporal"):
        done = subprocess.run(
            [sys.executable, "-m", "journeys", "simulate", str(DEFINITIONS / "modem_swap.yaml")]
            + ["--customers", str(scenario / "customers.yaml"), "--events", str(scenario / "events.yaml")]
            + ["--start", START.isoformat(), "--engine", engine, "--json"],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr
        printed[engine] = json.loads(done.stdout)
    assert printed["temporal"] == printed["local"]
