"""Several journeys simulated together on the same customers (`simulate_together`, `journeys simulate A B`):
frequency caps count every journey's sends, an event ends or starts the runs of every journey it concerns, an
update one journey makes is what the others see, and one journey alone is simulated as it always was."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from journeys.engine.messages import MessageSource
from journeys.format.customers import Customer, Event
from journeys.format.inputs import PlannedEvent
from journeys.format.loader import load_or_raise
from journeys.format.models import Journey
from journeys.simulate.inprocess import SimCustomer, Simulation, simulate, simulate_together
from journeys.templates import TemplateFiles
from tests.support import ROOT
from tests.support.cli import run

START = datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc)
HOUR, DAY = 3600, 86400
SOURCE = MessageSource(TemplateFiles(Path(__file__).parent / "no-templates"))  # inline messages only

PROMO = """\
id: promo
name: Promotion
exit_on: [opted_out]
steps:
  - id: offer
    send: sms
    message: {text: "20% off for {{ customer.name }}"}
  - id: mark
    update: {set: {offered: true}, tags: {add: [promoted]}}
  - id: later
    wait: 3d
  - id: again
    send: sms
    message: {text: "Last chance"}
"""

REMINDER = """\
id: reminder
name: Bill reminder
exit_on: [opted_out]
limits:
  - {channel: %s, max: 1, per: 1d}
steps:
  - id: remind
    send: sms
    message: {text: "Your bill is due"}
  - id: pause
    wait: 2d
  - id: remind_again
    send: sms
    message: {text: "Your bill is overdue"}
"""

WELCOME_BACK = """\
id: welcome-back
name: Welcome back
entry:
  trigger: returned
  when: "'promoted' in customer.tags"
steps:
  - id: hello
    send: email
    message: {subject: "Welcome back", text: "We kept your offer ({{ customer.attributes.offered }})."}
"""

_SCENARIO = ROOT / "definitions" / "scenarios" / "modem_swap"
_MODEM_SWAP_SCENARIO = [
    "--customers",
    str(_SCENARIO / "customers.yaml"),
    "--events",
    str(_SCENARIO / "events.yaml"),
    "--start",
    "2026-11-23T08:00:00+03:30",
]

CUSTOMERS = [Customer(id="c1", name="Sara", email="sara@example.com", phone="+15550001")]


def _journey(folder: Path, name: str, text: str) -> Journey:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return load_or_raise(path)


def _together(
    folder: Path, files: dict[str, str], events: Sequence[tuple[str, int]] = (), days: int = 5
) -> dict[str, SimCustomer]:
    """Each journey's result for c1, by journey id, simulated together in the order of `files`."""
    journeys = [(_journey(folder, name, text), SOURCE) for name, text in files.items()]
    planned = [
        PlannedEvent("c1", Event(id=f"e{i}", name=n, at=START + timedelta(seconds=s)))
        for i, (n, s) in enumerate(events)
    ]
    results = simulate_together(journeys, CUSTOMERS, planned, START, days)
    assert [r.journey for r in results] == [j.id for j, _ in journeys]
    return {r.journey: r.customers[0] for r in results}


def _sent(result: SimCustomer) -> list[tuple[int, str, str]]:
    return [(m.offset_s, m.step, m.channel) for m in result.messages]


# --- caps across journeys ---------------------------------------------------------------------------


@pytest.mark.parametrize("channel", ["sms", "any"])
def test_a_cap_counts_the_sends_of_the_journeys_simulated_with_it(tmp_path: Path, channel: str) -> None:
    alone = _together(tmp_path, {"reminder.yaml": REMINDER % channel})["reminder"]
    assert _sent(alone) == [(0, "remind", "sms"), (2 * DAY, "remind_again", "sms")]
    both = _together(tmp_path, {"promo.yaml": PROMO, "reminder.yaml": REMINDER % channel})
    assert _sent(both["promo"]) == [(0, "offer", "sms"), (3 * DAY, "again", "sms")]
    # the promotion's SMS at 08:00 fills the reminder's cap (1 a day): its SMS waits a day, and so its wait
    # of two days ends on day 3, where the promotion's second SMS holds it one more day
    assert _sent(both["reminder"]) == [(DAY, "remind", "sms"), (4 * DAY, "remind_again", "sms")]
    assert both["reminder"].steps[0].offset_s == 0  # it arrived at once and waited there


