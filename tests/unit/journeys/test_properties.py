"""Properties of the simulator on random journeys and random event streams.

Hypothesis builds journeys the validator accepts (every loop has a wait, a wait_for timeout or `max_visits`
in it, and every loop of sends a numeric `max_visits` or a step that says `max_visits: unlimited`), a few
customers in various zones and a stream of events (history before the start, ties, events at
the very start), then runs the real simulator and checks what the product promises: quiet hours, frequency
caps, exit_on, max_visits, runs that end or wait, messages in order, and determinism; and of two journeys
simulated together: caps that count both journeys' sends, and journeys that cannot act on each other running as
they run alone.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from journeys.engine import interpreter as engine
from journeys.engine.interpreter import next_clock, quiet_until
from journeys.engine.messages import MessageSource
from journeys.format.customers import Customer, Event
from journeys.format.inputs import PlannedEvent
from journeys.format.models import Journey, QuietHours, SendStep, Update, UpdateStep, WaitForStep, WaitStep
from journeys.format.validation import check
from journeys.format.yaml import Positions
from journeys.simulate.inprocess import SimCustomer, Simulation, simulate, simulate_together
from journeys.templates import TemplateFiles

TEMPLATES = TemplateFiles(Path(__file__).parent / "no-templates")  # inline messages only
SOURCE = MessageSource(TEMPLATES)

ZONES = ["UTC", "Asia/Tehran", "Europe/London", "America/New_York", "Asia/Kolkata"]
CUSTOMER_ZONES = [None, *ZONES, "Mars/Olympus_Mons"]  # an unknown zone falls back to the journey's
WAITED_FOR = ["registered", "delivered", "clicked"]
GOALS = ["swapped", "opted_out", "registered"]
TAGS = ["vip", "new", "churned"]
DURATIONS = ["30m", "1h", "2h", "6h", "12h", "1d", "2d", "3d"]
PERIODS = ["1h", "6h", "1d", "2d", "7d"]
CLOCKS = [time(h, m) for h in (0, 1, 2, 8, 9, 12, 18, 21, 22, 23) for m in (0, 30)]
CONDITIONS = [
    "'vip' in customer.tags",
    "'new' not in customer.tags",
    "customer.attributes.get('score', 0) > 1",
    "'registered' in customer.events",
    "customer.timezone == 'Asia/Tehran'",
]
# Starts just before daylight-saving changes (New York and London, spring and autumn 2026) and an ordinary day.
STARTS = [
    datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc),
    datetime(2026, 10, 31, 18, 0, tzinfo=timezone.utc),
    datetime(2026, 10, 24, 18, 0, tzinfo=timezone.utc),
    datetime(2026, 3, 7, 18, 0, tzinfo=timezone.utc),
    datetime(2026, 3, 28, 18, 0, tzinfo=timezone.utc),
]
MESSAGES: dict[str, dict[str, Any]] = {
    "email": {"subject": "Hello {{ customer.id }}", "text": "Your modem is waiting."},
    "sms": {"text": "Modem for {{ customer.id }}"},
    "voice": {"say": "Your free modem is waiting."},
    "webhook": {"url": "https://example.com/hook", "body": {"customer": "{{ customer.id }}"}},
}
ENDED = {"completed", "exited", "holdout", "failed"}
SETTINGS = settings(max_examples=100, deadline=None)


# --- journeys ---------------------------------------------------------------------------------------


def _clock(t: time) -> str:
    return t.strftime("%H:%M")


@st.composite
def _step(draw: st.DrawFn, i: int, ids: list[str]) -> dict[str, Any]:
    """Step `i`. Only steps that pause (wait, a wait_for timeout) or are bounded (max_visits) may jump back."""
    forward = ids[i + 1 :]
    kind = draw(
        st.sampled_from(
            ["send", "send", "send", "wait", "wait_for", "wait_for", "branch", "split", "update", "goto", "end"]
        )
    )
    bounded = kind != "end" and draw(st.integers(0, 3)) == 0
    step: dict[str, Any] = {"id": ids[i]}
    if bounded:
        step["max_visits"] = draw(st.integers(1, 3))
        if forward:  # the N+1-th arrival always moves on, never back
            step["on_max"] = draw(st.sampled_from(forward))
    back = bounded

    def target(back_ok: bool) -> str | None:
        choices = ids if back_ok else forward
        return draw(st.sampled_from(choices)) if choices else None

    if kind in ("goto", "branch", "split") and target(back) is None:
        kind = "end"
    if kind == "send":
        channel = draw(st.sampled_from(list(MESSAGES)))
        step |= {"send": channel, "message": MESSAGES[channel]}
        if draw(st.integers(0, 4)) == 0:
            step["respect_quiet_hours"] = False
        step["on_cap"] = draw(st.sampled_from(["postpone", "postpone", "skip"]))
        step["on_failure"] = draw(st.sampled_from(["continue", "end"]))
    elif kind == "wait":
        if draw(st.integers(0, 3)) == 0:  # may end at once (arriving at that very minute): never on a way back
            step["wait"] = {"until": _clock(draw(st.sampled_from(CLOCKS)))}
        else:
            step["wait"] = draw(st.sampled_from(DURATIONS))
    elif kind == "wait_for":
        names = draw(st.lists(st.sampled_from(WAITED_FOR), min_size=1, max_size=2, unique=True))
        since = draw(st.sampled_from(["enrolment", "step"]))
        step |= {"wait_for": names, "timeout": draw(st.sampled_from(DURATIONS)), "since": since}
        if draw(st.booleans()):
            step["on_timeout"] = target(True)  # only after the timeout: always a pause
        # With `since: enrolment` an event already received counts again at once, so going back on it would spin.
        on_event = {name: target(back or since == "step") for name in names if draw(st.booleans())}
        step["on_event"] = {k: v for k, v in on_event.items() if v is not None}
    elif kind == "branch":
        cases = draw(st.lists(st.sampled_from(CONDITIONS), min_size=1, max_size=2, unique=True))
        step["branch"] = [{"when": when, "goto": target(back)} for when in cases]
        if draw(st.booleans()):
            step["else"] = target(back)
    elif kind == "split":
        share = draw(st.sampled_from([0, 10, 50, 90, 100]))
        step["split"] = {"test": {"percent": share, "goto": target(back)}, "holdout": {"percent": 100 - share}}
        if draw(st.booleans()):
            step["split"]["holdout"]["goto"] = target(back)
    elif kind == "update":
        step["update"] = {
            "set": {"score": draw(st.integers(0, 3))},
            "tags": {
                "add": draw(st.lists(st.sampled_from(TAGS), max_size=1)),
                "remove": draw(st.lists(st.sampled_from(TAGS), max_size=1)),
            },
        }
    elif kind == "goto":
        step["goto"] = target(back)
    else:
        step["end"] = draw(st.sampled_from([None, "converted", "lost"]))
    if kind not in ("goto", "end") and draw(st.integers(0, 3)) == 0:
        # `next` is also where an exhausted step goes when it has no on_max: never back then. A wait_for
        # takes `next` on an event too, so it may go back only if old events do not count (`since: step`).
        exhausted_moves_on = not bounded or "on_max" in step
        pauses = (kind == "wait" and isinstance(step["wait"], str)) or (kind == "wait_for" and step["since"] == "step")
        after = target(exhausted_moves_on and (bounded or pauses))
        if after is not None:
            step["next"] = after
    jumps = [step.get("next"), step.get("on_timeout"), *step.get("on_event", {}).values()]
    if not bounded and any(t is not None and t not in forward for t in jumps):
        step["max_visits"] = "unlimited"  # a loop of sends back through this pause goes on: said, as validate asks
    return step


_UNREACHABLE = re.compile(r"step '([^']+)' is unreachable")


def _valid(data: dict[str, Any]) -> Journey:
    """The journey with the steps no path reaches left out (that changes no reachable step's paths)."""
    while True:
        journey = Journey.model_validate(data)
        errors = [p for p in check(journey, Positions(), "random.yaml", TEMPLATES) if p.severity == "error"]
        dead = {m.group(1) for p in errors if (m := _UNREACHABLE.search(p.message))}
        if not dead:
            assert not errors, "\n".join(str(p) for p in errors)  # the generator makes only valid journeys
            return journey
        # A `next` that a step never takes (a branch with `else`, ...) may name a step left out: drop it too.
        steps = [{k: v for k, v in s.items() if k != "next" or v not in dead} for s in data["steps"]]
        data = {**data, "steps": [s for s in steps if s["id"] not in dead]}


@st.composite
def journeys(draw: st.DrawFn) -> Journey:
    n = draw(st.integers(2, 8))
    ids = [f"s{i}" for i in range(n)]
    data: dict[str, Any] = {
        "id": "random",
        "name": "Random journey",
        "timezone": draw(st.sampled_from(ZONES)),
        "exit_on": draw(st.lists(st.sampled_from(GOALS), max_size=2, unique=True)),
        "steps": [draw(_step(i, ids)) for i in range(n)],
    }
    if draw(st.integers(0, 3)) > 0:
        start, end = draw(st.lists(st.sampled_from(CLOCKS), min_size=2, max_size=2, unique=True))
        data["quiet_hours"] = {"start": _clock(start), "end": _clock(end)}
    if draw(st.integers(0, 3)) > 0:
        data["limits"] = draw(
            st.lists(
                st.fixed_dictionaries(
                    {
                        "channel": st.sampled_from(["email", "sms", "voice", "webhook", "any"]),
                        "max": st.integers(1, 3),
                        "per": st.sampled_from(PERIODS),
                    }
                ),
                min_size=1,
                max_size=3,
            )
        )
    return _valid(data)


# --- customers, events, scenarios -------------------------------------------------------------------


@st.composite
def customers(draw: st.DrawFn) -> list[Customer]:
    count = draw(st.integers(1, 3))
    return [
        Customer(
            id=f"c{i}",
            name=f"Customer {i}",
            email=f"c{i}@example.com",
            phone=draw(st.sampled_from([f"+1555000{i}", f"+1555000{i}", None])),
            timezone=draw(st.sampled_from(CUSTOMER_ZONES)),
            tags=draw(st.lists(st.sampled_from(TAGS), unique=True, max_size=2)),
            attributes={"score": draw(st.integers(0, 3))},
        )
        for i in range(count)
    ]


class Scenario:
    def __init__(
        self, journey: Journey, people: list[Customer], events: list[PlannedEvent], start: datetime, days: int
    ):
        self.journey, self.customers, self.events, self.start, self.days = journey, people, events, start, days
        self.end_s = days * 86_400

    def run(self, days: int | None = None, people: list[Customer] | None = None) -> Simulation:
        return simulate(
            self.journey,
            self.customers if people is None else people,
            self.events,
            self.start,
            self.days if days is None else days,
            SOURCE,
        )

    def customer(self, customer_id: str) -> Customer:
        return next(c for c in self.customers if c.id == customer_id)

    def offsets(self, customer_id: str, names: set[str] | list[str]) -> list[tuple[int, str]]:
        """(offset, name) of this customer's events named so, delivered during the simulation (not history)."""
        return [
            (offset, p.event.name)
            for p in self.events
            if p.customer == customer_id
            and p.event.name in names
            and 0 <= (offset := int((p.event.at - self.start).total_seconds())) <= self.end_s
        ]

    def __repr__(self) -> str:  # what a failing example shows
        return (
            f"Scenario(start={self.start.isoformat()}, days={self.days},\n"
            f"  journey={self.journey.model_dump(mode='json', exclude_defaults=True)},\n"
            f"  customers={[c.model_dump(exclude_defaults=True) for c in self.customers]},\n"
            f"  events={[(p.customer, p.event.name, p.event.at.isoformat()) for p in self.events]})"
        )


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    journey = draw(journeys())
    people = draw(customers())
    start = draw(st.sampled_from(STARTS)) + timedelta(minutes=15 * draw(st.integers(0, 4 * 36)))
    days = draw(st.integers(1, 6))
    names = sorted(set(journey.exit_on) | {n for s in journey.steps if isinstance(s, WaitForStep) for n in s.wait_for})
    names = names or ["clicked"]
    quarter_hours = st.integers(-4 * 48, 4 * 24 * (days + 1))  # history, ties with timers, past the end
    raw = draw(
        st.lists(st.tuples(st.sampled_from([c.id for c in people]), st.sampled_from(names), quarter_hours), max_size=8)
    )
    if raw and draw(st.booleans()):  # an event exactly at the start
        raw[0] = (raw[0][0], raw[0][1], 0)
    events = [
        PlannedEvent(who, Event(id=f"e{i}", name=name, at=start + timedelta(minutes=15 * q)))
        for i, (who, name, q) in enumerate(raw)
    ]
    events.sort(key=lambda p: p.event.at)  # as `read_events` gives them
    return Scenario(journey, people, events, start, days)


# --- helpers ----------------------------------------------------------------------------------------


def _zone(customer: Customer, journey: Journey) -> ZoneInfo:
    try:
        return ZoneInfo(customer.timezone) if customer.timezone else journey.timezone
    except (KeyError, ValueError):
        return journey.timezone


def _inside(clock: time, start: time, end: time) -> bool:
    if start < end:
        return start <= clock < end
    return start > end and (clock >= start or clock < end)


def _each(sim: Simulation, scenario: Scenario) -> list[tuple[SimCustomer, Customer]]:
    assert [r.id for r in sim.customers] == [c.id for c in scenario.customers]
    return [(r, scenario.customer(r.id)) for r in sim.customers]


# --- properties -------------------------------------------------------------------------------------


@SETTINGS
@given(scenarios())
def test_simulation_never_sends_inside_quiet_hours(scenario: Scenario) -> None:
    quiet = scenario.journey.quiet_hours
    for result, customer in _each(scenario.run(), scenario):
        zone = _zone(customer, scenario.journey)
        for message in result.messages:
            step = scenario.journey.step(message.step)
            assert isinstance(step, SendStep)
            if quiet is None or not step.respect_quiet_hours:
                continue
            local = datetime.fromisoformat(message.at).astimezone(zone)
            assert not _inside(local.time(), quiet.start, quiet.end), (customer.id, local.isoformat(), message)


@SETTINGS
@given(scenarios())
def test_simulation_never_breaks_a_frequency_cap(scenario: Scenario) -> None:
    for result, _ in _each(scenario.run(), scenario):
        for limit in scenario.journey.limits:
            per = int(limit.per.total_seconds())
            times = [m.offset_s for m in result.messages if limit.channel in ("any", m.channel)]
            for t in times:
                in_window = [u for u in times if t - per < u <= t]
                assert len(in_window) <= limit.max, (result.id, limit, t, in_window)


@SETTINGS
@given(scenarios())
def test_simulation_sends_nothing_at_or_after_an_exit_event(scenario: Scenario) -> None:
    for result, _ in _each(scenario.run(), scenario):
        exits = scenario.offsets(result.id, scenario.journey.exit_on)
        if not exits:
            assert result.outcome != "exited"
            continue
        first = min(offset for offset, _ in exits)
        if result.outcome == "exited":
            assert result.ended_offset_s == first, (result.id, exits, result)
            assert result.exit_event in {name for offset, name in exits if offset == first}
            assert all(m.offset_s < first for m in result.messages), (result.id, exits, result.messages)
        else:  # the run was over before the goal came
            assert result.ended_offset_s is not None and result.ended_offset_s < first, (result.id, exits, result)


@SETTINGS
@given(scenarios())
def test_simulation_leaves_every_run_ended_or_waiting(scenario: Scenario) -> None:
    for result, _ in _each(scenario.run(), scenario):
        assert result.enrolled and result.runs == 1  # no entry rules, no trigger: everyone at the start
        assert result.failure is None, result.failure  # valid journeys with plain messages never fail
        assert result.outcome in ENDED | {"running"}
        if result.outcome == "running":
            assert result.ended_offset_s is None and result.current_step is not None
            assert result.steps[-1].step == result.current_step
            step = scenario.journey.step(result.current_step)
            assert isinstance(step, WaitStep | WaitForStep | SendStep), step  # a timer, events, quiet hours, caps
            if isinstance(step, SendStep):
                assert scenario.journey.limits or (step.respect_quiet_hours and scenario.journey.quiet_hours)
        else:
            assert result.current_step is None
            assert result.ended_offset_s is not None and 0 <= result.ended_offset_s <= scenario.end_s


@settings(SETTINGS, max_examples=50)
@given(scenarios(), st.integers(1, 3))
def test_simulation_longer_horizon_keeps_what_happened_before(scenario: Scenario, more: int) -> None:
    """The simulator never stops half-way: running longer only adds what happens after the first end."""
    short, long = scenario.run(), scenario.run(days=scenario.days + more)
    end = scenario.end_s
    for a, b in zip(short.customers, long.customers, strict=True):
        assert [m for m in b.messages if m.offset_s <= end] == a.messages
        assert [s for s in b.steps if s.offset_s <= end] == a.steps
        if a.outcome == "running":
            assert b.outcome == "running" or b.ended_offset_s > end, (a, b)
        else:
            assert (b.outcome, b.ended_offset_s, b.exit_event, b.end_label) == (
                a.outcome,
                a.ended_offset_s,
                a.exit_event,
                a.end_label,
            )


@settings(SETTINGS, max_examples=50)
@given(scenarios())
def test_simulation_is_deterministic_and_each_customer_on_their_own(scenario: Scenario) -> None:
    first = scenario.run()
    assert scenario.run().model_dump_json() == first.model_dump_json()
    backwards = scenario.run(people=scenario.customers[::-1])
    assert backwards.customers[::-1] == first.customers
    for result in first.customers:  # so split cohorts too are the customer's own, every time
        alone = scenario.run(people=[scenario.customer(result.id)])
        assert alone.customers == [result]


@SETTINGS
@given(scenarios())
def test_simulation_respects_max_visits(scenario: Scenario) -> None:
    for result, _ in _each(scenario.run(), scenario):
        entered = Counter(s.step for s in result.steps)
        for step in scenario.journey.steps:
            if step.visit_limit is not None:
                assert entered[step.id] <= step.visit_limit, (result.id, step.id, result.steps)


@SETTINGS
@given(scenarios())
def test_simulation_lists_messages_in_time_order(scenario: Scenario) -> None:
    sim = scenario.run()
    for result, _ in _each(sim, scenario):
        offsets = [m.offset_s for m in result.messages]
        assert offsets == sorted(offsets), result.messages
        assert [s.offset_s for s in result.steps] == sorted(s.offset_s for s in result.steps), result.steps
        for message in result.messages:
            assert 0 <= message.offset_s <= scenario.end_s
            at = datetime.fromisoformat(message.at)
            assert at == scenario.start + timedelta(seconds=message.offset_s), message
            step = scenario.journey.step(message.step)
            assert isinstance(step, SendStep) and step.send == message.channel
            entered_before = [s for s in result.steps if s.step == message.step and s.offset_s <= message.offset_s]
            assert entered_before, (message, result.steps)  # sent from a step the run had arrived at
    assert sim.totals.messages == sum(len(r.messages) for r in sim.customers)


# --- journeys simulated together --------------------------------------------------------------------


def _apart(journey: Journey, journey_id: str) -> Journey:
    """The journey under another id, without limits and with updates that change nothing: it cannot act on a
    journey simulated with it (events reach both alike)."""
    steps = [s.model_copy(update={"update": Update()}) if isinstance(s, UpdateStep) else s for s in journey.steps]
    fields = {name: getattr(journey, name) for name in Journey.model_fields}
    return Journey.model_validate({**fields, "id": journey_id, "limits": [], "steps": steps})


@settings(SETTINGS, max_examples=50)
@given(scenarios(), journeys())
def test_journeys_that_cannot_act_on_each_other_run_together_as_alone(scenario: Scenario, other: Journey) -> None:
    """Each journey is driven at its own times only: another journey's timers and sends do not move it."""
    pair = [_apart(scenario.journey, "first"), _apart(other, "second")]
    together = simulate_together(
        [(j, SOURCE) for j in pair], scenario.customers, scenario.events, scenario.start, scenario.days
    )
    for journey, simulation in zip(pair, together, strict=True):
        assert simulation == simulate(
            journey, scenario.customers, scenario.events, scenario.start, scenario.days, SOURCE
        )


@SETTINGS
@given(scenarios(), journeys())
def test_journeys_together_never_break_a_cap_counting_every_journeys_sends(scenario: Scenario, other: Journey) -> None:
    """A send is held while the journey's limits are full of any journey's sends. Journeys act in the order given
    when they act at the same moment, so a send at that moment counts those of the journeys before it."""
    pair = [scenario.journey, other]
    together = simulate_together(
        [(j, SOURCE) for j in pair], scenario.customers, scenario.events, scenario.start, scenario.days
    )
    for index, customer in enumerate(scenario.customers):
        lanes = [simulation.customers[index] for simulation in together]
        assert {lane.id for lane in lanes} == {customer.id}
        # every message as the customer's ledger saw it: by time, then journey, then the journey's own order
        ledger = sorted(
            (m.offset_s, lane, n, m.channel) for lane, r in enumerate(lanes) for n, m in enumerate(r.messages)
        )
        for position, (t, lane, _, channel) in enumerate(ledger):
            for limit in pair[lane].limits:
                if limit.channel not in ("any", channel):
                    continue
                per = int(limit.per.total_seconds())
                before = [e for e in ledger[:position] if t - per < e[0] <= t and limit.channel in ("any", e[3])]
                assert len(before) < limit.max, (customer.id, lane, limit, t, before)


# --- minimal reproductions of what the properties found ---------------------------------------------

SMS = {"send": "sms", "message": {"text": "Modem"}}


def _one(journey: dict[str, Any], start: datetime, events: Sequence[tuple[str, timedelta]] = ()) -> SimCustomer:
    planned = [PlannedEvent("c0", Event(id=f"e{i}", name=n, at=start + d)) for i, (n, d) in enumerate(events)]
    customer = Customer(id="c0", phone="+15550000", email="c0@example.com")
    j = Journey.model_validate({"id": "min", "name": "Minimal", **journey})
    return simulate(j, [customer], planned, start, 2, SOURCE).customers[0]


def test_simulation_exit_event_at_the_start_comes_before_the_first_send() -> None:
    result = _one({"exit_on": ["swapped"], "steps": [{"id": "a", **SMS}]}, STARTS[0], [("swapped", timedelta(0))])
    assert (result.outcome, result.exit_event, result.ended_offset_s, result.messages) == ("exited", "swapped", 0, [])


def test_simulation_delivers_every_event_of_an_instant_before_the_run_moves_on() -> None:
    steps = [{"id": "w", "wait_for": "registered", "timeout": "1d"}, {"id": "a", **SMS}]
    hour = timedelta(hours=1)
    result = _one({"exit_on": ["swapped"], "steps": steps}, STARTS[0], [("registered", hour), ("swapped", hour)])
    assert (result.outcome, result.ended_offset_s, result.messages) == ("exited", 3600, [])


def test_simulation_holds_quiet_hours_through_the_repeated_hour_of_a_clock_change() -> None:
    """New York, 1 November 2026: 01:00-02:00 happens twice. At the second 01:10 (EST) quiet hours that end at
    01:30 end at 01:30 EST, 06:30 UTC, not at the first 01:30 (EDT), which is already past."""
    journey = {
        "timezone": "America/New_York",
        "quiet_hours": {"start": "21:00", "end": "01:30"},
        "steps": [{"id": "w", "wait": "1h"}, {"id": "a", **SMS}],
    }
    result = _one(journey, datetime(2026, 11, 1, 5, 10, tzinfo=timezone.utc))  # 01:10 EDT; after 1h, 01:10 EST
    assert [(m.offset_s, m.at) for m in result.messages] == [(4800, "2026-11-01T06:30:00+00:00")]


# --- the clock helpers, sampled densely around daylight-saving changes ------------------------------

# The clock changes of 2026 in New York and London; and any zone, any moment of the scenarios' first days.
CHANGES = [
    (datetime(2026, 3, 8, 7, 0, tzinfo=timezone.utc), "America/New_York"),
    (datetime(2026, 11, 1, 6, 0, tzinfo=timezone.utc), "America/New_York"),
    (datetime(2026, 3, 29, 1, 0, tzinfo=timezone.utc), "Europe/London"),
    (datetime(2026, 10, 25, 1, 0, tzinfo=timezone.utc), "Europe/London"),
]
five_minutes = st.integers(-36, 36).map(lambda n: timedelta(minutes=5 * n))  # up to 3 hours either way
moments = st.one_of(
    st.builds(lambda change, d: (change[0] + d, ZoneInfo(change[1])), st.sampled_from(CHANGES), five_minutes),
    st.builds(
        lambda base, n, zone: (base + timedelta(minutes=5 * n), ZoneInfo(zone)),
        st.sampled_from(STARTS),
        st.integers(0, 12 * 48),
        st.sampled_from(ZONES),
    ),
)


def _wall(at: datetime, zone: ZoneInfo) -> time:
    return at.astimezone(zone).time().replace(tzinfo=None, fold=0)  # as a written HH:MM is


@settings(max_examples=300, deadline=None)
@given(moments, five_minutes)
def test_next_clock_is_never_before_now_and_shows_that_clock(moment: tuple[datetime, ZoneInfo], d: timedelta) -> None:
    at, zone = moment
    clock = _wall(at + d, zone)  # a wall time near `at`, to meet clock changes often
    result = next_clock(clock, zone, at)
    assert at <= result < at + timedelta(hours=25), (at, clock, result)
    if _wall(result, zone) != clock:  # only a time the clock change skips may be missed
        assert result.astimezone(zone).utcoffset() != (result - timedelta(hours=1)).astimezone(zone).utcoffset()
    step = timedelta(minutes=5)
    earlier = [at + k * step for k in range(int((result - at) / step))]
    assert all(_wall(t, zone) != clock for t in earlier), (at, clock, result)


@settings(max_examples=300, deadline=None)
@given(moments, five_minutes, five_minutes)
def test_quiet_until_holds_a_send_until_quiet_hours_end(
    moment: tuple[datetime, ZoneInfo], before: timedelta, after: timedelta
) -> None:
    at, zone = moment
    start, end = _wall(at - abs(before), zone), _wall(at + abs(after), zone)
    until = quiet_until(QuietHours(start=start, end=end), zone, at)
    if not _inside(_wall(at, zone), start, end):
        assert until is None
        return
    assert until is not None and until > at and not _inside(_wall(until, zone), start, end), (at, start, end, until)
    step = timedelta(minutes=5)
    first_outside = next(at + k * step for k in range(1, 400) if not _inside(_wall(at + k * step, zone), start, end))
    # Exactly when quiet hours end. Across a clock change the wall clock may jump over their end (spring) or
    # back out of them before reaching it (autumn): the send then waits for the next `end`, never less.
    assert first_outside <= until < at + timedelta(hours=25), (at, start, end, until, first_outside)
    if until != first_outside:
        assert at.astimezone(zone).utcoffset() != until.astimezone(zone).utcoffset(), (at, start, end, until)
        assert until == next_clock(end, zone, at)


# --- loops the validator must refuse ----------------------------------------------------------------


def test_validator_refuses_a_loop_that_comes_back_through_on_max() -> None:
    """`pause` has a wait and max_visits, but from its third arrival it forwards to `next: remind` at once:
    sends at one instant forever. The validator refuses it, and the interpreter fails such a run if it ran."""
    data = {
        "id": "spin",
        "name": "Spin",
        "steps": [{"id": "remind", **SMS}, {"id": "pause", "wait": "1d", "max_visits": 2, "next": "remind"}],
    }
    journey = Journey.model_validate(data)
    problems = [p.message for p in check(journey, Positions(), "spin.yaml", TEMPLATES) if p.severity == "error"]
    assert problems == [
        "loop remind → pause (on_max) can run forever: past max_visits, on_max leads back into it "
        "with nothing that waits"
    ]
    customer, now = Customer(id="c0", phone="+15550000"), STARTS[0]
    state, _ = engine.start(journey, customer.id, now)
    sends = 0
    while isinstance(command := engine.advance(journey, state, customer, now, []).command, engine.Send | engine.Wait):
        if isinstance(command, engine.Wait):
            now = command.until
            continue
        engine.complete(journey, state, "sent", now)
        sends += 1
    assert state.outcome == "failed" and "without waiting" in (state.failure or "")
    assert sends <= engine.MAX_BURST + 2  # the two visits that waited, then the burst
