"""What every part of `Store` shares: the engine, one-transaction sessions, the per-customer lock, rows added by
name."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import ARRAY, ColumnElement, Engine, String, any_, bindparam, func
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlmodel import Session, SQLModel, select

from journeys.store.engine import WRITE
from journeys.store.errors import StoreUnavailable, UnknownCustomer, is_unavailable
from journeys.store.models import CustomerRow


def one_of(expression: ColumnElement[Any], values: Collection[str], dialect: str) -> ColumnElement[bool]:
    """`expression IN values` with the values as one parameter (a PostgreSQL array, a JSON array on SQLite): a
    thousand ids or emails are not a thousand bind parameters to compile and plan at every chunk of an import."""
    if dialect == "postgresql":
        return expression == any_(bindparam(None, list(values), type_=ARRAY(String)))
    listed = func.json_each(bindparam(None, json.dumps(list(values)))).table_valued("value")
    return expression.in_(select(listed.c.value).scalar_subquery())


_LOCK_CUSTOMER = select(CustomerRow).where(CustomerRow.id == bindparam("customer_id")).with_for_update()


class StoreBase:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @contextmanager
    def _session(self, *, write: bool = False) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back on error.

        `write=True` for a transaction that reads and then writes: on SQLite it takes the write lock first
        (BEGIN IMMEDIATE), so it waits its turn instead of failing when it comes to write. A database that does
        not answer, or drops the connection, raises `StoreUnavailable` (the pool pings a connection before
        reusing it, so once the server is back the next transaction works)."""
        try:
            with Session(self.engine, expire_on_commit=False, autoflush=False) as session:
                if write:
                    session.connection(execution_options={WRITE: True})
                yield session
                session.commit()
        except DBAPIError as exc:
            if is_unavailable(exc):
                raise StoreUnavailable(self.engine.url, exc) from exc
            raise

    def _add_named(self, row: SQLModel, name: str, taken: type[Exception]) -> None:
        """Insert a row keyed by `name`, or raise `taken(name)` when one has it (made meanwhile by another process
        too)."""
        try:
            with self._session(write=True) as session:
                if session.get(type(row), name) is not None:
                    raise taken(name)
                session.add(row)
        except IntegrityError:
            raise taken(name) from None

    def _lock_customer(self, session: Session, customer_id: str) -> CustomerRow:
        """The customer's row, locked until the transaction ends (the per-customer serialisation point)."""
        row = session.exec(_LOCK_CUSTOMER, params={"customer_id": customer_id}).first()
        if row is None:
            raise UnknownCustomer(customer_id)
        return row


def utc(at: datetime) -> datetime:
    return at.astimezone(timezone.utc)


def utc_now() -> datetime:
    return datetime.now(timezone.utc)
