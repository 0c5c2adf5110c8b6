"""The store's tables, as SQLModel row models; the schema itself is made by the migrations.

Timestamps are aware UTC datetimes on the way in and on the way out, on SQLite (which keeps no zone) as on
PostgreSQL (`timestamptz`); JSON columns use the portable `JSON` type.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Dialect, Index, Text, text
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


class UTCDateTime(TypeDecorator[datetime]):
    """`DateTime(timezone=True)` that refuses naive values and always gives back aware UTC datetimes."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetime given to the store: timestamps must carry a zone")
        value = value.astimezone(timezone.utc)
        # SQLite stores text without a zone: keep UTC wall time, so text order is time order
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


def _at(*, nullable: bool = False, index: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable, index=index))


def _json(factory: type[dict[str, Any]] | type[list[Any]]) -> Any:
    return Field(default_factory=factory, sa_column=Column(JSON, nullable=False))


class CustomerRow(SQLModel, table=True):
    """A customer's profile, consent per channel, and when the profile was made and last changed."""

    __tablename__ = "customer"
    __table_args__ = (
        Index("ix_customer_updated_at_id", "updated_at", "id"),  # what changed, in order
        Index("ix_customer_email_lower", text("lower(email)")),  # who holds an email, whatever its case
        Index("ix_customer_phone", "phone"),
    )

    id: str = Field(primary_key=True)
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    locale: str | None = None
    timezone: str | None = None
    attributes: dict[str, Any] = _json(dict)
    tags: list[str] = _json(list)
    consent: dict[str, Any] = _json(dict)  # channel → {"status": "opted_in" | "opted_out", "at": iso}
    created_at: datetime = _at()
    updated_at: datetime = _at()


class EventRow(SQLModel, table=True):
    """One event on a customer's timeline; its id is globally unique, so recording it twice is a no-op."""

    __tablename__ = "event"
    __table_args__ = (
        Index("ix_event_recorded_at_customer_id", "recorded_at", "customer_id"),  # likewise
        Index(
            "ix_event_pending",
            "recorded_at",
            postgresql_where=text("delivered_at IS NULL"),
            sqlite_where=text("delivered_at IS NULL"),
        ),
    )

    id: str = Field(primary_key=True)
    customer_id: str = Field(index=True)
    name: str = Field(index=True)
    data: dict[str, Any] = _json(dict)
    at: datetime = _at()
    recorded_at: datetime = _at()
    source: str | None = None  # the door it came in by: cli | api | provider | import (None: before sources were kept)
    # when every live run it concerns had taken it in; None: journeys still owes the delivery (see store.pending)
    delivered_at: datetime | None = _at(nullable=True)
    only_journey: str | None = None  # meant for this journey's runs alone (`signal --journey`)


class DocumentRow(SQLModel, table=True):
    """The latest document of each kind a customer uploaded (a `document_uploaded` event with a `kind`)."""

    __tablename__ = "document"

    customer_id: str = Field(primary_key=True)
    kind: str = Field(primary_key=True)
    data: dict[str, Any] = _json(dict)
    event_id: str
    at: datetime = _at()


class RunRow(SQLModel, table=True):
    """One run of a journey for a customer, as last reported by its workflow (outcome "running" while live)."""

    __tablename__ = "run"
    __table_args__ = (Index("ix_run_customer_id_journey_id", "customer_id", "journey_id"),)

    workflow_id: str = Field(primary_key=True)
    journey_id: str = Field(index=True)
    version: int
    customer_id: str
    entry: int
    started_at: datetime = _at()
    ended_at: datetime | None = _at(nullable=True)
    outcome: str = "running"
    exit_event: str | None = None
    end_label: str | None = None
    cohort: str | None = None  # the split cohort the run fell in (`holdout` included); None: no split passed
    failure: str | None = Field(default=None, sa_type=Text)
    current_step: str | None = None
    waiting_for: list[str] = _json(list)
    until: datetime | None = _at(nullable=True)
    updated_at: datetime = _at()
    # the events the run acts on, as its definition says (`journeys.engine.listening`); None: every event
    listens: list[str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))


