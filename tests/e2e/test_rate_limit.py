"""Provider rate limits on a real dev server: held by the server across workers, without breaking exits."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from channels import outbox_only
from journeys.operations import enroll, publish, settle, signal
from journeys.settings import Settings
from journeys.store import CustomerRecord, Store
from journeys.temporal import binary, build_worker

JOURNEY = """
id: blast
name: Blast
exit_on: [stop]
steps:
  - {id: offer, send: sms, message: {text: "offer for {{ customer.name }}"}}
"""


@pytest.fixture
async def dev_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        data_converter=pydantic_data_converter,
        dev_server_existing_path=binary("temporal"),
        dev_server_log_level="error",
    )
    yield env
    await env.shutdown()


async def test_sms_rate_limit_spaces_sends_and_an_exit_cancels_a_queued_send(
    dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    (tmp_path / "blast.yaml").write_text(JOURNEY, encoding="utf-8")
    settings = Settings(
        data_dir=tmp_path, definitions=tmp_path, task_queue=f"rate-{uuid.uuid4().hex[:6]}", sms_rate=1.0
    )
    store = Store.open(f"sqlite:///{tmp_path / 'store.db'}")
    ids = [f"c{n}" for n in range(6)]
    store.upsert_customers([CustomerRecord(id=c, name=c, phone=f"+1555000000{n}") for n, c in enumerate(ids)])
    client = dev_env.client
    async with build_worker(client, settings, store, outbox_only()):
        runs = {
            e.customer: e.workflow_id
            for e in await enroll(client, store, settings, publish(tmp_path / "blast.yaml"), ids)
        }
        stopped = await signal(client, store, settings, "c5", "stop", {})  # its send is still queued behind the others
        assert [r.effect for r in stopped.runs] == ["exited"]
        for wid in runs.values():
            await settle(client, wid, timeout=60)
    sent = sorted((m.sent_at, m.customer_id) for c in ids for m in store.messages_of(c) if m.status == "sent")
    store.close()
    assert "c5" not in {c for _, c in sent}  # an exit while queued means the send never happens
    assert len(sent) == 5
    spread = (sent[-1][0] - sent[0][0]).total_seconds()
    assert spread >= 3.0, f"5 sends at 1/s took only {spread:.1f} s"
