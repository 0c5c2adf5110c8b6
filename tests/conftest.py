"""Fixtures shared by every test package: a PostgreSQL server for store-backed tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from journeys.store.testing import PostgresServer


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One server for the session (skips when there is none to be had); `create_database()` per test."""
    reason = PostgresServer.unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    server = PostgresServer.start()
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """The URL of a new empty database, dropped after the test."""
    url = postgres_server.create_database()
    yield url
    postgres_server.drop_database(url)