class StepLogRow(SQLModel, table=True):
    """A run entered `step` (coming from `from_step`): the raw material of journey reports."""

    __tablename__ = "step_log"
    __table_args__ = (Index("ix_step_log_workflow_id_seq", "workflow_id", "seq", unique=True),)

    id: int | None = Field(default=None, primary_key=True)
    workflow_id: str = Field(index=True)
    journey_id: str = Field(index=True)
    version: int
    step: str
    from_step: str | None = None
    at: datetime = _at()
    seq: int | None = None  # the entry's number within the run (None: logged before entries were numbered)


class RunAuditRow(SQLModel, table=True):
    """A hand-made change to a live run: a move or a cancel by support staff, or a migration to a new version."""

    __tablename__ = "run_audit"

    id: int | None = Field(default=None, primary_key=True)
    workflow_id: str = Field(index=True)
    kind: str  # "move" | "cancel" | "migrate"
    at: datetime = _at()
    by: str
    reason: str | None = None
    from_step: str | None = None
    to_step: str | None = None
    from_version: int | None = None
    to_version: int | None = None


class CustomerAuditRow(SQLModel, table=True):
    """A change that concerns a customer rather than one run: an erasure, a consent change. `details` holds
    what the action needs to be understood later (counts, a channel), never personal data."""

    __tablename__ = "customer_audit"

    id: int | None = Field(default=None, primary_key=True)
    customer_id: str = Field(index=True)
    action: str  # "erasure" | "consent" | ...
    at: datetime = _at()
    by: str
    reason: str | None = None
    details: dict[str, Any] = _json(dict)


class MessageFields(SQLModel):
    """What a message is, whatever becomes of it: the fields a run's send reserves (`SendReservation`)."""

    key: str = Field(primary_key=True)  # the idempotency key: one row, one send, however often it is retried
    workflow_id: str = Field(index=True)
    journey_id: str
    customer_id: str
    step: str
    visit: int
    channel: str
    recipient: str | None = None
    subject: str | None = None
    body: str | None = Field(default=None, sa_type=Text)
    html: str | None = Field(default=None, sa_type=Text)
    payload: dict[str, Any] = _json(dict)
    provider: str | None = None  # "outbox": the row holds exactly what would have been sent
    created_at: datetime | None = _at()  # when the run decided to send


class MessageRow(MessageFields, table=True):
    """Every message a run decided to send, keyed by its idempotency key; also the outbox and the cap ledger."""

    __tablename__ = "message"
    __table_args__ = (Index("ix_message_customer_id_created_at", "customer_id", "created_at"),)

    status: str = "sending"  # sending | sent | delivered | failed | skipped | retried
    provider_id: str | None = None
    error: str | None = Field(default=None, sa_type=Text)
    sent_at: datetime | None = _at(nullable=True)


class JourneyVersionRow(SQLModel, table=True):
    """The text of each journey version that enrolled someone: a version number means one definition."""

    __tablename__ = "journey_version"

    journey_id: str = Field(primary_key=True)
    version: int = Field(primary_key=True)
    hash: str
    text: str = Field(sa_type=Text)
    first_used_at: datetime = _at()


class JourneyStateRow(SQLModel, table=True):
    """Whether a journey is paused (no enrolments, no sends)."""

    __tablename__ = "journey_state"

    journey_id: str = Field(primary_key=True)
    paused: bool = False
    updated_at: datetime = _at()


class EntryCursorRow(SQLModel, table=True):
    """How far a continuous journey's enroller has handled what changed: every customer whose profile or
    timeline changed before `position` was evaluated for entry (see `journeys.services.entering`)."""

    __tablename__ = "entry_cursor"

    journey_id: str = Field(primary_key=True)
    position: datetime = _at()
    updated_at: datetime = _at()


class ApiKeyRow(SQLModel, table=True):
    """An HTTP API key: its name, its one scope, and only the SHA-256 of the key itself (printed once)."""

    __tablename__ = "api_key"

    name: str = Field(primary_key=True)
    scope: str  # events | read | admin
    hash: str = Field(unique=True, index=True)
    created_at: datetime = _at()
    created_by: str
    revoked_at: datetime | None = _at(nullable=True)


class ConsoleUserRow(SQLModel, table=True):
    """A person who signs in to the web console: a name, one role, and only an argon2 hash of the password."""

    __tablename__ = "console_user"

    name: str = Field(primary_key=True)
    role: str  # viewer | support | marketer | admin
    password_hash: str
    created_at: datetime = _at()
    created_by: str
