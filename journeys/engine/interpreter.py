"""The journey semantics, in one pure and deterministic module.

Given a definition, a run's state, a snapshot of the customer and the current time, `advance` says what
the run does next: send a message, update the profile, wait until a time and/or for events, or end.
It does no I/O and reads no clock, so the Temporal workflow (real time) and the simulator (simulated
time) drive the very same code, and most behaviour is tested here without a server.

A driver's loop:

    state = start(journey, customer.id, now)
    while True:
        command = advance(journey, state, customer, now, ledger)
        Send/Update  -> perform it, then complete(journey, state, result, now)
        Wait         -> sleep until command.until or until an event arrives (receive(...)), then loop
        End          -> stop

`advance`, `receive` and `complete` update the given `RunState` in place (it is the driver's to keep and
to carry across continue-as-new) and return what the driver must do.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta, timezone
from functools import lru_cache
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field

from journeys import templates as templating
from journeys.format.customers import Customer, Event
from journeys.format.models import (
    BranchStep,
    EndStep,
    GotoStep,
    Journey,
    Limit,
    Message,
    QuietHours,
    SendStep,
    SplitStep,
    StepBase,
    Update,
    UpdateStep,
    WaitForStep,
    WaitStep,
    WaitUntil,
)
from journeys.format.timeparse import is_clock, parse_clock

Outcome = Literal["completed", "exited", "cancelled", "holdout", "failed"]
Effect = Literal["exited", "advanced", "ignored"]
SendResult = Literal["sent", "skipped", "failed"]
# why a send did not go: a cap, the provider refused, a queue, the journey paused as it was about to go out
Deferral = Literal["cap", "provider", "queued", "paused"]
MAX_TRANSITIONS = 10_000  # per `advance` call; validation rejects loops with no brake, this is the backstop
MAX_BURST = 500  # steps entered without the run ever waiting: past it the run fails rather than spin


# --- inputs ---------------------------------------------------------------------------------------


class SentMessage(BaseModel):
    """One entry of the customer's send ledger (all journeys), for frequency caps."""

    at: datetime
    channel: str


class PastRun(BaseModel):
    """A previous or live run of the same journey for the same customer, for `re_entry`."""

    ended_at: datetime | None = None


# --- state ----------------------------------------------------------------------------------------


class RunState(BaseModel):
    """Everything a run must remember; small, serialisable, carried across continue-as-new."""

    journey_id: str
    version: int
    customer_id: str
    enrolled_at: datetime
    step: str | None = None
    arrived_at: datetime | None = None
    arrived_seq: int = 0  # how many events the run had received when it arrived at `step`
    visits: dict[str, int] = Field(default_factory=dict)
    sends: int = 0  # send counter: the idempotency key's suffix, never reset
    burst: int = 0  # steps entered since the run last waited
    pending: Literal["send", "update"] | None = None
    events: list[Event] = Field(default_factory=list)
    outcome: Outcome | None = None
    exit_event: str | None = None
    end_label: str | None = None
    ended_at: datetime | None = None
    failure: str | None = None
    cohort: str | None = None  # the cohort of the first split the run passed (`holdout` included), for reports

    @property
    def live(self) -> bool:
        return self.outcome is None

    @property
    def last_event(self) -> Event | None:
        return self.events[-1] if self.events else None


# --- commands -------------------------------------------------------------------------------------


class Send(BaseModel):
    kind: Literal["send"] = "send"
    step: str
    channel: str
    template: str | None
    message: Message | None
    seq: int  # the run's send counter for this send: part of the idempotency key
    visit: int


class ApplyUpdate(BaseModel):
    kind: Literal["update"] = "update"
    step: str
    update: Update


class Wait(BaseModel):
    kind: Literal["wait"] = "wait"
    step: str
    until: datetime | None  # None: no timer (only events can move the run)
    events: list[str] = Field(default_factory=list)  # what the step waits for (exit_on always ends the run)
    reason: Literal["wait", "wait_for", "quiet_hours", "cap", "retry", "paused"]


class End(BaseModel):
    kind: Literal["end"] = "end"
    outcome: Outcome
    label: str | None = None
    exit_event: str | None = None


Command = Send | ApplyUpdate | Wait | End


