"""The test lanes, and the fixtures the lanes share.

Every test carries exactly one lane marker, given by the folder it lives in (a module may say the same with
`pytestmark`; a test outside the lane folders must say it). Collection stops on a test with none or two:

| folder | lane | what the tests need |
| --- | --- | --- |
| tests/unit | `unit` | nothing but the code: in-memory or tmp SQLite, fakes on loopback, the CLI in a subprocess |
| tests/store | `store` | the store on SQLite and on a private PostgreSQL cluster (`postgres_server` below) |
| tests/temporal | `temporal` | the time-skipping test server, or recorded histories |
| tests/e2e | `e2e` | the Temporal dev server and `journeys` processes |
| tests/faults | `fault` | kills, outages and concurrency against real processes |
| tests/browser | `browser` | Debian's Chromium (`/usr/bin/chromium`) driven by Playwright |
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from journeys.settings import Settings
from journeys.store import Store
from journeys.store.testing import PostgresServer
from tests.support import ROOT
from tests.support.temporal import dev_server, time_skipping

TESTS = Path(__file__).resolve().parent

LANES = ("unit", "store", "temporal", "e2e", "fault", "browser")

FOLDER_LANES = {
    "unit": "unit",
    "store": "store",
    "temporal": "temporal",
    "e2e": "e2e",
    "faults": "fault",
    "browser": "browser",
    "docs": "unit",  # the documents' examples (tests/docs): the CLI in a subprocess
}


def folder_lane(path: Path) -> str | None:
    """The lane of the folder right under tests/ that holds `path`."""
    try:
        top = path.resolve().relative_to(TESTS).parts[0]
    except (ValueError, IndexError):
        return None
    return FOLDER_LANES.get(top)


@pytest.hookimpl(tryfirst=True)  # before `-m` selects on the markers
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    problems = []
    for item in items:
        marked = sorted({mark.name for mark in item.iter_markers() if mark.name in LANES})
        lane = folder_lane(item.path)
        if len(marked) > 1:
            problems.append(f"{item.nodeid}: two lanes ({', '.join(marked)}); a test has exactly one")
        elif marked and lane and marked[0] != lane:
            problems.append(f"{item.nodeid}: marked {marked[0]} in the {lane} lane's folder; move it")
        elif not marked and not lane:
            problems.append(f"{item.nodeid}: no lane; mark it with one of {', '.join(LANES)} or move it")
        elif not marked:
            item.add_marker(lane)
    if problems:
        raise pytest.UsageError("tests without exactly one lane marker:\n  " + "\n  ".join(problems))


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


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """One test's settings: its own task queue and SQLite store under tmp_path; the shipped definitions."""
    return Settings(
        data_dir=tmp_path,
        definitions=ROOT / "definitions",
        task_queue=f"test-{uuid.uuid4().hex[:8]}",
        database_url=f"sqlite:///{tmp_path / 'store.db'}",
    )


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    """The test's store (tests/store runs its tests on SQLite and PostgreSQL instead)."""
    opened = Store.open(settings.store_url)
    yield opened
    opened.close()


@pytest.fixture
async def env() -> AsyncIterator[WorkflowEnvironment]:
    """The time-skipping test server, every payload through the codec."""
    async with time_skipping() as environment:
        yield environment


@pytest.fixture
async def dev_env() -> AsyncIterator[WorkflowEnvironment]:
    """The real Temporal dev server, in real time, every payload through the codec."""
    async with dev_server() as environment:
        yield environment
