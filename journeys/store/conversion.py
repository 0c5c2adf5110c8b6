"""What marketers ask of a journey first: did it convert (per split cohort, against the holdout), what did the
customers answer on its calls, and how did that go day by day. Counted in the database, never row by row."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import and_, exists, func, or_, select
from sqlmodel import Session

from journeys.format.timeparse import format_duration
from journeys.store.models import EventRow, MessageRow, RunRow
from journeys.store.sqltime import plus_seconds, utc_day

ALL = "all"  # the one cohort of a journey without a split
HOLDOUT = "holdout"
# The id the inbound voice callback gives an answer: `gather:` then the call's message key, which begins with
# the run's workflow id (`journey:<journey id>:...`), so an answer given on a call names the journey it is for.
GATHER_ID = "gather:"
RUN_ID = "journey:{journey_id}:"


class ReportSpec(BaseModel):
    """What the journey's definition tells the report: its goals and their window, its split cohorts and the
    events its voice questions answer with."""

    version: int | None = None  # the definition's version today
    window: timedelta = timedelta(days=30)
    goals: list[str] = Field(default_factory=list)  # the journey's `exit_on` events
    cohorts: list[str] = Field(default_factory=list)  # the cohort names of its split steps; none: no split
    questions: list[str] = Field(default_factory=list)  # the `gather` events of its voice messages
    by_day: bool = False


class CohortConversion(BaseModel):
    enrolled: int = 0
    converted: int = 0
    rate: float = 0.0
    lift_vs_holdout: float | None = None  # (rate - holdout rate) / holdout rate


class Conversion(BaseModel):
    window: str  # the duration text, e.g. "30d"
    goals: list[str]
    cohorts: dict[str, CohortConversion]
    unsplit: int = 0  # runs of a journey with a split that have not passed it (in no cohort)


class Answers(BaseModel):
    count: int = 0
    by_answer: dict[str, int] = Field(default_factory=dict)  # the digits pressed → how many pressed them
    mean: float | None = None  # over the answers that are numbers


class Day(BaseModel):
    day: str  # UTC, YYYY-MM-DD
    enrolled: int = 0
    messages: int = 0
    converted: int = 0


_runs, _events = RunRow.__table__, EventRow.__table__  # type: ignore[attr-defined]
_run, _event, _message = _runs.c, _events.c, MessageRow.__table__.c  # type: ignore[attr-defined]


def converted_at(journey_id: str, spec: ReportSpec) -> Any:
    """Each run of the journey that converted, with the time of its first goal event within the window: any
    goal event of the customer from the run's start to start + window, whether the run was still live then
    (it exited on it) or had ended (a holdout, a completed run)."""
    joined = _runs.join(
        _events,
        and_(
            _event.customer_id == _run.customer_id,
            _event.name.in_(spec.goals),
            _event.at >= _run.started_at,
            _event.at < plus_seconds(_run.started_at, int(spec.window.total_seconds())),
        ),
    )
    return (
        select(_run.workflow_id.label("workflow_id"), func.min(_event.at).label("at"))
        .select_from(joined)
        .where(_run.journey_id == journey_id)
        .group_by(_run.workflow_id)
        .subquery()
    )


def conversion(session: Session, journey_id: str, spec: ReportSpec, converted: Any) -> Conversion:
    """Runs and conversions per cohort; each cohort's lift over `holdout` (None without a holdout cohort, for
    the holdout itself, or when the holdout converted no one)."""
    counts = session.exec(
        select(_run.cohort, func.count(), func.count(converted.c.at))
        .select_from(_runs.outerjoin(converted, converted.c.workflow_id == _run.workflow_id))
        .where(_run.journey_id == journey_id)
        .group_by(_run.cohort)
    )
    split = bool(spec.cohorts)
    cohorts = {name: CohortConversion() for name in spec.cohorts} if split else {ALL: CohortConversion()}
    unsplit = 0
    for name, enrolled, won in counts:
        if split and name is None:
            unsplit += enrolled
            continue
        cohort = cohorts.setdefault(name if split else ALL, CohortConversion())  # a cohort an older version had
        cohort.enrolled += enrolled
        cohort.converted += won
    for cohort in cohorts.values():
        cohort.rate = cohort.converted / cohort.enrolled if cohort.enrolled else 0.0
    holdout = cohorts.get(HOLDOUT)
    if holdout is not None and holdout.rate > 0:
        for name, cohort in cohorts.items():
            if name != HOLDOUT:
                cohort.lift_vs_holdout = (cohort.rate - holdout.rate) / holdout.rate
    return Conversion(
        window=format_duration(spec.window), goals=spec.goals, cohorts=dict(sorted(cohorts.items())), unsplit=unsplit
    )


def answers(session: Session, journey_id: str, spec: ReportSpec) -> dict[str, Answers]:
    """The digits customers pressed on the journey's calls, per question event. An answer counts when the
    customer had a run of the journey that started before it; one that came in by the voice callback counts
    only for the journey whose call it answered (its id says so), so two journeys asking with the same event
    never count each other's answers."""
    digits = _event.data["digits"].as_string()
    own = GATHER_ID + RUN_ID.format(journey_id=journey_id)
    of_a_run = exists().where(
        _run.journey_id == journey_id, _run.customer_id == _event.customer_id, _run.started_at <= _event.at
    )
    rows = session.exec(
        select(_event.name, digits, func.count())
        .where(
            _event.name.in_(spec.questions),
            digits.is_not(None),
            of_a_run,
            or_(
                func.substr(_event.id, 1, len(GATHER_ID)) != GATHER_ID,
                func.substr(_event.id, 1, len(own)) == own,
            ),
        )
        .group_by(_event.name, digits)
    )
    found: dict[str, Answers] = {name: Answers() for name in spec.questions}
    for name, answer, count in rows:
        found[name].by_answer[str(answer)] = count
    for result in found.values():
        result.by_answer = dict(sorted(result.by_answer.items()))
        result.count = sum(result.by_answer.values())
        numeric = {int(a): n for a, n in result.by_answer.items() if a.isdigit()}
        if numeric:
            result.mean = sum(a * n for a, n in numeric.items()) / sum(numeric.values())
    return found


def days(session: Session, journey_id: str, converted: Any) -> list[Day]:
    """Enrolments (runs started), messages (decided to send) and conversions (first goal event) per UTC day."""
    found: dict[str, Day] = {}

    def count(field: str, day: Any, query: Any) -> None:
        for name, n in session.exec(query.add_columns(func.count()).group_by(day)):
            setattr(found.setdefault(name, Day(day=name)), field, n)

    enrolled_on = utc_day(_run.started_at)
    count("enrolled", enrolled_on, select(enrolled_on).where(_run.journey_id == journey_id))
    sent_on = utc_day(_message.created_at)
    count("messages", sent_on, select(sent_on).where(_message.journey_id == journey_id))
    converted_on = utc_day(converted.c.at)
    count("converted", converted_on, select(converted_on))
    return [found[day] for day in sorted(found)]
