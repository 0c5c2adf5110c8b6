"""Customers and their timelines: profile imports, snapshots for journeys, updates, consent, events."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from json import dumps
from typing import Any, Literal, NamedTuple

from sqlalchemy import Connection, bindparam, func, insert, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from journeys.format.customers import (
    DOCUMENT_EVENT,
    PROFILE_FIELDS,
    PROFILE_KEYS,
    Customer,
    Event,
    Profile,
    ProfileValues,
)
from journeys.store.base import StoreBase, one_of, utc, utc_now
from journeys.store.errors import UnknownCustomer
from journeys.store.models import CustomerAuditRow, CustomerRow, DocumentRow, EventRow
from journeys.store.records import UpsertCounts

CHUNK = 1000  # customers per import transaction
CONSENT_CHANNELS: tuple[str, ...] = ("email", "sms", "voice", "webhook")  # what consent is kept for; `all`: each
CONSENT_EVENTS = {"opted_out": "opted_out", "opted_in": "opted_in"}  # an event with data.channel sets consent


class NewEvent(NamedTuple):
    """An event to record, with the door it came in by and the one journey it is for, if only one."""

    customer_id: str
    event: Event
    source: str = "cli"
    only_journey: str | None = None


Recorded = Literal["recorded", "duplicate", "unknown"]
_TICK = timedelta(microseconds=1)


def _lock_customers(customer_ids: Iterable[str]) -> Any:
    """These customers' rows, locked until the transaction ends, in the order of their ids."""
    ids = sorted(set(customer_ids))
    return select(CustomerRow).where(col(CustomerRow.id).in_(ids)).order_by(col(CustomerRow.id)).with_for_update()


def consent_channels(channel: str) -> tuple[str, ...]:
    """The channels a consent change names: one of CONSENT_CHANNELS, or all of them for `all`; () otherwise."""
    if channel == "all":
        return CONSENT_CHANNELS
    return (channel,) if channel in CONSENT_CHANNELS else ()


# A snapshot's reads, composed once: building them (the window subquery above all) cost more than running them.
_CUSTOMER = select(CustomerRow).where(CustomerRow.id == bindparam("customer_id"))
_DOCUMENTS = select(DocumentRow).where(DocumentRow.customer_id == bindparam("customer_id"))
_latest = (
    select(
        EventRow,
        func.row_number()
        .over(partition_by=EventRow.name, order_by=(col(EventRow.at).desc(), col(EventRow.recorded_at).desc()))
        .label("rank"),
    )
    .where(EventRow.customer_id == bindparam("customer_id"))
    .subquery()
)
_LATEST_EVENTS = select(aliased(EventRow, _latest)).where(_latest.c.rank == 1)  # the newest event of each name


def _latest_events_of(customer_ids: Sequence[str]) -> Any:
    """The newest event of each name of each of these customers."""
    ranked = (
        select(
            EventRow,
            func.row_number()
            .over(
                partition_by=(EventRow.customer_id, EventRow.name),
                order_by=(col(EventRow.at).desc(), col(EventRow.recorded_at).desc()),
            )
            .label("rank"),
        )
        .where(col(EventRow.customer_id).in_(customer_ids))
        .subquery()
    )
    return select(aliased(EventRow, ranked)).where(ranked.c.rank == 1)


def as_customer(row: CustomerRow, documents: Iterable[DocumentRow], events: Iterable[EventRow]) -> Customer:
    """A customer as a journey knows them: the profile, documents, and the newest event of each name."""
    return Customer(
        **{name: getattr(row, name) for name in PROFILE_KEYS},
        documents={d.kind: {**d.data, "at": d.at.isoformat(), "event_id": d.event_id} for d in documents},
        events={e.name: Event(id=e.id, name=e.name, data=e.data, at=utc(e.at)) for e in events},
    )


