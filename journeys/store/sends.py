"""Messages: the send reservation (idempotency key and frequency caps in one transaction), outcomes, the ledger."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import bindparam
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from journeys.engine.interpreter import SentMessage, cap_until
from journeys.format.models import Limit
from journeys.store.base import StoreBase, utc
from journeys.store.errors import UnknownMessage
from journeys.store.models import MessageRow
from journeys.store.records import Reservation, SendReservation

LEDGER_STATUSES = ("sending", "sent", "delivered")  # what counts against frequency caps
SEND_OUTCOMES = ("sent", "failed", "skipped", "retried")  # retried: refused by the provider, decided again

_LEDGER = (  # composed once, as the snapshot's other reads (see `customers`)
    select(MessageRow.created_at, MessageRow.channel)
    .where(
        MessageRow.customer_id == bindparam("customer_id"),
        col(MessageRow.created_at) >= bindparam("since"),
        col(MessageRow.status).in_(LEDGER_STATUSES),
    )
    .order_by(col(MessageRow.created_at))
)


class SendMethods(StoreBase):
    def ledger(self, customer_id: str, since: datetime) -> list[SentMessage]:
        """The customer's sends (all journeys) since `since`, oldest first: what frequency caps count."""
        with self._session() as session:
            return self._ledger(session, customer_id, since)

    def _ledger(self, session: Session, customer_id: str, since: datetime) -> list[SentMessage]:
        rows = session.exec(_LEDGER, params={"customer_id": customer_id, "since": since}).all()
        return [SentMessage(at=utc(at), channel=channel) for at, channel in rows]

    def reserve_send(self, reservation: SendReservation, limits: Sequence[Limit], now: datetime) -> Reservation:
        """Write the message row (status `sending`) unless that key has one or a frequency cap forbids it.

        One transaction holding the customer's lock, so two journeys sending to one customer at once cannot
        both squeeze under a cap, and a retried activity finds its own row (`duplicate`)."""
        try:
            with self._session(write=True) as session:
                self._lock_customer(session, reservation.customer_id)
                existing = session.get(MessageRow, reservation.key)
                if existing is not None:
                    return Reservation(status="duplicate", message=existing)
                relevant = [limit for limit in limits if limit.channel in (reservation.channel, "any")]
                if relevant:
                    since = now - max(limit.per for limit in relevant)
                    ledger = self._ledger(session, reservation.customer_id, since)
                    until = cap_until(relevant, ledger, reservation.channel, now)
                    if until is not None:
                        return Reservation(status="capped", until=until)
                fields = reservation.model_dump()
                fields["created_at"] = fields["created_at"] or now
                row = MessageRow(**fields, status="sending")
                session.add(row)
                session.flush()
        except IntegrityError:  # the key was written meanwhile by a transaction that held no lock we share
            with self._session() as session:
                existing = session.get(MessageRow, reservation.key)
            if existing is None:
                raise
            return Reservation(status="duplicate", message=existing)
        return Reservation(status="reserved", message=row)

    def complete_send(
        self,
        key: str,
        status: str,
        *,
        provider: str,
        provider_id: str | None = None,
        error: str | None = None,
        at: datetime,
    ) -> None:
        """The outcome of a reserved send: `sent` (with the provider's id), `failed` or `skipped` (with why)."""
        if status not in SEND_OUTCOMES:
            raise ValueError(f"a send ends sent, failed or skipped, not {status!r}")
        with self._session(write=True) as session:
            row = session.get(MessageRow, key)
            if row is None:
                raise UnknownMessage(key)
            row.status, row.provider, row.provider_id, row.error = status, provider, provider_id, error
            row.sent_at = at if status == "sent" else None
            session.add(row)

    def messages_of(self, customer_id: str) -> list[MessageRow]:
        """Every message of the customer, all journeys, oldest first."""
        with self._session() as session:
            return list(
                session.exec(
                    select(MessageRow)
                    .where(MessageRow.customer_id == customer_id)
                    .order_by(col(MessageRow.created_at), col(MessageRow.key))
                )
            )

    def set_provider_status(self, provider_id: str, status: str, error: str | None) -> str:
        """A provider's final word on a message: `updated`, `unchanged` (a repeated callback) or `unknown`."""
        with self._session(write=True) as session:
            row = session.exec(select(MessageRow).where(MessageRow.provider_id == provider_id)).first()
            if row is None:
                return "unknown"
            if (row.status, row.error) == (status, error):
                return "unchanged"
            row.status, row.error = status, error
            session.add(row)
        return "updated"

    def messages_of_run(self, workflow_id: str) -> list[MessageRow]:
        with self._session() as session:
            return list(
                session.exec(
                    select(MessageRow)
                    .where(MessageRow.workflow_id == workflow_id)
                    .order_by(col(MessageRow.created_at), col(MessageRow.key))
                )
            )