@dataclass(frozen=True, slots=True)
class Advance:
    """What `advance` decided, and the steps the run entered on the way (for timelines and reports).

    A plain dataclass, not a model: drivers read it and never store it, and validating the command union
    again on every decision was a tenth of a simulation's time."""

    command: Command
    entered: list[str] = field(default_factory=list)


# --- enrolment ------------------------------------------------------------------------------------


def enrolment_refusal(
    journey: Journey, customer: Customer, now: datetime, previous: Sequence[PastRun] = ()
) -> str | None:
    """Why this customer may not be enrolled now, or None when they may."""
    if any(run.ended_at is None for run in previous):
        return "already has a live run of this journey"
    for name in journey.entry.unless:
        if name in customer.events:
            return f"entry.unless: customer already has event '{name}'"
    ended = [run.ended_at for run in previous if run.ended_at is not None]
    if ended:
        if journey.re_entry == "never":
            return "re_entry: never, and the customer already had a run of this journey"
        if isinstance(journey.re_entry, timedelta) and now < max(ended) + journey.re_entry:
            return f"re_entry: not before {(max(ended) + journey.re_entry).isoformat()}"
    if journey.entry.when is not None:
        context = {"customer": customer.context, "event": None, "journey": _journey_context(journey, None), "now": now}
        try:
            if not templating.evaluate(journey.entry.when, context):
                return "entry.when is false"
        except templating.TemplateError as exc:
            return f"entry.when could not be evaluated: {exc}"
    return None


def start(
    journey: Journey, customer_id: str, now: datetime, trigger: Event | None = None
) -> tuple[RunState, list[str]]:
    """A new run at the first step, and the steps entered; the trigger event (if any) is its first event."""
    state = RunState(journey_id=journey.id, version=journey.version, customer_id=customer_id, enrolled_at=now)
    if trigger is not None:
        state.events.append(trigger)
    entered: list[str] = []
    _enter(journey, state, journey.steps[0].id, now, entered)
    return state, entered


# --- events ---------------------------------------------------------------------------------------


def receive(journey: Journey, state: RunState, event: Event, now: datetime | None = None) -> Effect:
    """Take an event into the run: an `exit_on` event ends it at once (at `now`, else at the event's time)."""
    if not state.live or any(e.id == event.id for e in state.events):
        return "ignored"
    state.events.append(event)
    if event.name in journey.exit_on:
        _finish(state, "exited", now or event.at, exit_event=event.name)
        return "exited"
    step = journey.step(state.step) if state.step else None
    if isinstance(step, WaitForStep) and event.name in step.wait_for:
        return "advanced"
    return "ignored"


def defer(state: RunState, until: datetime | None, why: Deferral | None) -> Wait | None:
    """The driver could not send after all, and nothing went out: hold the step until `until` (None: not at
    all), then decide it again, so quiet hours, caps, consent, pauses and exits apply afresh. Returns the wait
    to perform; events arriving meanwhile are taken in as at any wait (an `exit_on` ends the run)."""
    state.pending = None
    if until is None or state.step is None:
        return None
    return Wait(step=state.step, until=until, reason="retry" if why == "provider" else "cap")


def move(journey: Journey, state: RunState, step_id: str, now: datetime) -> list[str]:
    """Support staff put a live run at `step_id` now. A person chose the step: no max_visits redirect."""
    journey.step(step_id)  # KeyError for a step the journey does not have
    state.pending = None
    state.visits[step_id] = state.visits.get(step_id, 0) + 1
    state.step, state.arrived_at, state.arrived_seq, state.burst = step_id, now, len(state.events), 0
    return [step_id]


def migrate(
    old: Journey,
    new: Journey,
    state: RunState,
    step_map: dict[str, str],
    now: datetime,
    missed: Sequence[Event] = (),
) -> str:
    """Move a live run onto another version of its journey; returns the step it is at in `new`.

    The run keeps its timeline, visit counts and send counter (so caps and idempotency keys carry on).
    Its step is mapped by `step_map`, else by id; where the new step is of the same kind the run keeps its
    arrival time, so a pending wait keeps its deadline; otherwise it arrives at the new step now. `missed`:
    events since enrolment that only `new` acts on, so the old run was never given them; they join its
    timeline where they happened (before or after its arrival at its step), as received then, ending nothing
    (an event the old version did not act on never ended the run either)."""
    assert state.step is not None
    _take_missed(state, missed)
    target = step_map.get(state.step, state.step)
    same_kind = type(new.step(target)) is type(old.step(state.step))
    state.version = new.version
    state.step = target
    if not same_kind:
        state.arrived_at, state.arrived_seq = now, len(state.events)
    return target


