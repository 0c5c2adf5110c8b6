"""`journeys report`: how a journey is doing, counted in the database (group-bys, never rows in Python)."""

from __future__ import annotations

from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlmodel import Session

from journeys.store.conversion import (
    Answers,
    Conversion,
    Day,
    ReportSpec,
    answers,
    conversion,
    converted_at,
    days,
)
from journeys.store.models import MessageRow, RunRow, StepLogRow

LIVE = "running"


class StepReport(BaseModel):
    step: str
    arrived: int = 0  # entries into the step (a run that loops counts each time)
    now: int = 0  # live runs at the step
    left: dict[str, int] = Field(default_factory=dict)  # next step → how many went there from this step


class Transition(BaseModel):
    from_step: str | None  # None: entered at enrolment
    step: str
    count: int


class OutcomeCount(BaseModel):
    outcome: str
    end_label: str | None
    count: int


class MessageCount(BaseModel):
    channel: str
    status: str
    count: int


class GoalConversion(BaseModel):
    exit_event: str
    runs: int  # runs that ended on this exit event
    total: int  # all runs of the journey
    rate: float


class JourneyReport(BaseModel):
    journey: str
    version: int | None  # the definition's version today (else the newest enrolled)
    versions: list[int]  # the versions runs were enrolled with
    runs: int
    live: int
    steps: list[StepReport]  # in order of first arrival
    paths: list[Transition]
    outcomes: list[OutcomeCount]
    messages: list[MessageCount]
    goals: list[GoalConversion]  # runs that ended on each goal while live
    conversion: Conversion  # goal events within the window, per cohort, also after the run ended
    answers: dict[str, Answers]  # per voice question's event
    days: list[Day] | None = None  # with `by_day`


def journey_report(session: Session, journey_id: str, spec: ReportSpec | None = None) -> JourneyReport:
    """Counts over every version of the journey (step ids that a version dropped still show); `spec` is what
    the journey's definition says of goals, window, cohorts and questions."""
    spec = spec or ReportSpec()
    run, log, message = RunRow.__table__.c, StepLogRow.__table__.c, MessageRow.__table__.c  # type: ignore[attr-defined]
    steps: dict[str, StepReport] = {}

    def step(name: str) -> StepReport:
        return steps.setdefault(name, StepReport(step=name))

    arrivals = session.exec(
        select(log.step, func.count(), func.min(log.at))
        .where(log.journey_id == journey_id)
        .group_by(log.step)
        .order_by(func.min(log.at), log.step)
    )
    for name, count, _first in arrivals:
        step(name).arrived = count
    paths = [
        Transition(from_step=from_step, step=to, count=count)
        for from_step, to, count in session.exec(
            select(log.from_step, log.step, func.count())
            .where(log.journey_id == journey_id)
            .group_by(log.from_step, log.step)
        )
    ]
    paths.sort(key=lambda p: (p.from_step is not None, p.from_step or "", p.step))
    for path in paths:
        if path.from_step is not None:
            step(path.from_step).left[path.step] = path.count
    current = session.exec(
        select(run.current_step, func.count())
        .where(run.journey_id == journey_id, run.outcome == LIVE, run.current_step.is_not(None))
        .group_by(run.current_step)
    )
    for name, count in current:
        step(name).now = count
    outcomes = [
        OutcomeCount(outcome=outcome, end_label=label, count=count)
        for outcome, label, count in session.exec(
            select(run.outcome, run.end_label, func.count())
            .where(run.journey_id == journey_id)
            .group_by(run.outcome, run.end_label)
        )
    ]
    outcomes.sort(key=lambda o: (o.outcome, o.end_label is not None, o.end_label or ""))
    total = sum(o.count for o in outcomes)
    live = sum(o.count for o in outcomes if o.outcome == LIVE)
    goals = [
        GoalConversion(exit_event=name, runs=count, total=total, rate=count / total if total else 0.0)
        for name, count in session.exec(
            select(run.exit_event, func.count())
            .where(run.journey_id == journey_id, run.outcome == "exited", run.exit_event.is_not(None))
            .group_by(run.exit_event)
            .order_by(run.exit_event)
        )
    ]
    messages = [
        MessageCount(channel=channel, status=status, count=count)
        for channel, status, count in session.exec(
            select(message.channel, message.status, func.count())
            .where(message.journey_id == journey_id)
            .group_by(message.channel, message.status)
            .order_by(message.channel, message.status)
        )
    ]
    versions = list(
        session.exec(select(run.version).where(run.journey_id == journey_id).distinct().order_by(run.version)).scalars()
    )
    converted = converted_at(journey_id, spec)
    return JourneyReport(
        journey=journey_id,
        version=spec.version or (versions[-1] if versions else None),
        versions=versions,
        runs=total,
        live=live,
        steps=list(steps.values()),
        paths=paths,
        outcomes=outcomes,
        messages=messages,
        goals=goals,
        conversion=conversion(session, journey_id, spec, converted),
        answers=answers(session, journey_id, spec),
        days=days(session, journey_id, converted) if spec.by_day else None,
    )