def test_a_cap_on_another_channel_ignores_them(tmp_path: Path) -> None:
    both = _together(tmp_path, {"promo.yaml": PROMO, "reminder.yaml": REMINDER % "email"})
    assert _sent(both["reminder"]) == [(0, "remind", "sms"), (2 * DAY, "remind_again", "sms")]


def test_a_journey_is_held_by_its_own_limits_only(tmp_path: Path) -> None:
    """Given first, the reminder sends at once; the promotion has no limit, so it sends at once too."""
    both = _together(tmp_path, {"reminder.yaml": REMINDER % "sms", "promo.yaml": PROMO})
    assert _sent(both["reminder"])[0] == (0, "remind", "sms")
    assert _sent(both["promo"])[0] == (0, "offer", "sms")


# --- triggers, updates, exits ----------------------------------------------------------------------


def test_an_event_starts_a_journey_that_sees_another_journeys_update(tmp_path: Path) -> None:
    events = [("returned", 2 * HOUR)]
    alone = _together(tmp_path, {"welcome_back.yaml": WELCOME_BACK}, events)["welcome-back"]
    assert (alone.outcome, alone.skipped_reason) == ("skipped", "entry.when is false")
    both = _together(tmp_path, {"promo.yaml": PROMO, "welcome_back.yaml": WELCOME_BACK}, events)
    assert both["promo"].updates[0]["tags"] == ["promoted"]
    back = both["welcome-back"]
    assert (back.enrolled, back.outcome, back.runs) == (True, "completed", 1)
    assert _sent(back) == [(2 * HOUR, "hello", "email")]
    assert back.messages[0].body == "We kept your offer (True)."


WIMAX_WELCOME = """\
id: wimax-welcome
name: Welcome to WiMAX
entry: {when: "'promoted' in customer.tags or 'national_id' in customer.documents", continuous: true}
steps:
  - id: hello
    send: sms
    message: {text: "Welcome to WiMAX"}
"""


def test_a_continuous_journey_enrols_when_an_event_or_another_journeys_update_makes_when_true(
    tmp_path: Path,
) -> None:
    alone = _together(tmp_path, {"wimax_welcome.yaml": WIMAX_WELCOME})["wimax-welcome"]
    assert (alone.outcome, alone.skipped_reason) == ("skipped", "entry.when is false")

    journeys = {"promo.yaml": PROMO, "wimax_welcome.yaml": WIMAX_WELCOME}
    after_update = _together(tmp_path, journeys)["wimax-welcome"]
    assert (after_update.runs, _sent(after_update)) == (1, [(0, "hello", "sms")])  # the promotion tagged them

    uploaded = [("document_uploaded", 2 * HOUR)]
    planned = [
        PlannedEvent("c1", Event(id="d1", name=n, data={"kind": "national_id"}, at=START + timedelta(seconds=s)))
        for n, s in uploaded
    ]
    (on_event,) = simulate_together(
        [(_journey(tmp_path, "w.yaml", WIMAX_WELCOME), SOURCE)], CUSTOMERS, planned, START, 5
    )
    result = on_event.customers[0]
    assert (result.runs, result.outcome, _sent(result)) == (1, "completed", [(2 * HOUR, "hello", "sms")])


def test_an_event_ends_the_runs_of_every_journey_that_exits_on_it(tmp_path: Path) -> None:
    both = _together(tmp_path, {"promo.yaml": PROMO, "reminder.yaml": REMINDER % "sms"}, [("opted_out", 2 * HOUR)])
    for journey in ("promo", "reminder"):
        result = both[journey]
        assert (result.outcome, result.exit_event, result.ended_offset_s) == ("exited", "opted_out", 2 * HOUR)
    assert _sent(both["promo"]) == [(0, "offer", "sms")]
    assert both["reminder"].messages == []  # it was waiting for its cap when the customer opted out


