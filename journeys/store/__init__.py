"""The store: one place for customers, their events and documents, every message and every run.

SQLite by default (a file in the data dir), PostgreSQL in production; the schema is kept by the alembic
migrations in `migrations/`, applied by `Store.open`.
"""

from __future__ import annotations

from journeys.store.customers import NewEvent, Recorded
from journeys.store.erasure import ERASURE, Erased, UnsettledRuns
from journeys.store.errors import (
    StoreError,
    StoreUnavailable,
    UnknownCustomer,
    UnknownMessage,
    UnknownRun,
    VersionConflict,
)
from journeys.store.keys import SCOPES, KeyExists
from journeys.store.models import (
    ApiKeyRow,
    ConsoleUserRow,
    CustomerAuditRow,
    CustomerRow,
    DocumentRow,
    EventRow,
    JourneyStateRow,
    JourneyVersionRow,
    MessageRow,
    RunAuditRow,
    RunRow,
    StepLogRow,
)
from journeys.store.pending import PendingEvent
from journeys.store.records import MessageStatus, Reservation, SendReservation, UpsertCounts
from journeys.store.report import (
    GoalConversion,
    JourneyReport,
    MessageCount,
    OutcomeCount,
    ReportSpec,
    StepReport,
    Transition,
)
from journeys.store.store import Store
from journeys.store.users import ROLES, UserExists, may

__all__ = [
    "ERASURE",
    "ROLES",
    "SCOPES",
    "ApiKeyRow",
    "ConsoleUserRow",
    "CustomerAuditRow",
    "CustomerRow",
    "DocumentRow",
    "Erased",
    "EventRow",
    "GoalConversion",
    "JourneyReport",
    "JourneyStateRow",
    "JourneyVersionRow",
    "KeyExists",
    "MessageCount",
    "MessageRow",
    "MessageStatus",
    "NewEvent",
    "OutcomeCount",
    "PendingEvent",
    "Recorded",
    "ReportSpec",
    "Reservation",
    "RunAuditRow",
    "RunRow",
    "SendReservation",
    "StepLogRow",
    "StepReport",
    "Store",
    "StoreError",
    "StoreUnavailable",
    "Transition",
    "UnknownCustomer",
    "UnknownMessage",
    "UnknownRun",
    "UnsettledRuns",
    "UpsertCounts",
    "UserExists",
    "VersionConflict",
    "may",
]
