"""`journeys simulate`: the real interpreter on a simulated clock, in-process, sending nothing.

Customers are independent of each other, so each is simulated on its own: events are delivered at their
time, timers fire at theirs, and every message the channels would have sent is rendered and listed.
Journeys simulated together (`simulate_together`) share each customer's time line, as they do live: the
customer as events and `update` steps change them, and the send ledger that frequency caps count, so one
journey's sends hold another's, one event ends the runs of every journey that exits on it, and an event
starts every journey it triggers. A journey with `entry.continuous` enrols a customer when an event or another
journey's `update` step makes its entry true for them.
"""

from __future__ import annotations

import gc
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field

from journeys.engine import interpreter as engine
from journeys.engine.interpreter import PastRun, RunState
from journeys.engine.messages import MessageSource, Undeliverable, render_message
from journeys.format.customers import Customer, Event
from journeys.format.inputs import PlannedEvent
from journeys.format.models import Journey
from journeys.templates import TemplateError, literal, render_value


class SimStep(BaseModel):
    offset_s: int
    step: str


class SimMessage(BaseModel):
    offset_s: int
    at: str
    step: str
    channel: str
    to: str
    subject: str | None = None
    body: str
    sms: dict[str, Any] | None = None


class SimCustomer(BaseModel):
    id: str
    enrolled: bool = False
    skipped_reason: str | None = None
    outcome: str = "skipped"  # an interpreter Outcome, or running / skipped
    exit_event: str | None = None
    end_label: str | None = None
    ended_offset_s: int | None = None
    current_step: str | None = None
    runs: int = 0
    failure: str | None = None
    steps: list[SimStep] = Field(default_factory=list)
    messages: list[SimMessage] = Field(default_factory=list)
    skipped_sends: list[dict[str, Any]] = Field(default_factory=list)
    updates: list[dict[str, Any]] = Field(default_factory=list)


class Totals(BaseModel):
    messages: int
    by_channel: dict[str, int]
    outcomes: dict[str, int]


class Simulation(BaseModel):
    journey: str
    version: int
    days: int
    started_at: str
    customers: list[SimCustomer]
    totals: Totals


def simulate(
    journey: Journey,
    customers: Iterable[Customer],
    events: Iterable[PlannedEvent],
    start: datetime,
    days: int,
    source: MessageSource,
) -> Simulation:
    """Simulate `days` days from `start` for every customer."""
    (simulation,) = simulate_together([(journey, source)], customers, events, start, days)
    return simulation


def simulate_together(
    journeys: Sequence[tuple[Journey, MessageSource]],
    customers: Iterable[Customer],
    events: Iterable[PlannedEvent],
    start: datetime,
    days: int,
) -> list[Simulation]:
    """Simulate several journeys on the same customers for `days` days from `start`: one simulation per
    journey, in the order given (which is also the order their runs act in when they act at the same moment)."""
    by_customer: dict[str, list[Event]] = defaultdict(list)
    for planned in events:
        by_customer[planned.customer].append(planned.event)
    end = start + timedelta(days=days)
    with _without_cycle_collector():
        per_customer = [
            _Timeline(customer, start, end).simulate(journeys, by_customer.get(customer.id, []))
            for customer in customers
        ]
    return [
        _simulation(journey, start, days, [lanes[index] for lanes in per_customer])
        for index, (journey, _) in enumerate(journeys)
    ]