def _take_missed(state: RunState, missed: Sequence[Event]) -> None:
    held = {e.id for e in state.events}
    before: list[Event] = []  # arrived at its step after these happened
    after: list[Event] = []
    for event in missed:
        if event.id not in held:
            held.add(event.id)
            (before if state.arrived_at is not None and event.at < state.arrived_at else after).append(event)
    if not before and not after:
        return
    head = sorted(state.events[: state.arrived_seq] + before, key=lambda e: e.at)
    state.events = head + sorted(state.events[state.arrived_seq :] + after, key=lambda e: e.at)
    state.arrived_seq = len(head)


def cancel(state: RunState, now: datetime) -> None:
    if state.live:
        _finish(state, "cancelled", now)


def fail(state: RunState, now: datetime, reason: str) -> None:
    if state.live:
        _finish(state, "failed", now, failure=reason)


# --- the machine ----------------------------------------------------------------------------------


def advance(
    journey: Journey,
    state: RunState,
    customer: Customer,
    now: datetime,
    ledger: Sequence[SentMessage] = (),
    paused: bool = False,
) -> Advance:
    """Run the journey forward from `state` at `now` until it must send, update, wait or end.

    While the journey is `paused` a send is held (no timer: resuming wakes the run) or, with
    `on_pause: skip`, skipped; everything else, events and exits included, goes on."""
    entered: list[str] = []
    for _ in range(MAX_TRANSITIONS):
        if not state.live:
            return Advance(command=_end_command(state), entered=entered)
        step = journey.step(state.step)  # type: ignore[arg-type]
        try:
            outcome = _run_step(journey, state, step, customer, now, ledger, paused)
        except templating.TemplateError as exc:
            _finish(state, "failed", now, failure=f"step '{step.id}': {exc}")
            continue
        if isinstance(outcome, str) or outcome is None:
            _enter(journey, state, outcome, now, entered)
            continue
        if isinstance(outcome, Wait):
            if outcome.until is not None and outcome.until <= now:  # a backstop: a driver would spin on it
                _finish(state, "failed", now, failure=f"step '{step.id}': a wait that ends before it starts")
                continue
            state.burst = 0
        return Advance(command=outcome, entered=entered)
    _finish(state, "failed", now, failure=f"more than {MAX_TRANSITIONS} steps without waiting")
    return Advance(command=_end_command(state), entered=entered)


def complete(journey: Journey, state: RunState, result: SendResult | Literal["done"], now: datetime) -> list[str]:
    """After the driver performed a `Send` or `ApplyUpdate`: move on (or end, for a send with on_failure: end).

    Returns the steps entered."""
    entered: list[str] = []
    if not state.live or state.pending is None:
        return entered
    state.pending = None
    step = journey.step(state.step)  # type: ignore[arg-type]
    if result == "failed" and isinstance(step, SendStep) and step.on_failure == "end":
        _finish(state, "failed", now, failure=f"step '{step.id}': send failed")
        return entered
    _enter(journey, state, journey.following(step.id), now, entered)
    return entered


def _run_step(
    journey: Journey,
    state: RunState,
    step: StepBase,
    customer: Customer,
    now: datetime,
    ledger: Sequence[SentMessage],
    paused: bool,
) -> Command | str | None:
    """One step: a command for the driver, or the id of the step to go to (None: the journey's end)."""
    if isinstance(step, SendStep):
        if paused and state.pending != "send":
            return (
                journey.following(step.id)
                if step.on_pause == "skip"
                else Wait(step=step.id, until=None, reason="paused")
            )
        return _send(journey, state, step, customer, now, ledger)
    if isinstance(step, WaitStep):
        until = _wait_until(journey, state, step, customer, now)
        return journey.following(step.id) if until <= now else Wait(step=step.id, until=until, reason="wait")
    if isinstance(step, WaitForStep):
        return _wait_for(journey, state, step, now)
    if isinstance(step, BranchStep):
        context = expression_context(journey, state, customer, now)
        for case in step.branch:
            if templating.evaluate(case.when, context):
                return case.goto
        return step.else_ or journey.following(step.id)
    if isinstance(step, SplitStep):
        name, cohort = _cohort(journey, step, state.customer_id)
        state.cohort = state.cohort or name
        if cohort.goto is None and name == "holdout":
            _finish(state, "holdout", now)
            return _end_command(state)
        return cohort.goto or journey.following(step.id)
    if isinstance(step, UpdateStep):
        state.pending = "update"
        return ApplyUpdate(step=step.id, update=step.update)
    if isinstance(step, GotoStep):
        return step.goto
    if isinstance(step, EndStep):
        _finish(state, "completed", now, label=step.end)
        return _end_command(state)
    raise AssertionError(f"unknown step kind {type(step).__name__}")  # the models admit no other


