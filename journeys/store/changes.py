"""What changed, for continuous entry: customers whose profile or timeline changed since a point, and each
continuous journey's cursor over them (how far its enroller has handled the changes)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from journeys.store.base import StoreBase, utc
from journeys.store.models import CustomerRow, EntryCursorRow, EventRow


class ChangeMethods(StoreBase):
    def changed_customers(
        self, since: datetime | None, after: tuple[datetime, str] | None = None, limit: int = 1000
    ) -> list[tuple[str, datetime]]:
        """The changes at or after `since` (None: ever), oldest first (then by customer id), at most `limit`:
        each a customer whose profile was written (`customer.updated_at`) or who had an event recorded
        (`event.recorded_at`), with that time; a customer appears once per change. `after` is the last
        `(time, customer)` of the previous page. Each side reads its own index in order, so a page costs
        the same however many changes lie beyond it."""
        with self._session() as session:
            profiles = _changes(session, col(CustomerRow.id), col(CustomerRow.updated_at), since, after, limit)
            events = _changes(session, col(EventRow.customer_id), col(EventRow.recorded_at), since, after, limit)
        return sorted(profiles + events, key=lambda change: (change[1], change[0]))[:limit]

    def entry_cursor(self, journey_id: str) -> datetime | None:
        """How far the journey's enroller has handled the changes; None before its first pass."""
        with self._session() as session:
            row = session.get(EntryCursorRow, journey_id)
            return utc(row.position) if row else None

    def advance_entry_cursor(self, journey_id: str, position: datetime, at: datetime) -> None:
        """Move the cursor to `position`, never back (several enrollers may race: the furthest wins)."""
        try:
            with self._session(write=True) as session:
                row = session.get(EntryCursorRow, journey_id, with_for_update=True)
                if row is None:
                    session.add(EntryCursorRow(journey_id=journey_id, position=position, updated_at=at))
                elif utc(row.position) < position:
                    row.position, row.updated_at = position, at
                    session.add(row)
        except IntegrityError:  # created meanwhile by another enroller: now it exists, so this is an update
            self.advance_entry_cursor(journey_id, position, at)


def _changes(
    session: Session,
    customer: Any,
    stamp: Any,
    since: datetime | None,
    after: tuple[datetime, str] | None,
    limit: int,
) -> list[tuple[str, datetime]]:
    """One side's changes, in the order of its `(stamp, customer)` index."""
    query = select(customer, stamp)
    if since is not None:
        query = query.where(stamp >= since)
    if after is not None:
        query = query.where(or_(stamp > after[0], and_(stamp == after[0], customer > after[1])))
    return [(customer_id, utc(at)) for customer_id, at in session.exec(query.order_by(stamp, customer).limit(limit))]