def test_one_journey_together_is_the_journey_alone(tmp_path: Path) -> None:
    journey = _journey(tmp_path, "promo.yaml", PROMO)
    events = [PlannedEvent("c1", Event(id="e1", name="opted_out", at=START + timedelta(days=2)))]
    (together,) = simulate_together([(journey, SOURCE)], CUSTOMERS, events, START, 5)
    assert together == simulate(journey, CUSTOMERS, events, START, 5, SOURCE)


def test_the_shipped_journeys_together_on_the_modem_swap_customers() -> None:
    """The other shipped journeys send nothing that the modem swap's caps count before it sends, so its story is
    the one told alone (tests/unit/scenarios); the onboarding welcome of those invited to the swap before it is
    held a day by the invitation, an email (onboarding sends one email a day), then by its quiet hours."""
    simulated = {}
    for name in ("modem_swap", "onboarding"):
        code, out, err = run("simulate", str(ROOT / "definitions" / f"{name}.yaml"), *_MODEM_SWAP_SCENARIO, "--json")
        assert code == 0, err
        simulated[name] = json.loads(out)
    code, out, err = run("simulate", str(ROOT / "definitions"), *_MODEM_SWAP_SCENARIO, "--json")
    assert code == 0, err
    together = json.loads(out)["journeys"]
    assert [s["journey"] for s in together] == ["complaint-followup", "cross-sell", "modem-swap", "onboarding"]
    assert together[2] == simulated["modem_swap"]
    welcome = {c["id"]: [m["offset_s"] for m in c["messages"]][:1] for c in together[3]["customers"]}
    welcome_alone = {c["id"]: [m["offset_s"] for m in c["messages"]][:1] for c in simulated["onboarding"]["customers"]}
    invited = {c["id"]: c["messages"][0]["offset_s"] for c in simulated["modem_swap"]["customers"] if c["messages"]}
    assert welcome_alone == {"c1": [12600], "c2": [12600], "c3": [12600], "c4": [], "c5": [12600], "c6": [12600]}
    assert invited == {"c1": 16200, "c2": 3600, "c3": 3600, "c6": 3600}  # Sara, in London, at 09:00 there
    # 09:00 in Tehran plus a day is 05:30 UTC, inside onboarding's quiet hours (20:00-08:00 UTC): 08:00 UTC
    assert welcome == {"c1": [12600], "c2": [99000], "c3": [99000], "c4": [], "c5": [12600], "c6": [99000]}