def _send(
    journey: Journey,
    state: RunState,
    step: SendStep,
    customer: Customer,
    now: datetime,
    ledger: Sequence[SentMessage],
) -> Command | str | None:
    if state.pending == "send":  # issued before and not completed: the same send again (same key)
        return _send_command(state, step)
    if step.respect_quiet_hours and journey.quiet_hours is not None:
        until = quiet_until(journey.quiet_hours, customer.zone(journey.timezone), now)
        if until is not None:
            return Wait(step=step.id, until=until, reason="quiet_hours")
    until = cap_until(journey.limits, ledger, step.send, now)
    if until is not None:
        if step.on_cap == "skip":
            return journey.following(step.id)
        return Wait(step=step.id, until=until, reason="cap")
    state.pending = "send"
    state.sends += 1
    return _send_command(state, step)


def _send_command(state: RunState, step: SendStep) -> Send:
    return Send(
        step=step.id,
        channel=step.send,
        template=step.template,
        message=step.message,
        seq=state.sends,
        visit=state.visits.get(step.id, 0),
    )


def _wait_until(journey: Journey, state: RunState, step: WaitStep, customer: Customer, now: datetime) -> datetime:
    arrived = state.arrived_at or now
    if not isinstance(step.wait, WaitUntil):
        return arrived + step.wait
    if is_clock(step.wait.until):
        return next_clock(parse_clock(step.wait.until), customer.zone(journey.timezone), arrived)
    value = templating.evaluate(step.wait.until, expression_context(journey, state, customer, now))
    return _as_datetime(value)


def _wait_for(journey: Journey, state: RunState, step: WaitForStep, now: datetime) -> Command | str | None:
    counted = state.events[state.arrived_seq :] if step.since == "step" else state.events
    for event in counted:
        if event.name in step.wait_for:
            return step.on_event.get(event.name) or journey.following(step.id)
    deadline = (state.arrived_at or now) + step.timeout
    if now >= deadline:
        return step.on_timeout or journey.following(step.id)
    return Wait(step=step.id, until=deadline, events=list(step.wait_for), reason="wait_for")


def _enter(journey: Journey, state: RunState, step_id: str | None, now: datetime, entered: list[str]) -> None:
    """Arrive at a step (None: past the last one), applying `max_visits`/`on_max`."""
    for _ in range(len(journey.steps) + 1):
        if step_id is None:
            _finish(state, "completed", now)
            return
        step = journey.step(step_id)
        state.visits[step_id] = state.visits.get(step_id, 0) + 1
        if step.visit_limit is not None and state.visits[step_id] > step.visit_limit:
            step_id = step.on_max or journey.following(step_id)
            continue
        state.step = step_id
        state.arrived_at = now
        state.arrived_seq = len(state.events)
        state.burst += 1
        entered.append(step_id)
        if state.burst > MAX_BURST:
            _finish(state, "failed", now, failure=f"more than {MAX_BURST} steps without waiting")
        return
    _finish(state, "failed", now, failure="on_max steps form a loop")


def _finish(
    state: RunState,
    outcome: Outcome,
    now: datetime,
    *,
    exit_event: str | None = None,
    label: str | None = None,
    failure: str | None = None,
) -> None:
    state.outcome = outcome
    state.exit_event = exit_event
    state.end_label = label
    state.failure = failure
    state.ended_at = now
    state.pending = None


def _end_command(state: RunState) -> End:
    return End(outcome=state.outcome, label=state.end_label, exit_event=state.exit_event)  # type: ignore[arg-type]


# --- pure helpers (also used by drivers and reports) ----------------------------------------------