class CustomerMethods(StoreBase):
    def upsert_customers(self, records: Iterable[Profile | ProfileValues], at: datetime | None = None) -> UpsertCounts:
        """Create or replace profiles, a chunk of rows per transaction; consent and history are kept.

        A record replaces every profile field of its customer (a missing email clears it); a customer id
        that occurs twice takes the last record."""
        at = at or utc_now()
        created = updated = unchanged = 0
        for chunk in _chunks(records, CHUNK):
            latest = {record.id: record for record in chunk}
            c, u, n = self._upsert_chunk(list(latest.values()), at)
            created, updated, unchanged = created + c, updated + u, unchanged + n
        return UpsertCounts(created=created, updated=updated, unchanged=unchanged)

    def _upsert_chunk(self, records: list[Profile | ProfileValues], at: datetime) -> tuple[int, int, int]:
        table = CustomerRow.__table__  # type: ignore[attr-defined]
        with self._session(write=True) as session:
            ids = [r.id for r in records]
            existing = {
                row.id: tuple(row[1:])
                for row in session.exec(
                    select(table.c.id, *(table.c[name] for name in PROFILE_FIELDS)).where(
                        one_of(table.c.id, ids, self.engine.dialect.name)
                    )
                )
            }
            new: list[Profile | ProfileValues] = []
            changed: list[dict[str, Any]] = []
            for record in records:
                if record.id not in existing:
                    new.append(record)
                    continue
                profile = tuple(getattr(record, name) for name in PROFILE_FIELDS)
                if existing[record.id] != profile:
                    changed.append(
                        {"b_id": record.id, **dict(zip(PROFILE_FIELDS, profile, strict=True)), "updated_at": at}
                    )
            if new:
                _insert_new(session.connection(), new, at)
            if changed:
                values = {name: bindparam(name) for name in (*PROFILE_FIELDS, "updated_at")}
                session.exec(update(table).where(table.c.id == bindparam("b_id")).values(values), params=changed)
        return len(new), len(changed), len(records) - len(new) - len(changed)

    def customer(self, customer_id: str) -> Customer | None:
        """What a journey may know: the profile, documents, and the latest event of each name."""
        with self._session() as session:
            found = self._customer(session, customer_id)
        return found[1] if found else None

    def customer_and_row(self, customer_id: str) -> tuple[CustomerRow, Customer] | None:
        """The customer as a journey knows them, and their row (consent), read in one transaction."""
        with self._session() as session:
            return self._customer(session, customer_id)

    def _customer(self, session: Session, customer_id: str) -> tuple[CustomerRow, Customer] | None:
        params = {"customer_id": customer_id}
        row = session.exec(_CUSTOMER, params=params).first()
        if row is None:
            return None
        documents = session.exec(_DOCUMENTS, params=params).all()
        events = session.exec(_LATEST_EVENTS, params=params).all()
        return row, as_customer(row, documents, events)

    def _customers(self, session: Session, customer_ids: Sequence[str]) -> dict[str, Customer]:
        """Many customers as journeys know them, in three queries (continuous entry decides on pages of them)."""
        rows = session.exec(select(CustomerRow).where(col(CustomerRow.id).in_(customer_ids))).all()
        documents: dict[str, list[DocumentRow]] = {}
        for document in session.exec(select(DocumentRow).where(col(DocumentRow.customer_id).in_(customer_ids))):
            documents.setdefault(document.customer_id, []).append(document)
        events: dict[str, list[EventRow]] = {}
        for event in session.exec(_latest_events_of(customer_ids)):
            events.setdefault(event.customer_id, []).append(event)
        return {row.id: as_customer(row, documents.get(row.id, []), events.get(row.id, [])) for row in rows}

    def customer_row(self, customer_id: str) -> CustomerRow | None:
        with self._session() as session:
            return session.get(CustomerRow, customer_id)

    def customers_with_phone(self, phone: str) -> list[str]:
        """The ids of customers whose phone (E.164) is `phone` (inbound SMS finds its sender so)."""
        with self._session() as session:
            return list(session.exec(select(CustomerRow.id).where(CustomerRow.phone == phone).order_by(CustomerRow.id)))

    def find_customers(self, text: str, limit: int = 50) -> list[CustomerRow]:
        """Customers whose id, email or phone is `text`, or whose name, email or phone contains it (any case), by
        id: what support staff type when a customer calls."""
        text = text.strip()
        if not text:
            return []
        inside = f"%{text.lower()}%"
        query = (
            select(CustomerRow)
            .where(
                (CustomerRow.id == text)
                | (CustomerRow.email == text)
                | (CustomerRow.phone == text)
                | func.lower(CustomerRow.name).like(inside)
                | func.lower(CustomerRow.email).like(inside)
                | col(CustomerRow.phone).like(inside)
            )
            .order_by(col(CustomerRow.id))
            .limit(limit)
        )
        with self._session() as session:
            return list(session.exec(query))

    def customer_ids(self) -> list[str]:
        with self._session() as session:
            return list(session.exec(select(CustomerRow.id).order_by(CustomerRow.id)))

    def known_customers(self, ids: Collection[str]) -> set[str]:
        """Which of `ids` are customers in the store (for an import to reject the others before acting), in
        queries of CHUNK ids."""
        wanted = sorted(set(ids))
        found: set[str] = set()
        with self._session() as session:
            for start in range(0, len(wanted), CHUNK):
                chunk = wanted[start : start + CHUNK]
                found.update(session.exec(select(CustomerRow.id).where(col(CustomerRow.id).in_(chunk))))
        return found

    def apply_update(
        self,
        customer_id: str,
        set_attributes: dict[str, Any],
        add_tags: Sequence[str] = (),
        remove_tags: Sequence[str] = (),
        at: datetime | None = None,
    ) -> None:
        """A journey's `update` step: set attributes, add and remove tags, atomically."""
        with self._session(write=True) as session:
            row = self._lock_customer(session, customer_id)
            tags = [tag for tag in row.tags if tag not in remove_tags]
            tags += [tag for tag in dict.fromkeys(add_tags) if tag not in tags]
            attributes = {**row.attributes, **set_attributes}
            if tags != row.tags or attributes != row.attributes:
                row.tags, row.attributes, row.updated_at = tags, attributes, at or utc_now()
                session.add(row)

    def set_consent(self, customer_id: str, channel: str, status: str, at: datetime) -> None:
        """Record an opt-in or opt-out for one channel (unsubscribe links, STOP replies, imports)."""
        if status not in ("opted_in", "opted_out"):
            raise ValueError(f"consent status must be opted_in or opted_out, not {status!r}")
        with self._session(write=True) as session:
            row = self._lock_customer(session, customer_id)
            row.consent = {**row.consent, channel: {"status": status, "at": utc(at).isoformat()}}
            row.updated_at = at
            session.add(row)

    def change_consent(
        self, customer_id: str, channel: str, status: str, *, by: str, reason: str, at: datetime | None = None
    ) -> CustomerAuditRow:
        """A person's consent change (`journeys consent`): the consent of `channel` (or `all`) and the audit entry
        (action `consent`, details {channel, status}), in one transaction under the customer's lock."""
        if status not in ("opted_in", "opted_out"):
            raise ValueError(f"consent status must be opted_in or opted_out, not {status!r}")
        channels = consent_channels(channel)
        if not channels:
            raise ValueError(f"unknown channel {channel!r}")
        at = at or utc_now()
        with self._session(write=True) as session:
            row = self._lock_customer(session, customer_id)
            _consent(row, channels, status, at)
            session.add(row)
            audit = CustomerAuditRow(
                customer_id=customer_id,
                action="consent",
                at=at,
                by=by,
                reason=reason,
                details={"channel": channel, "status": status},
            )
            session.add(audit)
            session.flush()
        return audit

    def record_event(
        self,
        customer_id: str,
        event: Event,
        at: datetime | None = None,
        *,
        source: str = "cli",
        only_journey: str | None = None,
    ) -> bool:
        """Put an event on the customer's timeline, with the door it came in by (`source`: cli, api, provider,
        import); False when its id was recorded before. It is pending until `mark_delivered`: journeys owes its
        delivery to the customer's live runs (or `only_journey`'s) from then on (see `PendingMethods`).

        A `document_uploaded` event with a `kind` also records the document, and an `opted_out` / `opted_in`
        event whose data has `channel` (a channel or `all`) sets that consent, in the same transaction: every door
        events come in by (signal, events import, the API, inbound SMS and voice, bounces) records them here."""
        (outcome,) = self.record_events([NewEvent(customer_id, event, source, only_journey)], at)
        if outcome == "unknown":
            raise UnknownCustomer(customer_id)
        return outcome == "recorded"

    def record_events(self, incoming: Sequence[NewEvent], at: datetime | None = None) -> list[Recorded]:
        """Record many events as `record_event` records one, in one transaction (the API's batches): for each,
        `recorded`, `duplicate` (its id was recorded before) or `unknown` (no such customer, nothing recorded).
        Each is recorded a microsecond after the one before, so one customer's events are owed in the order
        given. The customers are locked in the order of their ids, so two batches never wait on each other."""
        if not incoming:
            return []
        try:
            with self._session(write=True) as session:
                customers = {row.id: row for row in session.exec(_lock_customers(n.customer_id for n in incoming))}
                ids = list({n.event.id for n in incoming})
                known = set(session.exec(select(EventRow.id).where(col(EventRow.id).in_(ids))))
                outcomes: list[Recorded] = []
                rows: list[dict[str, Any]] = []
                recorded_at = at or utc_now()
                for new in incoming:
                    row = customers.get(new.customer_id)
                    if row is None or new.event.id in known:
                        outcomes.append("unknown" if row is None else "duplicate")
                        continue
                    known.add(new.event.id)
                    rows.append(self._add_event(session, row, new, recorded_at))
                    recorded_at += _TICK
                    outcomes.append("recorded")
                if rows:  # one statement for all (the ORM's unit of work took five times as long, holding the writer)
                    session.execute(insert(EventRow), rows)
                session.flush()
        except IntegrityError:  # an id recorded meanwhile (for another customer: no lock held it): one by one
            if len(incoming) == 1:
                return ["duplicate"]
            return [self.record_events([new], at)[0] for new in incoming]
        return outcomes

    def _add_event(self, session: Session, row: CustomerRow, new: NewEvent, recorded_at: datetime) -> dict[str, Any]:
        """The event's row, to insert, and what it changes on the customer (a document, consent), added."""
        event = new.event
        kind = event.data.get("kind") if event.name == DOCUMENT_EVENT else None
        if isinstance(kind, str) and kind:
            self._record_document(session, row.id, kind, event)
        channel = event.data.get("channel") if event.name in CONSENT_EVENTS else None
        if isinstance(channel, str) and _consent(row, consent_channels(channel), event.name, event.at):
            session.add(row)
        return {
            "id": event.id,
            "customer_id": row.id,
            "name": event.name,
            "data": event.data,
            "at": event.at,
            "recorded_at": recorded_at,
            "source": new.source,
            "only_journey": new.only_journey,
        }

    def _record_document(self, session: Session, customer_id: str, kind: str, event: Event) -> None:
        """The newest document of a kind wins; a late-arriving older upload does not replace it."""
        document = session.get(DocumentRow, (customer_id, kind))
        if document is None:
            document = DocumentRow(customer_id=customer_id, kind=kind, data={}, event_id=event.id, at=event.at)
        elif utc(document.at) > event.at:
            return
        document.data, document.event_id, document.at = event.data, event.id, event.at
        session.add(document)

    def events_of(self, customer_id: str) -> list[Event]:
        """The customer's timeline, oldest first."""
        return [Event(id=r.id, name=r.name, data=r.data, at=utc(r.at)) for r in self.event_rows_of(customer_id)]

    def event_rows_of(self, customer_id: str) -> list[EventRow]:
        """The customer's timeline as recorded, each event with when it was recorded and its `source`, oldest first."""
        with self._session() as session:
            return list(
                session.exec(
                    select(EventRow)
                    .where(EventRow.customer_id == customer_id)
                    .order_by(col(EventRow.at), col(EventRow.recorded_at), col(EventRow.id))
                )
            )