# --- the command ------------------------------------------------------------------------------------


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Two journeys in a folder, a customers file and an events file beside it."""
    definitions = tmp_path / "definitions"
    (definitions / "scenarios").mkdir(parents=True)  # a subfolder is not a journey
    (definitions / "b_reminder.yaml").write_text(REMINDER % "sms", encoding="utf-8")
    (definitions / "a_promo.yaml").write_text(PROMO, encoding="utf-8")
    (definitions / "notes.txt").write_text("not a journey", encoding="utf-8")
    (tmp_path / "customers.yaml").write_text(
        "- {id: c1, name: Sara, phone: '+15550001'}\n- {id: c2, name: Ali, phone: '+15550002'}\n", encoding="utf-8"
    )
    (tmp_path / "events.yaml").write_text("- {customer: c2, event: opted_out, after: 2h}\n", encoding="utf-8")
    return definitions


def _args(folder: Path, *paths: str) -> list[str]:
    return [
        "simulate",
        *paths,
        "--customers",
        str(folder.parent / "customers.yaml"),
        "--events",
        str(folder.parent / "events.yaml"),
        "--start",
        START.isoformat(),
        "--days",
        "5",
    ]


def test_the_command_prints_one_simulation_per_journey_in_the_order_given(folder: Path) -> None:
    promo, reminder = str(folder / "a_promo.yaml"), str(folder / "b_reminder.yaml")
    code, out, err = run(*_args(folder, promo, reminder), "--json")
    assert code == 0, err
    data = json.loads(out)
    assert list(data) == ["journeys"]
    assert [s["journey"] for s in data["journeys"]] == ["promo", "reminder"]
    for simulation in data["journeys"]:  # each one is what one journey's --json prints
        Simulation.model_validate(simulation)
        assert (simulation["days"], simulation["started_at"]) == (5, START.isoformat())
    reminded = {c["id"]: c for c in data["journeys"][1]["customers"]}
    assert [m["offset_s"] for m in reminded["c1"]["messages"]] == [DAY, 4 * DAY]
    assert (reminded["c2"]["outcome"], reminded["c2"]["ended_offset_s"]) == ("exited", 2 * HOUR)
    assert data["journeys"][1]["totals"] == {
        "messages": 2,
        "by_channel": {"sms": 2},
        "outcomes": {"completed": 1, "exited": 1},
    }

    code, out, err = run(*_args(folder, reminder, promo), "--json")
    assert code == 0, err
    data = json.loads(out)
    assert [s["journey"] for s in data["journeys"]] == ["reminder", "promo"]
    reminded = {c["id"]: c for c in data["journeys"][0]["customers"]}
    assert reminded["c1"]["messages"][0]["offset_s"] == 0  # first now: nothing sent before it


def test_a_folder_stands_for_its_journeys_sorted(folder: Path) -> None:
    code, out, err = run(*_args(folder, str(folder)), "--json")
    assert code == 0, err
    by_folder = json.loads(out)
    code, out, err = run(*_args(folder, str(folder / "a_promo.yaml"), str(folder / "b_reminder.yaml")), "--json")
    assert code == 0, err
    assert by_folder == json.loads(out)


def test_the_text_output_heads_each_journey(folder: Path) -> None:
    code, out, err = run(*_args(folder, str(folder)))
    assert code == 0, err
    first = out.index("journey 1 of 2: promo v1 — Promotion")
    second = out.index("journey 2 of 2: reminder v1 — Bill reminder")
    assert first < out.index("promo v1: 2 customer(s)") < second < out.index("reminder v1: 2 customer(s)")
    assert len(re.findall(r"\bc2\b", out)) >= 2  # every customer under each journey


def test_one_file_prints_as_it_always_did(folder: Path) -> None:
    promo = str(folder / "a_promo.yaml")
    code, out, err = run(*_args(folder, promo), "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["journey"] == "promo" and "journeys" not in data
    code, text, err = run(*_args(folder, promo))
    assert code == 0, err
    assert "journey 1 of" not in text and "promo v1: 2 customer(s)" in text


def _one_line_error(code: int, err: str) -> str:
    assert code == 1
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_several_journeys_on_temporal_are_refused_in_one_line(folder: Path) -> None:
    code, out, err = run(*_args(folder, str(folder)), "--engine", "temporal")
    assert "in-process only" in _one_line_error(code, err)
    assert out == ""


def test_a_folder_without_journeys_is_one_line(folder: Path) -> None:
    code, _, err = run(*_args(folder, str(folder / "scenarios")))
    assert "no journey definitions" in _one_line_error(code, err)


def test_a_journey_given_twice_is_one_line(folder: Path) -> None:
    code, _, err = run(*_args(folder, str(folder), str(folder / "a_promo.yaml")))
    assert "'promo' is given twice" in _one_line_error(code, err)


def test_the_problems_of_every_file_are_listed(folder: Path) -> None:
    (folder / "c_broken.yaml").write_text("id: Bad Id\nname: broken\nsteps: []\n", encoding="utf-8")
    (folder / "d_broken.yaml").write_text("id: Bad Id\nname: broken\nsteps: []\n", encoding="utf-8")
    code, out, err = run(*_args(folder, str(folder)))
    assert code == 1 and out == ""
    files = {line.split(":")[0] for line in err.splitlines() if line.strip()}
    assert files == {str(folder / "c_broken.yaml"), str(folder / "d_broken.yaml")}


def test_the_help_says_several_files() -> None:
    code, out, _ = run("simulate", "--help")
    assert code == 0
    assert "FILE}..." in out and "folders" in out
