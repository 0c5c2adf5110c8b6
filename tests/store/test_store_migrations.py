from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect
from sqlmodel import SQLModel

from journeys.store import Store
from journeys.store.engine import make_engine, migrate


def test_migrated_schema_matches_the_models(database_url: str) -> None:
    Store.open(database_url).close()

    engine = create_engine(database_url)
    with engine.connect() as connection:
        diffs = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    engine.dispose()

    assert diffs == []


def test_migrations_are_idempotent(database_url: str) -> None:
    engine = make_engine(database_url)
    migrate(engine)
    migrate(engine)

    with engine.connect() as connection:
        version = MigrationContext.configure(connection).get_current_revision()
        tables = set(inspect(connection).get_table_names())
    engine.dispose()

    assert version == "0011"  # the head revision
    assert tables >= {
        "customer",
        "event",
        "document",
        "run",
        "step_log",
        "message",
        "journey_version",
        "run_audit",
        "customer_audit",
        "entry_cursor",
        "console_user",
    }


def test_stores_opened_at_once_all_open(database_url: str) -> None:
    def open_and_close(_: int) -> bool:
        store = Store.open(database_url)
        store.close()
        return True

    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(open_and_close, range(4))) == [True] * 4


def test_open_creates_the_directory_of_a_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "data" / "dir" / "journeys.db"

    store = Store.open(f"sqlite:///{path}")
    store.close()

    assert path.exists()