def _journey_context(journey: Journey, step: str | None) -> dict[str, Any]:
    return {"id": journey.id, "name": journey.name, "version": journey.version, "step": step}


def expression_context(journey: Journey, state: RunState, customer: Customer, now: datetime) -> dict[str, Any]:
    """The names templates and expressions see: customer, event, journey, now."""
    last = state.last_event
    return {
        "customer": customer.context,
        "event": last.context() if last else None,
        "journey": _journey_context(journey, state.step),
        "now": now,
    }


def quiet_until(quiet: QuietHours, zone: ZoneInfo, at: datetime) -> datetime | None:
    """When quiet hours that hold at `at` end (in `at`'s zone), or None when `at` is outside them."""
    until = _quiet_end(quiet.start, quiet.end, zone, at.astimezone(timezone.utc))
    return None if until is None else until.astimezone(at.tzinfo)


@lru_cache(maxsize=4096)
def _quiet_end(start: time, end: time, zone: ZoneInfo, at: datetime) -> datetime | None:
    """`quiet_until` for an instant in UTC, remembered: a simulation asks it for the same few moments again and
    again (every customer of a zone wakes at the same times), and converting to the zone is what it costs. Keyed
    by the UTC instant, which is all the answer depends on (a zone's wall time would mistake the two 01:30s
    of a repeated hour for one)."""
    clock = at.astimezone(zone).time()
    inside = start <= clock < end if start < end else (start > end and (clock >= start or clock < end))
    if not inside:
        return None
    # strictly after `at`: when the end's wall time is skipped by a daylight-saving jump that lands right on `at`
    # (and `at` already starts the next quiet period), the quiet hours end at the next day's end
    return next_clock(end, zone, at + timedelta(microseconds=1))


def next_clock(clock: time, zone: ZoneInfo, at: datetime) -> datetime:
    """The first moment at or after `at` when the wall clock in `zone` shows `clock`.

    Compared as instants, not as wall times (which ignore `fold`): when a daylight-saving change repeats an
    hour, its second 01:30 is a later moment than its first. A time the change skips counts as fold 0."""
    local = at.astimezone(zone)
    day = local.date()
    for offset in range(3):
        wall = datetime.combine(day + timedelta(days=offset), clock)
        for fold in (0, 1):
            candidate = wall.replace(tzinfo=zone, fold=fold)
            instant = candidate.astimezone(timezone.utc)
            if fold and instant.astimezone(zone).replace(tzinfo=None) != wall:
                continue  # fold 1 of a skipped time is another wall time
            if instant >= at:
                return instant.astimezone(at.tzinfo)
    raise AssertionError("a wall-clock time recurs every day")


def cap_until(limits: Sequence[Limit], ledger: Sequence[SentMessage], channel: str, at: datetime) -> datetime | None:
    """When a send on `channel` at `at` would fit every frequency cap, or None when it fits now."""
    latest: datetime | None = None
    for limit in limits:
        if limit.channel not in (channel, "any") or len(ledger) < limit.max:
            continue  # another channel's cap, or one that every send so far would not fill
        since = at - limit.per
        window = sorted(
            s.at for s in ledger if (limit.channel == "any" or s.channel == limit.channel) and since < s.at <= at
        )
        if len(window) >= limit.max:
            free = window[len(window) - limit.max] + limit.per
            latest = free if latest is None else max(latest, free)
    return latest


def cohort_bucket(journey_id: str, step_id: str, customer_id: str) -> int:
    """A number 0..9999, the same for a customer, journey and split step every time."""
    digest = hashlib.sha256(f"{journey_id}\x1f{step_id}\x1f{customer_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 10_000


def _cohort(journey: Journey, step: SplitStep, customer_id: str) -> tuple[str, Any]:
    bucket = cohort_bucket(journey.id, step.id, customer_id)
    upper = 0
    for name, cohort in step.split.items():
        upper += cohort.percent * 100
        if bucket < upper:
            return name, cohort
    return name, cohort  # unreachable: percentages sum to 100


def _as_datetime(value: Any) -> datetime:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise templating.TemplateError(f"wait until {value!r} is not an ISO 8601 timestamp") from None
    if not isinstance(value, datetime):
        raise templating.TemplateError(f"wait until gave {type(value).__name__}, not a timestamp")
    if value.tzinfo is None:
        raise templating.TemplateError(f"wait until {value.isoformat()} has no UTC offset")
    return value
