"""Events whose delivery journeys still owes: recorded, not yet taken in by every live run they concern.

Recording and delivering are two steps with this table between them (a transactional outbox): `signal`, the
API and the provider callbacks record first, deliver at once when Temporal answers, and mark the event
delivered; what an outage or a crash left behind is found here by the deliverer that runs with the worker
(`journeys.services.delivery.deliver_pending`), oldest first, in order per customer.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, update
from sqlmodel import col, select

from journeys.format.customers import Event
from journeys.store.base import StoreBase, utc, utc_now
from journeys.store.models import EventRow


class PendingEvent(Event):
    """An event owed to its customer's runs, with what delivering it needs to know."""

    customer_id: str
    recorded_at: datetime
    only_journey: str | None = None


# the columns delivery reads, as plain rows: a batch's thousand events loaded as ORM objects took a quarter of
# the API's store time under ingest
_OWED = select(
    EventRow.id,
    EventRow.name,
    EventRow.data,
    EventRow.at,
    EventRow.customer_id,
    EventRow.recorded_at,
    EventRow.only_journey,
)


def _pending(row: Row[Any]) -> PendingEvent:
    return PendingEvent(
        id=row.id,
        name=row.name,
        data=row.data,
        at=utc(row.at),
        customer_id=row.customer_id,
        recorded_at=utc(row.recorded_at),
        only_journey=row.only_journey,
    )


class PendingMethods(StoreBase):
    def pending_events(self, recorded_before: datetime, limit: int = 500) -> list[PendingEvent]:
        """The oldest events still owed, recorded before `recorded_before` (younger ones are being delivered by
        whoever recorded them), in the order they were recorded."""
        with self._session() as session:
            rows = session.exec(
                _OWED.where(col(EventRow.delivered_at).is_(None), col(EventRow.recorded_at) < recorded_before)
                .order_by(col(EventRow.recorded_at), col(EventRow.id))
                .limit(limit)
            ).all()
        return [_pending(r) for r in rows]

    def pending_of(self, customer_id: str) -> list[PendingEvent]:
        """The customer's events still owed, in the order they were recorded."""
        return self.pending_of_customers([customer_id]).get(customer_id, [])

    def pending_of_customers(self, customer_ids: Collection[str]) -> dict[str, list[PendingEvent]]:
        """Each of these customers' events still owed, in the order they were recorded (one read for a batch)."""
        owed: dict[str, list[PendingEvent]] = {}
        with self._session() as session:
            rows = session.exec(
                _OWED.where(
                    col(EventRow.customer_id).in_(list(customer_ids)), col(EventRow.delivered_at).is_(None)
                ).order_by(col(EventRow.recorded_at), col(EventRow.id))
            ).all()
        for row in rows:
            owed.setdefault(row.customer_id, []).append(_pending(row))
        return owed

    def event(self, event_id: str) -> Event | None:
        """The event of that id, whoever it belongs to."""
        with self._session() as session:
            row = session.get(EventRow, event_id)
        return None if row is None else Event(id=row.id, name=row.name, data=row.data, at=utc(row.at))

    def mark_delivered(self, event_ids: Sequence[str], at: datetime | None = None) -> None:
        """Every live run these events concern has taken them in: nothing more is owed."""
        if not event_ids:
            return
        with self._session(write=True) as session:
            session.exec(  # type: ignore[call-overload]
                update(EventRow)
                .where(col(EventRow.id).in_(list(event_ids)), col(EventRow.delivered_at).is_(None))
                .values(delivered_at=at or utc_now())
            )
