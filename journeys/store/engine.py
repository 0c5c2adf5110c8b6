"""Engines for SQLite and PostgreSQL, write transactions that serialise, and the migrations.

SQLite: WAL (readers never wait for the writer), a 30 s busy timeout, and transactions begun by us rather
than by the driver, so a write transaction can start with `BEGIN IMMEDIATE`: it takes the write lock before
its first read, and two read-check-write transactions queue up instead of failing half-way (SQLAlchemy's
"serializable isolation / savepoints" recipe for pysqlite). PostgreSQL: a pool sized for a worker.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, make_url, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import StaticPool

MIGRATIONS = Path(__file__).parent / "migrations"
WRITE = "journeys_write"  # execution option: this transaction writes (SQLite: BEGIN IMMEDIATE)
BUSY_TIMEOUT_S = 30
_HOLDS_WRITER = "journeys_holds_writer"  # connection.info: this transaction holds the process's writer lock
_MIGRATION_LOCK = 0x6A6F75726E657973  # "journeys": the PostgreSQL advisory lock held while migrating


def make_engine(url: str) -> Engine:
    """An engine for `url`; for a SQLite file, its directory is created when missing."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if not database or database == ":memory:":  # one shared connection: for single-threaded tests only
            engine = create_engine(parsed, connect_args={"check_same_thread": False}, poolclass=StaticPool)
            _serialising_sqlite(engine)
            return engine
        if not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            parsed,
            connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_S},
            pool_size=10,
            max_overflow=10,
        )
        _serialising_sqlite(engine)
        return engine
    return create_engine(parsed, pool_size=10, max_overflow=10, pool_pre_ping=True)


def _serialising_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # the driver starts no transactions of its own
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_S * 1000}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    # Writers of this process queue on a lock of their own before SQLite's: one waiting in SQLite's busy
    # handler sleeps (up to 100 ms a time) and may wake long after the write lock came free.
    writer = threading.Lock()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        immediate = connection.get_execution_options().get(WRITE, False)
        if immediate and writer.acquire(timeout=BUSY_TIMEOUT_S):
            connection.info[_HOLDS_WRITER] = True
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
        except BaseException:
            _release(connection.info)
            raise

    def _release(info: dict[Any, Any]) -> None:
        if info.pop(_HOLDS_WRITER, False):
            writer.release()

    event.listen(engine, "commit", lambda connection: _release(connection.info))
    event.listen(engine, "rollback", lambda connection: _release(connection.info))
    # whatever happened to the transaction, a connection back in the pool holds no lock
    event.listen(engine, "checkin", lambda _dbapi, record: _release(record.info))


@contextmanager
def write_connection(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction that writes: committed at the end, rolled back on error."""
    with engine.connect() as connection:
        connection.execution_options(**{WRITE: True})
        with connection.begin():
            yield connection


def migrate(engine: Engine, attempts: int = 5) -> None:
    """Bring the schema to the newest revision; idempotent, and safe when several processes start at once.

    The migration runs in one transaction holding a lock (SQLite: the write lock; PostgreSQL: an advisory
    lock), so a second process waits and then finds nothing to do; an error from a race we did not foresee
    is retried a few times before it is raised.
    """
    for attempt in range(attempts):
        try:
            with write_connection(engine) as connection:
                if connection.dialect.name == "postgresql":
                    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
                config = alembic_config(engine.url.render_as_string(hide_password=False))
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
            return
        except DBAPIError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.1 * (attempt + 1))


def alembic_config(url: str) -> Config:
    """Alembic's configuration, built in code (no alembic.ini): our migrations, the given database."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config
