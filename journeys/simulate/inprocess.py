"""`journeys simulate`: the real interpreter on a simulated clock, in-process, sending nothing.

Customers are independent here (one journey, a ledger per customer), so each is simulated on its own:
events are delivered at their time, timers fire at theirs, and every message the channels would have
sent is rendered and listed.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
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
    by_customer: dict[str, list[Event]] = defaultdict(list)
    for planned in events:
        by_customer[planned.customer].append(planned.event)
    end = start + timedelta(days=days)
    results = [
        _Run(journey, customer, start, end, source).simulate(by_customer.get(customer.id, [])) for customer in customers
    ]
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


class _Run:
    """One customer's simulated time line."""

    def __init__(self, journey: Journey, customer: Customer, start: datetime, end: datetime, source: MessageSource):
        self.journey = journey
        self.customer = customer
        self.start = start
        self.end = end
        self.source = source
        self.ledger: list[engine.SentMessage] = []
        self.past: list[PastRun] = []
        self.state: RunState | None = None
        self.result = SimCustomer(id=customer.id)

    def simulate(self, events: list[Event]) -> SimCustomer:
        history = [e for e in events if e.at < self.start]
        future = [e for e in events if self.start <= e.at <= self.end]
        for event in history:
            self.customer = self.customer.with_event(event)
        trigger = self.journey.entry.trigger
        if trigger is None:
            self._enrol(self.start, None)
        else:
            self.result.skipped_reason = f"not triggered: no '{trigger}' event"
        pending = iter(future)
        upcoming = next(pending, None)
        now = self.start
        while True:
            while upcoming is not None and upcoming.at <= now:  # every event due now, before the run moves on
                self._deliver(upcoming)
                upcoming = next(pending, None)
            wake = self._drive(now)
            if upcoming is not None and (wake is None or upcoming.at <= wake):
                now = upcoming.at
            elif wake is not None and wake <= self.end:
                now = wake
            else:
                break
        self._summarise()
        return self.result

    def _enrol(self, now: datetime, trigger: Event | None) -> None:
        reason = engine.enrolment_refusal(self.journey, self.customer, now, self.past)
        if reason is not None:
            if not self.result.enrolled:
                self.result.skipped_reason = reason
            return
        self.state, entered = engine.start(self.journey, self.customer.id, now, trigger)
        self.past.append(PastRun())
        self.result.enrolled = True
        self.result.skipped_reason = None
        self.result.runs += 1
        self._record_steps(entered, now)

    def _deliver(self, event: Event) -> None:
        self.customer = self.customer.with_event(event)
        if self.state is not None and self.state.live:
            engine.receive(self.journey, self.state, event)
            self._note_end()
        elif event.name == self.journey.entry.trigger:
            self._enrol(event.at, event)

    def _drive(self, now: datetime) -> datetime | None:
        """Advance the live run at `now`; when it next wants to wake (None: never)."""
        while self.state is not None and self.state.live:
            decision = engine.advance(self.journey, self.state, self.customer, now, self.ledger)
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
        context = engine.expression_context(self.journey, self.state, self.customer, now)
        try:
            message = self.source.message(command, self.customer.locale)
            rendered = render_message(command.channel, message, self.customer, context)
        except Undeliverable as exc:
            self.result.skipped_sends.append(
                {"offset_s": self._offset(now), "step": command.step, "channel": command.channel, "reason": str(exc)}
            )
            return "skipped"
        except TemplateError as exc:
            self.result.skipped_sends.append(
                {"offset_s": self._offset(now), "step": command.step, "channel": command.channel, "reason": str(exc)}
            )
            return "failed"
        self.ledger.append(engine.SentMessage(at=now, channel=command.channel))
        self.result.messages.append(
            SimMessage(
                offset_s=self._offset(now),
                at=now.isoformat(),
                step=command.step,
                channel=command.channel,
                to=rendered.to,
                subject=rendered.subject,
                body=rendered.body,
                sms=rendered.sms_length(),
            )
        )
        return "sent"

    def _update(self, command: engine.ApplyUpdate, now: datetime) -> None:
        assert self.state is not None
        context = engine.expression_context(self.journey, self.state, self.customer, now)
        values = {
            k: literal(v) if isinstance(v, str) else v for k, v in render_value(command.update.set, context).items()
        }
        tags = [t for t in self.customer.tags if t not in command.update.tags.remove]
        tags += [t for t in command.update.tags.add if t not in tags]
        self.customer = self.customer.replace(attributes={**self.customer.attributes, **values}, tags=tags)
        self.result.updates.append({"offset_s": self._offset(now), "step": command.step, "set": values, "tags": tags})

    def _note_end(self) -> None:
        if self.state is not None and not self.state.live and self.past and self.past[-1].ended_at is None:
            self.past[-1] = PastRun(ended_at=self.state.ended_at)

    def _record_steps(self, entered: list[str], now: datetime) -> None:
        offset = self._offset(now)
        self.result.steps.extend(SimStep(offset_s=offset, step=s) for s in entered)

    def _offset(self, at: datetime) -> int:
        return int((at - self.start).total_seconds())

    def _summarise(self) -> None:
        state, result = self.state, self.result
        if state is None:
            return
        if state.live:
            result.outcome, result.current_step = "running", state.step
            return
        result.outcome = state.outcome  # type: ignore[assignment]
        result.exit_event = state.exit_event
        result.end_label = state.end_label
        result.failure = state.failure
        result.ended_offset_s = self._offset(state.ended_at) if state.ended_at else None
