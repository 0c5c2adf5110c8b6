"""Journeys on the time-skipping test server: `env` and `store` come from tests/conftest.py.

Every run here is in Temporal's workflow sandbox, which the shipped worker leaves off for speed: the sandbox
fails a workflow that reads the clock, draws a random number or imports anything impure, so each path these
tests drive through the workflow is checked for determinism (the dev-server lanes run the default)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from journeys.channels import outbox_only
from journeys.channels.base import Channel
from journeys.runtime.temporal import build_worker
from journeys.settings import Settings
from journeys.store import Store


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"workflow_sandbox": True})


@pytest.fixture
def channels() -> dict[str, Channel]:
    """The worker's providers: the outbox for every channel (a module may hand it others)."""
    return outbox_only()


@pytest.fixture
async def client(
    env: WorkflowEnvironment, settings: Settings, store: Store, channels: dict[str, Channel]
) -> AsyncIterator[Client]:
    """The test server's client, with a worker running for the test's task queue."""
    async with build_worker(env.client, settings, store, channels):
        yield env.client
