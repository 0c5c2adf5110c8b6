"""What changed, for continuous entry: customers whose profile or timeline changed since a point, and each
continuous journey's cursor over them (how far its enroller has handled the changes)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, func, literal_column, or_, union_all
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from journeys.store.base import StoreBase, utc
from journeys.store.models import CustomerRow, EntryCursorRow, EventRow, UTCDateTime


class ChangeMethods(StoreBase):
    def changed_customers(
        self, since: datetime | None, after: tuple[datetime, str] | None = None, limit: int = 1000
    ) -> list[tuple[str, datetime]]:
        """Customers whose profile was written (`customer.updated_at`) or who had an event recorded
        (`event.recorded_at`) at or after `since` (None: ever), each with the time of their newest change,
        oldest change first (then by id); `after` is the last pair of the previous page."""
        profiles = select(col(CustomerRow.id).label("customer_id"), col(CustomerRow.updated_at).label("stamp"))
        events = select(col(EventRow.customer_id).label("customer_id"), col(EventRow.recorded_at).label("stamp"))
        if since is not None:
            profiles = profiles.where(col(CustomerRow.updated_at) >= since)
            events = events.where(col(EventRow.recorded_at) >= since)
        changes = union_all(profiles, events).subquery()
        stamp = func.max(changes.c.stamp, type_=UTCDateTime())
        query = select(changes.c.customer_id, stamp.label("stamp")).group_by(changes.c.customer_id)
        if after is not None:
            last, last_id = after
            query = query.having(or_(stamp > last, and_(stamp == last, changes.c.customer_id > last_id)))
        query = query.order_by(literal_column("stamp"), changes.c.customer_id).limit(limit)
        with self._session() as session:
            rows = session.exec(query).all()  # type: ignore[call-overload]
        return [(customer_id, value) for customer_id, value in rows]

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