_NEW_COLUMNS = ", ".join(("id", "name", "email", "phone", "locale", "timezone", "attributes", "tags"))
_NEW_COLUMNS += ", consent, created_at, updated_at"  # in the order `_insert_new` gives the values


def _insert_new(connection: Connection, records: list[Profile | ProfileValues], at: datetime) -> None:
    """Insert profiles whose ids the transaction found free, through the driver: the JSON columns encoded once
    here and the timestamps bound once, not per value by SQLAlchemy's processors (imports spent a fifth of their
    time there). PostgreSQL takes them by COPY, SQLite by one prepared INSERT."""
    dialect = connection.dialect
    table = CustomerRow.__table__  # type: ignore[attr-defined]
    stamp = table.c.created_at.type.dialect_impl(dialect).bind_processor(dialect)(at)  # as SQLAlchemy binds it
    rows = [
        (r.id, r.name, r.email, r.phone, r.locale, r.timezone, dumps(r.attributes), dumps(r.tags), "{}", stamp, stamp)
        for r in records
    ]
    if dialect.name == "postgresql":
        with connection.connection.driver_connection.cursor() as cursor:  # type: ignore[union-attr]
            with cursor.copy(f"COPY customer ({_NEW_COLUMNS}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        return
    marks = ", ".join("?" * len(rows[0]))
    connection.exec_driver_sql(f"INSERT INTO customer ({_NEW_COLUMNS}) VALUES ({marks})", rows)  # type: ignore[arg-type]


def _chunks(records: Iterable[Profile | ProfileValues], size: int) -> Iterator[list[Profile | ProfileValues]]:
    chunk: list[Profile | ProfileValues] = []
    for record in records:
        chunk.append(record)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _consent(row: CustomerRow, channels: Sequence[str], status: str, at: datetime) -> bool:
    """Set `channels`' consent on the locked row, each unless a newer change is kept; whether any changed."""
    consent, stamp = dict(row.consent or {}), utc(at)
    for channel in channels:
        kept = (consent.get(channel) or {}).get("at")
        if kept is None or datetime.fromisoformat(kept) <= stamp:
            consent[channel] = {"status": status, "at": stamp.isoformat()}
    if consent == (row.consent or {}):
        return False
    row.consent, row.updated_at = consent, at
    return True
