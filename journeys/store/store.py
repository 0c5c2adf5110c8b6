"""`Store`: customers, their events and documents, messages (outbox and cap ledger), runs, versions, pauses.

Synchronous on purpose: Temporal runs sync activities in a thread pool, and the CLI is sync. Every method is
one short transaction. Writes that read first (a send reservation, an event with its document, a profile
update) lock the customer first, so concurrent workers serialise per customer: `SELECT ... FOR UPDATE` on
PostgreSQL, `BEGIN IMMEDIATE` on SQLite (see `engine`). The methods live in `customers`, `sends` and `runs`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import bindparam
from sqlalchemy.exc import DBAPIError
from sqlmodel import select

from journeys.runs import LEDGER_DAYS, Snapshot
from journeys.store.customers import CustomerMethods
from journeys.store.engine import make_engine, migrate
from journeys.store.errors import StoreUnavailable, is_unavailable
from journeys.store.models import JourneyStateRow
from journeys.store.runs import RunMethods
from journeys.store.sends import SendMethods

_PAUSED = select(JourneyStateRow.paused).where(JourneyStateRow.journey_id == bindparam("journey_id"))


class Store(CustomerMethods, SendMethods, RunMethods):
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
        since = now - timedelta(days=LEDGER_DAYS)
        with self._session() as session:
            found = self._customer(session, customer_id)
            if found is None:
                return None
            return Snapshot(
                customer=found[1],
                ledger=self._ledger(session, customer_id, since),
                paused=bool(session.exec(_PAUSED, params={"journey_id": journey_id}).first()),
                read_at=now,
            )
