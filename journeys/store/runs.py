"""Runs as their workflows report them, the step log behind reports, journey versions and pauses."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from journeys.engine.interpreter import PastRun
from journeys.engine.runs import Progress
from journeys.store import report
from journeys.store.base import StoreBase, utc, utc_now
from journeys.store.errors import UnknownCustomer, UnknownRun, VersionConflict
from journeys.store.models import JourneyStateRow, JourneyVersionRow, RunAuditRow, RunRow, StepLogRow

LIVE = "running"
_PAUSED = select(JourneyStateRow.paused).where(JourneyStateRow.journey_id == bindparam("journey_id"))
RUN_FIELDS = frozenset(
    {"current_step", "waiting_for", "until", "outcome", "ended_at", "exit_event", "end_label", "failure"}
    | {"version", "listens"}  # changed by a migration
)


class RunMethods(StoreBase):
    def create_run(
        self, workflow_id: str, journey_id: str, version: int, customer_id: str, entry: int, started_at: datetime
    ) -> bool:
        """Record a new run (outcome `running`); False when it was recorded before."""
        try:
            with self._session(write=True) as session:
                if session.get(RunRow, workflow_id) is not None:
                    return False
                session.add(new_run(workflow_id, journey_id, version, customer_id, entry, started_at))
                session.flush()
        except IntegrityError:
            return False
        return True

    def record_progress(self, progress: Progress) -> None:
        """What a run's workflow reports when it waits or ends, in one transaction: the run (recorded now if
        enrolment has not yet), the steps it entered since its last report, where it is or how it ended."""
        with self._session(write=True) as session:
            row = session.get(RunRow, progress.workflow_id)
            if row is None:
                row = new_run(
                    progress.workflow_id,
                    progress.journey_id,
                    progress.version,
                    progress.customer_id,
                    progress.entry,
                    progress.started_at,
                )
            self._log_steps(
                session,
                progress.workflow_id,
                progress.journey_id,
                progress.version,
                [(e.step, e.from_step, e.at) for e in progress.entries],
                [e.seq for e in progress.entries],
            )
            row.version = progress.version
            row.current_step = progress.current_step
            row.waiting_for = list(progress.waiting_for)
            row.until = progress.until
            row.outcome = progress.outcome or LIVE
            row.ended_at = progress.ended_at
            row.exit_event = progress.exit_event
            row.end_label = progress.end_label
            row.failure = progress.failure
            row.cohort = progress.cohort or row.cohort
            row.updated_at = utc_now()
            session.add(row)

    def cancel_unstarted(self, workflow_id: str, at: datetime) -> bool:
        """End a run that was registered but never started (see `Store.register_run`), so no later enrolment
        starts it; False when the run has reported (it started: cancel it in Temporal) or is not live."""
        with self._session(write=True) as session:
            row = session.get(RunRow, workflow_id)
            if row is None or row.outcome != LIVE or not unreported(row):
                return False
            row.outcome, row.ended_at, row.updated_at = "cancelled", at, at
            session.add(row)
        return True

    def record_cancel(self, workflow_id: str, at: datetime) -> bool:
        """The run has taken a cancel (`journeys cancel`): end it here now, under the customer's lock, so no send
        of it is reserved from here on (`reserve_send`), without waiting for the run's own report (which follows
        and says the same). False when the store has no such live run."""
        with self._session(write=True) as session:
            row = session.get(RunRow, workflow_id)
            if row is None or row.outcome != LIVE:
                return False
            try:
                self._lock_customer(session, row.customer_id)
            except UnknownCustomer:  # erased meanwhile: nothing of theirs is left to send to
                pass
            session.refresh(row)  # as it is now that we hold the lock
            if row.outcome != LIVE:
                return False
            row.outcome, row.ended_at, row.updated_at = "cancelled", at, at
            session.add(row)
        return True

    def update_run(self, workflow_id: str, *, at: datetime | None = None, **changes: Any) -> None:
        """What the run's workflow reports: where it is, what it waits for, how it ended."""
        unknown = set(changes) - RUN_FIELDS
        if unknown:
            raise TypeError(f"update_run() got unknown fields: {', '.join(sorted(unknown))}")
        if changes.get("outcome", LIVE) is None:
            changes["outcome"] = LIVE
        if "waiting_for" in changes:
            changes["waiting_for"] = list(changes["waiting_for"] or [])
        with self._session(write=True) as session:
            row = session.get(RunRow, workflow_id)
            if row is None:
                raise UnknownRun(workflow_id)
            for name, value in changes.items():
                setattr(row, name, value)
            row.updated_at = at or utc_now()
            session.add(row)

    def runs_of(self, customer_id: str, journey_id: str | None = None) -> list[RunRow]:
        """The customer's runs, newest first."""
        return self._runs(customer_id, journey_id, live_only=False)

    def live_runs(self, customer_id: str, journey_id: str | None = None) -> list[RunRow]:
        return self._runs(customer_id, journey_id, live_only=True)

    def live_runs_of_customers(self, customer_ids: Collection[str]) -> dict[str, list[RunRow]]:
        """Each of these customers' live runs, newest first (one read for a batch of events)."""
        live: dict[str, list[RunRow]] = {}
        with self._session() as session:
            query = (
                select(RunRow)
                .where(col(RunRow.customer_id).in_(list(customer_ids)), RunRow.outcome == LIVE)
                .order_by(col(RunRow.started_at).desc(), col(RunRow.entry).desc())
            )
            for row in session.exec(query):
                live.setdefault(row.customer_id, []).append(row)
        return live

    def _runs(self, customer_id: str, journey_id: str | None, *, live_only: bool) -> list[RunRow]:
        with self._session() as session:
            return self._runs_in(session, customer_id, journey_id, live_only=live_only)

    def _runs_in(self, session: Session, customer_id: str, journey_id: str | None, *, live_only: bool) -> list[RunRow]:
        """The customer's runs (of one journey, or all), newest first, read in `session`."""
        query = select(RunRow).where(RunRow.customer_id == customer_id)
        if journey_id is not None:
            query = query.where(RunRow.journey_id == journey_id)
        if live_only:
            query = query.where(RunRow.outcome == LIVE)
        query = query.order_by(col(RunRow.started_at).desc(), col(RunRow.entry).desc())
        return list(session.exec(query))

    def past_runs(self, customer_id: str, journey_id: str) -> list[PastRun]:
        """For `re_entry`: every run of the journey for the customer (a live one has no `ended_at`)."""
        return [past_run(r) for r in self.runs_of(customer_id, journey_id)]

    def next_entry(self, customer_id: str, journey_id: str) -> int:
        """1 for the customer's first run of the journey, then 2, 3, ...: part of the workflow id."""
        with self._session() as session:
            last = session.exec(
                select(func.max(RunRow.entry)).where(RunRow.customer_id == customer_id, RunRow.journey_id == journey_id)
            ).one()
        return (last or 0) + 1

    def live_runs_of_journey(self, journey_id: str) -> list[RunRow]:
        """Every live run of a journey (for migrate, pause and resume), oldest first."""
        with self._session() as session:
            query = (
                select(RunRow)
                .where(RunRow.journey_id == journey_id, RunRow.outcome == LIVE)
                .order_by(col(RunRow.started_at), col(RunRow.workflow_id))
            )
            return list(session.exec(query))

    def runs_at_step(self, journey_id: str, step: str) -> list[tuple[RunRow, datetime | None]]:
        """The live runs of a journey at `step` now, each with when it last entered the step, longest there first."""
        entered = func.max(StepLogRow.at)
        query = (
            select(RunRow, entered)
            .join(
                StepLogRow,
                (StepLogRow.workflow_id == RunRow.workflow_id) & (StepLogRow.step == RunRow.current_step),
                isouter=True,
            )
            .where(RunRow.journey_id == journey_id, RunRow.outcome == LIVE, RunRow.current_step == step)
            .group_by(col(RunRow.workflow_id))
            .order_by(entered, col(RunRow.workflow_id))
        )
        with self._session() as session:
            return [(run, utc(at) if at else None) for run, at in session.exec(query)]

    def record_audit(self, audit: RunAuditRow) -> None:
        """Keep who changed a live run by hand, when, why, and from where to where."""
        with self._session(write=True) as session:
            session.add(audit)

    def audits_of(self, workflow_id: str) -> list[RunAuditRow]:
        with self._session() as session:
            query = select(RunAuditRow).where(RunAuditRow.workflow_id == workflow_id).order_by(col(RunAuditRow.id))
            return list(session.exec(query))

    def steps_of_run(self, workflow_id: str) -> list[StepLogRow]:
        """The steps a run entered, in the order it entered them."""
        with self._session() as session:
            return list(
                session.exec(
                    select(StepLogRow).where(StepLogRow.workflow_id == workflow_id).order_by(col(StepLogRow.id))
                )
            )

    def record_steps(
        self, workflow_id: str, journey_id: str, version: int, entries: Sequence[tuple[str, str | None, datetime]]
    ) -> None:
        """Log the steps a run entered, in one insert; entries logged before (a retried activity) are skipped."""
        if entries:
            with self._session(write=True) as session:
                self._log_steps(session, workflow_id, journey_id, version, entries)

    def _log_steps(
        self,
        session: Session,
        workflow_id: str,
        journey_id: str,
        version: int,
        entries: Sequence[tuple[str, str | None, datetime]],
        seqs: Sequence[int | None] = (),
    ) -> None:
        """Entries numbered by the run (`seqs`) are logged once per number, whatever their times: a workflow
        task retried after a worker died enters the same steps again at a later time. Unnumbered ones (older
        runs) are logged once per (step, from, time)."""
        if not entries:
            return
        numbered = [s for s in seqs if s is not None]
        if len(numbered) == len(entries):
            taken = set(
                session.exec(
                    select(StepLogRow.seq).where(
                        StepLogRow.workflow_id == workflow_id, col(StepLogRow.seq).in_(numbered)
                    )
                )
            )
            fresh = [(entry, seq) for entry, seq in zip(entries, numbered, strict=True) if seq not in taken]
        else:
            earliest = min(at for _, _, at in entries)
            logged = Counter(
                (step, from_step, utc(at))
                for step, from_step, at in session.exec(
                    select(StepLogRow.step, StepLogRow.from_step, StepLogRow.at).where(
                        StepLogRow.workflow_id == workflow_id, col(StepLogRow.at) >= earliest
                    )
                )
            )
            fresh = []
            for step, from_step, at in entries:
                if logged[(step, from_step, utc(at))] > 0:
                    logged[(step, from_step, utc(at))] -= 1
                else:
                    fresh.append(((step, from_step, at), None))
        rows = [
            {
                "workflow_id": workflow_id,
                "journey_id": journey_id,
                "version": version,
                "step": step,
                "from_step": from_step,
                "at": at,
                "seq": seq,
            }
            for (step, from_step, at), seq in fresh
        ]
        if rows:
            session.exec(insert(StepLogRow.__table__), params=rows)  # type: ignore[attr-defined]

    def journey_report(self, journey_id: str, spec: report.ReportSpec | None = None) -> report.JourneyReport:
        with self._session() as session:
            return report.journey_report(session, journey_id, spec)

    def save_version(self, journey_id: str, version: int, text: str, hash: str, at: datetime) -> None:
        """Keep the text of a version that enrols; a changed definition under the same number is refused."""
        try:
            with self._session(write=True) as session:
                saved = session.get(JourneyVersionRow, (journey_id, version))
                if saved is None:
                    session.add(
                        JourneyVersionRow(
                            journey_id=journey_id, version=version, hash=hash, text=text, first_used_at=at
                        )
                    )
                    session.flush()
                    return
        except IntegrityError:  # saved meanwhile by another process
            with self._session() as session:
                saved = session.get(JourneyVersionRow, (journey_id, version))
        if saved is not None and saved.hash != hash:
            raise VersionConflict(journey_id, version)

    def version_text(self, journey_id: str, version: int) -> str | None:
        with self._session() as session:
            saved = session.get(JourneyVersionRow, (journey_id, version))
            return saved.text if saved else None

    def newest_version_text(self, journey_id: str) -> str | None:
        """The text of the journey's newest version that enrolled (None: it never enrolled anyone)."""
        with self._session() as session:
            query = (
                select(JourneyVersionRow.text)
                .where(JourneyVersionRow.journey_id == journey_id)
                .order_by(col(JourneyVersionRow.version).desc())
                .limit(1)
            )
            return session.exec(query).first()

    def set_paused(self, journey_id: str, paused: bool, at: datetime) -> None:
        try:
            with self._session(write=True) as session:
                state = session.get(JourneyStateRow, journey_id) or JourneyStateRow(journey_id=journey_id)
                state.paused, state.updated_at = paused, at
                session.add(state)
        except IntegrityError:  # created meanwhile: now it exists, so this is an update
            self.set_paused(journey_id, paused, at)

    def journeys_overview(self) -> tuple[dict[str, int], set[str]]:
        """Live runs per journey id, and the paused journey ids: what a list of journeys shows, in two reads."""
        with self._session() as session:
            live = session.exec(
                select(RunRow.journey_id, func.count()).where(RunRow.outcome == LIVE).group_by(RunRow.journey_id)
            ).all()
            paused = session.exec(select(JourneyStateRow.journey_id).where(JourneyStateRow.paused)).all()
        return {journey_id: count for journey_id, count in live}, set(paused)

    def live_runs_by_version(self, journey_id: str) -> dict[int, int]:
        """The journey's live runs counted per version (the console's journey page), without reading each."""
        with self._session() as session:
            counted = session.exec(
                select(RunRow.version, func.count())
                .where(RunRow.journey_id == journey_id, RunRow.outcome == LIVE)
                .group_by(RunRow.version)
            ).all()
        return {version: count for version, count in counted}

    def is_paused(self, journey_id: str) -> bool:
        with self._session() as session:
            return self._paused(session, journey_id)

    def _paused(self, session: Session, journey_id: str) -> bool:
        return bool(session.exec(_PAUSED, params={"journey_id": journey_id}).first())


def new_run(
    workflow_id: str,
    journey_id: str,
    version: int,
    customer_id: str,
    entry: int,
    started_at: datetime,
    listens: list[str] | None = None,
) -> RunRow:
    return RunRow(
        workflow_id=workflow_id,
        journey_id=journey_id,
        version=version,
        customer_id=customer_id,
        entry=entry,
        started_at=started_at,
        outcome=LIVE,
        waiting_for=[],
        updated_at=started_at,
        listens=listens,
    )


def unreported(row: RunRow) -> bool:
    """The run has told the store nothing since it was registered: it may never have been started."""
    return row.updated_at == row.started_at


def past_run(row: RunRow) -> PastRun:
    """A run as `re_entry` sees it: when it ended (never, while it is live)."""
    return PastRun(ended_at=utc(row.ended_at) if row.ended_at else None)
