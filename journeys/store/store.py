"""`Store`: customers, their events and documents, messages (outbox and cap ledger), runs, versions, pauses,
the customer audit trail, erasure, API keys, console users, events owed to runs.

Synchronous on purpose: Temporal runs sync activities in a thread pool, and the CLI is sync. Every method is
one short transaction. Writes that read first (a send reservation, an event with its document, a profile
update) lock the customer first, so concurrent workers serialise per customer: `SELECT ... FOR UPDATE` on
PostgreSQL, `BEGIN IMMEDIATE` on SQLite (see `engine`). The methods live in `customers`, `sends`, `runs`,
`audit`, `erasure`, `changes`, `keys`, `users` and `pending`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, col, select

from journeys.engine.interpreter import PastRun
from journeys.engine.runs import LEDGER_DAYS, Snapshot, workflow_id
from journeys.format.customers import Customer
from journeys.store.audit import CustomerAuditMethods
from journeys.store.base import utc
from journeys.store.changes import ChangeMethods
from journeys.store.customers import CustomerMethods
from journeys.store.engine import make_engine, migrate
from journeys.store.erasure import ErasureMethods
from journeys.store.errors import StoreUnavailable, UnknownCustomer, is_unavailable
from journeys.store.keys import KeyMethods
from journeys.store.models import RunRow
from journeys.store.pending import PendingMethods
from journeys.store.records import Refusal, Registration
from journeys.store.runs import LIVE, RunMethods, new_run, past_run, unreported
from journeys.store.sends import SendMethods
from journeys.store.users import UserMethods


class Store(
    CustomerMethods,
    SendMethods,
    RunMethods,
    CustomerAuditMethods,
    ErasureMethods,
    ChangeMethods,
    KeyMethods,
    PendingMethods,
    UserMethods,
):
    """The journeys database. Open with `Store.open(url)`; safe to share between threads."""

    @classmethod
    def open(cls, url: str) -> Store:
        """Connect and bring the schema up to date (idempotent; concurrent openers wait for each other).

        A SQLite file's directory is made when missing; a database that does not answer raises
        `StoreUnavailable` (one line for the CLI)."""
        engine = make_engine(url)
        try:
            migrate(engine)
        except DBAPIError as exc:
            engine.dispose()
            if is_unavailable(exc):
                raise StoreUnavailable(engine.url, exc) from exc
            raise
        except BaseException:
            engine.dispose()
            raise
        return cls(engine)

    def close(self) -> None:
        self.engine.dispose()

    def snapshot(self, customer_id: str, journey_id: str, now: datetime) -> Snapshot | None:
        """What a run decides on, read in one transaction: the customer, their sends of the last
        `LEDGER_DAYS` (for caps) and whether the journey is paused; None when the customer is not in the store."""
        with self._session() as session:
            return self._snapshot(session, customer_id, journey_id, now)

    def register_run(
        self,
        customer_id: str,
        journey_id: str,
        version: int,
        now: datetime,
        refusal: Refusal,
        listens: list[str] | None = None,
    ) -> Registration:
        """Enrolment's decision and the run's row, in one transaction holding the customer's lock.

        An event is recorded under the same lock, so it either came first (the snapshot holds it: `refusal`
        sees it, and the run's first decision too) or after (the run is live in the store, and `signal`
        delivers it if the run `listens` for it). `refusal(customer, past_runs)` says why the customer may not
        enter, or None."""
        with self._session(write=True) as session:
            try:
                self._lock_customer(session, customer_id)
            except UnknownCustomer:
                return Registration(status="unknown")
            snapshot = self._snapshot(session, customer_id, journey_id, now)
            assert snapshot is not None  # locked above
            runs = self._runs_in(session, customer_id, journey_id, live_only=False)
            live = next((r for r in runs if r.outcome == LIVE), None)
            if live is not None:
                # a run that never reported may never have started: enrolment was interrupted before it started it
                unstarted = live.version == version and unreported(live)
                return Registration(
                    status="live",
                    workflow_id=live.workflow_id,
                    entry=live.entry,
                    snapshot=snapshot,
                    unstarted=unstarted,
                    registered_at=utc(live.started_at),
                )
            reason = refusal(snapshot.customer, [past_run(r) for r in runs])
            if reason is not None:
                return Registration(status="refused", reason=reason)
            entry = max((r.entry for r in runs), default=0) + 1
            wid = workflow_id(journey_id, customer_id, entry)
            session.add(new_run(wid, journey_id, version, customer_id, entry, now, listens))
            return Registration(status="new", workflow_id=wid, entry=entry, snapshot=snapshot, registered_at=now)

    def entry_views(self, customer_ids: Sequence[str], journey_id: str) -> dict[str, tuple[Customer, list[PastRun]]]:
        """What continuous entry decides on, read in one transaction: each customer as a journey knows them and
        their runs of the journey (a customer not in the store is left out)."""
        with self._session() as session:
            customers = self._customers(session, customer_ids)
            runs: dict[str, list[PastRun]] = {}
            query = select(RunRow).where(col(RunRow.customer_id).in_(customer_ids), RunRow.journey_id == journey_id)
            for run in session.exec(query):
                runs.setdefault(run.customer_id, []).append(past_run(run))
        return {customer_id: (customer, runs.get(customer_id, [])) for customer_id, customer in customers.items()}

    def _snapshot(self, session: Session, customer_id: str, journey_id: str, now: datetime) -> Snapshot | None:
        found = self._customer(session, customer_id)
        if found is None:
            return None
        return Snapshot(
            customer=found[1],
            ledger=self._ledger(session, customer_id, now - timedelta(days=LEDGER_DAYS)),
            paused=self._paused(session, journey_id),
            read_at=now,
        )