@contextmanager
def _without_cycle_collector() -> Iterator[None]:
    """Pause Python's cycle collector while a simulation runs. A simulation makes millions of small objects and
    keeps a good share of them (its result), so the collector walks a growing heap again and again: about a
    tenth of the time, and for the shipped journeys it found nothing to collect (what the interpreter, the
    renders and the results drop, reference counting frees at once). It runs again once the customers are
    simulated, and collects then whatever a template's cycles left."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _simulation(journey: Journey, start: datetime, days: int, results: list[SimCustomer]) -> Simulation:
    messages = [m for r in results for m in r.messages]
    return Simulation(
        journey=journey.id,
        version=journey.version,
        days=days,
        started_at=start.isoformat(),
        customers=results,
        totals=Totals(
            messages=len(messages),
            by_channel=dict(Counter(m.channel for m in messages)),
            outcomes=dict(Counter(r.outcome for r in results)),
        ),
    )


class _Timeline:
    """One customer's simulated time line, shared by every journey simulated: the customer as events and
    updates change them, and the send ledger of all journeys (frequency caps count every journey's sends)."""

    def __init__(self, customer: Customer, start: datetime, end: datetime):
        self.customer = customer
        self.start = start
        self.end = end
        self.ledger: list[engine.SentMessage] = []
        self._last: tuple[datetime, int] = (start, 0)  # the last offset asked for: a wake asks for its moment often

    def simulate(self, journeys: Sequence[tuple[Journey, MessageSource]], events: list[Event]) -> list[SimCustomer]:
        """Each journey's result for this customer, in the order of `journeys`."""
        lanes = [_Lane(self, journey, source) for journey, source in journeys]
        history = [e for e in events if e.at < self.start]
        future = [e for e in events if self.start <= e.at <= self.end]
        for event in history:
            self.customer = self.customer.with_event(event)
        for lane in lanes:
            lane.begin()
        pending = iter(future)
        upcoming = next(pending, None)
        now = self.start
        woken = True  # at the start every lane acts
        while True:
            while upcoming is not None and upcoming.at <= now:  # every event due now, before any run moves on
                self.customer = self.customer.with_event(upcoming)
                for lane in lanes:
                    lane.deliver(upcoming)
                upcoming = next(pending, None)
                woken = True  # an event wakes every run, as a delivery does live
            for lane in lanes:  # in the order given: a send or an update is seen by the lanes after it
                if woken or (lane.wake is not None and lane.wake <= now):
                    before = self.customer
                    lane.wake = lane.drive(now)
                    if self.customer is not before:  # its update step changed the customer
                        for other in lanes:
                            if other is not lane:
                                other.changed(now)
            wakes = [lane.wake for lane in lanes if lane.wake is not None]
            wake = min(wakes) if wakes else None
            if upcoming is not None and (wake is None or upcoming.at <= wake):
                now, woken = upcoming.at, False
            elif wake is not None and wake <= self.end:
                now, woken = wake, False
            else:
                break
        return [lane.summarise() for lane in lanes]

    def offset(self, at: datetime) -> int:
        """Seconds from the start to `at` (the same moment object is asked for again and again while a run acts)."""
        last, seconds = self._last
        if at is not last:
            seconds = int((at - self.start).total_seconds())
            self._last = (at, seconds)
        return seconds


class _Lane:
    """One journey's runs on a customer's time line: its run state, its past runs (for `re_entry`) and what
    the simulation says of it."""

    def __init__(self, timeline: _Timeline, journey: Journey, source: MessageSource):
        self.timeline = timeline
        self.journey = journey
        self.source = source
        self.past: list[PastRun] = []
        self.state: RunState | None = None
        self.wake: datetime | None = None  # when the live run next wants to act (None: only an event moves it)
        # what the simulation says of it, as plain data: `summarise` makes the `SimCustomer` in one validation, which
        # costs a fraction of building its steps and messages one model at a time
        self.steps: list[dict[str, Any]] = []
        self.messages: list[dict[str, Any]] = []
        self.skipped_sends: list[dict[str, Any]] = []
        self.updates: list[dict[str, Any]] = []
        self.record: dict[str, Any] = {"id": timeline.customer.id, "runs": 0}

    def begin(self) -> None:
        """At the start: enrol, unless the journey waits for its trigger."""
        trigger = self.journey.entry.trigger
        if trigger is None:
            self._enrol(self.timeline.start, None)
        else:
            self.record["skipped_reason"] = f"not triggered: no '{trigger}' event"

    def _enrol(self, now: datetime, trigger: Event | None) -> None:
        reason = engine.enrolment_refusal(self.journey, self.timeline.customer, now, self.past)
        if reason is not None:
            if not self.record.get("enrolled"):
                self.record["skipped_reason"] = reason
            return
        self.state, entered = engine.start(self.journey, self.timeline.customer.id, now, trigger)
        self.past.append(PastRun())
        self.record["enrolled"] = True
        self.record["skipped_reason"] = None
        self.record["runs"] += 1
        self._record_steps(entered, now)

    def deliver(self, event: Event) -> None:
        """Take in an event the time line has recorded: a live run receives it, else it may start a run."""
        if self.state is not None and self.state.live:
            engine.receive(self.journey, self.state, event)
            self._note_end()
        elif event.name == self.journey.entry.trigger:
            self._enrol(event.at, event)
        else:
            self.changed(event.at)

    def changed(self, now: datetime) -> None:
        """The customer changed (an event, another journey's update): a continuous journey without a live run
        enrols them if its entry now lets them in."""
        if self.journey.entry.continuous and (self.state is None or not self.state.live):
            self._enrol(now, None)
            if self.state is not None and self.state.live:
                self.wake = now  # its first steps are taken now

    def drive(self, now: datetime) -> datetime | None:
        """Advance the live run at `now`; when it next wants to wake (None: never)."""
        while self.state is not None and self.state.live:
            decision = engine.advance(self.journey, self.state, self.timeline.customer, now, self.timeline.ledger)
            self._record_steps(decision.entered, now)
            command = decision.command
            if isinstance(command, engine.Wait):
                return command.until
            if isinstance(command, engine.Send):
                result = self._send(command, now)
                self._record_steps(engine.complete(self.journey, self.state, result, now), now)
            elif isinstance(command, engine.ApplyUpdate):
                self._update(command, now)
                self._record_steps(engine.complete(self.journey, self.state, "done", now), now)
        self._note_end()
        return None

    def _send(self, command: engine.Send, now: datetime) -> engine.SendResult:
        assert self.state is not None
        customer = self.timeline.customer
        context = engine.expression_context(self.journey, self.state, customer, now)
        try:
            message = self.source.message(command, customer.locale)
            rendered = render_message(command.channel, message, customer, context)
        except Undeliverable as exc:
            self.skipped_sends.append(
                {"offset_s": self._offset(now), "step": command.step, "channel": command.channel, "reason": str(exc)}
            )
            return "skipped"
        except TemplateError as exc:
            self.skipped_sends.append(
                {"offset_s": self._offset(now), "step": command.step, "channel": command.channel, "reason": str(exc)}
            )
            return "failed"
        self.timeline.ledger.append(engine.SentMessage(at=now, channel=command.channel))
        self.messages.append(
            {
                "offset_s": self._offset(now),
                "at": now.isoformat(),
                "step": command.step,
                "channel": command.channel,
                "to": rendered.to,
                "subject": rendered.subject,
                "body": rendered.body,
                "sms": rendered.sms_length(),
            }
        )
        return "sent"

    def _update(self, command: engine.ApplyUpdate, now: datetime) -> None:
        assert self.state is not None
        customer = self.timeline.customer
        context = engine.expression_context(self.journey, self.state, customer, now)
        values = {
            k: literal(v) if isinstance(v, str) else v for k, v in render_value(command.update.set, context).items()
        }
        tags = [t for t in customer.tags if t not in command.update.tags.remove]
        tags += [t for t in command.update.tags.add if t not in tags]
        self.timeline.customer = customer.replace(attributes={**customer.attributes, **values}, tags=tags)
        self.updates.append({"offset_s": self._offset(now), "step": command.step, "set": values, "tags": tags})

    def _note_end(self) -> None:
        if self.state is not None and not self.state.live and self.past and self.past[-1].ended_at is None:
            self.past[-1] = PastRun(ended_at=self.state.ended_at)

    def _record_steps(self, entered: list[str], now: datetime) -> None:
        if entered:
            offset = self._offset(now)
            self.steps.extend({"offset_s": offset, "step": s} for s in entered)

    def _offset(self, at: datetime) -> int:
        return self.timeline.offset(at)

    def summarise(self) -> SimCustomer:
        """What the simulation says of this customer, once the time line has run out."""
        state, record = self.state, self.record
        if state is not None and state.live:
            record.update(outcome="running", current_step=state.step)
        elif state is not None:
            record.update(
                outcome=state.outcome,
                exit_event=state.exit_event,
                end_label=state.end_label,
                failure=state.failure,
                ended_offset_s=self._offset(state.ended_at) if state.ended_at else None,
            )
        record.update(steps=self.steps, messages=self.messages, skipped_sends=self.skipped_sends, updates=self.updates)
        return SimCustomer.model_validate(record)
