"""Messages: the send reservation (idempotency key and frequency caps in one transaction), outcomes, the ledger."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from journeys.engine.interpreter import SentMessage, cap_until
from journeys.format.models import Limit
from journeys.store.base import StoreBase, utc
from journeys.store.errors import UnknownMessage
from journeys.store.models import CustomerRow, EventRow, JourneyStateRow, MessageRow, RunAuditRow, RunRow
from journeys.store.records import Reservation, SendGuard, SendReservation
from journeys.store.runs import LIVE

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


_PAUSED = select(JourneyStateRow.paused).where(JourneyStateRow.journey_id == bindparam("journey_id"))
_MIGRATED = select(func.max(RunAuditRow.at)).where(
    RunAuditRow.workflow_id == bindparam("workflow_id"), RunAuditRow.kind == "migrate"
)


def opted_out_of(consent: dict[str, Any] | None, channel: str) -> bool:
    """Whether a customer's consent (the row's `consent`) withdraws `channel`."""
    return (consent or {}).get(channel, {}).get("status") == "opted_out"


class SendMethods(StoreBase):
    def ledger(self, customer_id: str, since: datetime) -> list[SentMessage]:
        """The customer's sends (all journeys) since `since`, oldest first: what frequency caps count."""
        with self._session() as session:
            return self._ledger(session, customer_id, since)

    def _ledger(self, session: Session, customer_id: str, since: datetime) -> list[SentMessage]:
        rows = session.exec(_LEDGER, params={"customer_id": customer_id, "since": since}).all()
        return [SentMessage(at=utc(at), channel=channel) for at, channel in rows]

    def reserve_send(
        self, reservation: SendReservation, limits: Sequence[Limit], now: datetime, guard: SendGuard | None = None
    ) -> Reservation:
        """Write the message row (status `sending`) unless that key has one, the run may no longer send it
        (`guard`: then the row is written `skipped`, or nothing when the journey is paused and the step holds),
        or a frequency cap forbids it.

        One transaction holding the customer's lock, so two journeys sending to one customer at once cannot
        both squeeze under a cap, a retried activity finds its own row (`duplicate`), and an exit event, a
        cancel or an opt-out recorded before the reservation stops it (they take the same lock)."""
        try:
            with self._session(write=True) as session:
                customer = self._lock_customer(session, reservation.customer_id)
                existing = session.get(MessageRow, reservation.key)
                if existing is not None:
                    return Reservation(status="duplicate", message=existing)
                fields = reservation.model_dump()
                fields["created_at"] = fields["created_at"] or now
                stop = self._stop(session, customer, reservation, guard) if guard is not None else None
                if stop == "held":
                    return Reservation(status="held")
                if stop is not None:
                    row = MessageRow(**{**fields, "provider": "none"}, status="skipped", error=stop)
                    session.add(row)
                    session.flush()
                    return Reservation(status="skipped", message=row)
                relevant = [limit for limit in limits if limit.channel in (reservation.channel, "any")]
                if relevant:
                    since = now - max(limit.per for limit in relevant)
                    ledger = self._ledger(session, reservation.customer_id, since)
                    until = cap_until(relevant, ledger, reservation.channel, now)
                    if until is not None:
                        return Reservation(status="capped", until=until)
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

    def _stop(
        self, session: Session, customer: CustomerRow, reservation: SendReservation, guard: SendGuard
    ) -> str | None:
        """Why the run may no longer send this message (see `SendGuard`), `held` when the journey is paused and
        the step holds its sends, or None when it may; read in the reservation's transaction."""
        run = session.get(RunRow, reservation.workflow_id)
        if run is not None and run.outcome != LIVE:
            how = f"{run.outcome} on '{run.exit_event}'" if run.exit_event else run.outcome
            return f"not sent: the run ended ({how}) before it went out"
        if guard.exit_on:
            since = utc(run.started_at) if run is not None else guard.decided_at
            migrated = session.exec(_MIGRATED, params={"workflow_id": reservation.workflow_id}).first()
            if since is not None and migrated is not None:
                since = max(since, utc(migrated))
            if since is not None:
                goal = session.exec(
                    select(EventRow.name)
                    .where(
                        EventRow.customer_id == reservation.customer_id,
                        col(EventRow.name).in_(guard.exit_on),
                        col(EventRow.recorded_at) >= since,
                    )
                    .order_by(col(EventRow.recorded_at))
                ).first()
                if goal is not None:
                    return f"not sent: exit event '{goal}' was recorded before it went out"
        if opted_out_of(customer.consent, reservation.channel):
            return f"opted out of {reservation.channel}"
        if session.exec(_PAUSED, params={"journey_id": reservation.journey_id}).first():
            return "held" if guard.on_pause == "hold" else "not sent: the journey is paused (on_pause: skip)"
        return None

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

    def messages_since(self, since: datetime) -> dict[str, int]:
        """Messages each journey's runs decided to send at or after `since`, skipped ones left out, by journey id."""
        query = (
            select(MessageRow.journey_id, func.count())
            .where(col(MessageRow.created_at) >= since, MessageRow.status != "skipped")
            .group_by(MessageRow.journey_id)
        )
        with self._session() as session:
            return {journey_id: count for journey_id, count in session.exec(query)}

    def messages_of_run(self, workflow_id: str) -> list[MessageRow]:
        with self._session() as session:
            return list(
                session.exec(
                    select(MessageRow)
                    .where(MessageRow.workflow_id == workflow_id)
                    .order_by(col(MessageRow.created_at), col(MessageRow.key))
                )
            )
