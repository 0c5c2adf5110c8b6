"""What the store refuses; messages name ids, never a customer's email or phone.

JourneysError                 (journeys.errors)
└── StoreError                the store refused an operation
    ├── UnknownCustomer       no customer with that id
    ├── UnknownRun            no run with that workflow id
    ├── UnknownMessage        no message with that idempotency key
    ├── VersionConflict       a journey version was saved before with a different definition
    └── StoreUnavailable      the database does not answer (down, restarting, unreachable): try again later
"""

from __future__ import annotations

from sqlalchemy import URL
from sqlalchemy.exc import DBAPIError, OperationalError

from journeys.errors import JourneysError


class StoreError(JourneysError):
    """The store refused an operation."""


class UnknownCustomer(StoreError, LookupError):
    def __init__(self, customer_id: str) -> None:
        self.customer_id = customer_id
        super().__init__(f"no customer {customer_id!r} in the store")


class UnknownRun(StoreError, LookupError):
    def __init__(self, workflow_id: str) -> None:
        self.workflow_id = workflow_id
        super().__init__(f"no run {workflow_id!r} in the store")


class UnknownMessage(StoreError, LookupError):
    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(f"no message with key {key!r} in the store")


class VersionConflict(StoreError):
    def __init__(self, journey_id: str, version: int) -> None:
        self.journey_id = journey_id
        self.version = version
        super().__init__(
            f"journey {journey_id!r} version {version} was already used with a different definition: "
            "bump `version` in the file"
        )


class StoreUnavailable(StoreError):
    """The database server does not answer, or dropped the connection (PostgreSQL down or restarting).

    Nothing in the failed transaction was committed unless the connection died during the commit itself.
    Activities that meet it fail and are retried; the CLI prints it in one line."""

    def __init__(self, url: URL, cause: DBAPIError) -> None:
        self.url = url.render_as_string(hide_password=True)
        detail = str(cause.orig or cause).strip().splitlines()
        super().__init__(f"the store does not answer ({self.url}): {detail[0] if detail else type(cause).__name__}")


def is_unavailable(exc: DBAPIError) -> bool:
    """Whether `exc` says the database went away rather than refused a statement: a connection that could not
    be made or was lost (no SQLSTATE), a connection exception (class 08) or an operator intervention such as a
    shutdown (57P). SQLite's errors (a locked or missing file) are not an unavailable server."""
    if exc.connection_invalidated:
        return True
    if not isinstance(exc, OperationalError):
        return False
    sqlstate = getattr(exc.orig, "sqlstate", False)  # psycopg's errors have one (None when raised client-side)
    if sqlstate is False:
        return False
    return sqlstate is None or sqlstate.startswith(("08", "57P"))
