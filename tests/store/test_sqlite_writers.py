"""SQLite writers of one process queue on a lock of the process's own before SQLite's write lock; however a
write transaction ends (commit, rollback, an error, a connection handed back mid-transaction), the next
writer goes on, and readers never wait for it."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import text

from journeys.format.customers import Profile
from journeys.store import Store
from journeys.store.engine import WRITE, write_connection

BOUND_S = 10  # far under the 30 s busy timeout: a writer still waiting by then would be stuck behind a lost lock


def _write_in_thread(store: Store, name: str) -> bool:
    """Whether another thread's write transaction commits within the bound."""
    done = threading.Event()

    def write() -> None:
        store.upsert_customers([Profile(id=name, name=name)])
        done.set()

    threading.Thread(target=write, daemon=True).start()
    return done.wait(BOUND_S)


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Store:
    store = Store.open(f"sqlite:///{tmp_path / 'store.db'}")
    store.upsert_customers([Profile(id="ada", name="Ada")])
    return store


def test_a_writer_waits_for_the_one_writing_then_goes_on(sqlite_store: Store) -> None:
    with write_connection(sqlite_store.engine) as connection:
        connection.execute(text("UPDATE customer SET name = 'Ada L.' WHERE id = 'ada'"))
        waiting = threading.Thread(target=lambda: sqlite_store.upsert_customers([Profile(id="bob", name="Bob")]))
        waiting.start()
        waiting.join(0.3)
        assert waiting.is_alive()  # queued behind this transaction
        assert sqlite_store.customer("ada").name == "Ada"  # a reader does not wait, and sees the last commit
    waiting.join(BOUND_S)
    assert not waiting.is_alive()
    assert sqlite_store.customer("bob").name == "Bob"
    assert sqlite_store.customer("ada").name == "Ada L."
    sqlite_store.close()


def test_a_write_that_fails_releases_the_next_writer(sqlite_store: Store) -> None:
    with pytest.raises(RuntimeError), write_connection(sqlite_store.engine) as connection:
        connection.execute(text("UPDATE customer SET name = 'lost' WHERE id = 'ada'"))
        raise RuntimeError("the write fails half-way")
    assert _write_in_thread(sqlite_store, "bob")
    assert sqlite_store.customer("ada").name == "Ada"  # rolled back
    sqlite_store.close()


def test_a_connection_handed_back_mid_transaction_releases_the_next_writer(sqlite_store: Store) -> None:
    connection = sqlite_store.engine.connect()
    connection.execution_options(**{WRITE: True})
    connection.begin()
    connection.execute(text("UPDATE customer SET name = 'lost' WHERE id = 'ada'"))
    connection.close()  # neither committed nor rolled back by us: the pool resets it
    assert _write_in_thread(sqlite_store, "bob")
    assert sqlite_store.customer("ada").name == "Ada"
    sqlite_store.close()


def test_a_statement_error_inside_a_write_releases_the_next_writer(sqlite_store: Store) -> None:
    with pytest.raises(Exception, match="no such table"), write_connection(sqlite_store.engine) as connection:
        connection.execute(text("UPDATE no_such_table SET x = 1"))
    assert _write_in_thread(sqlite_store, "bob")
    sqlite_store.close()
