"""Provider rate limits on a real dev server: held by the server across workers, without breaking exits."""

from __future__ import annotations

import uuid
from pathlib import Path

from temporalio.api.enums.v1 import PendingActivityState
from temporalio.testing import WorkflowEnvironment

from journeys.channels import outbox_only
from journeys.format.customers import Profile
from journeys.runtime.temporal import build_worker
from journeys.services.catalogue import publish
from journeys.services.control import settle
from journeys.services.delivery import signal
from journeys.services.enrolment import enroll
from journeys.settings import Settings
from journeys.store import Store
from tests.support.polling import eventually

SCHEDULED = PendingActivityState.PENDING_ACTIVITY_STATE_SCHEDULED

JOURNEY = """
id: blast
name: Blast
exit_on: [stop]
steps:
  - {id: offer, send: sms, message: {text: "offer for {{ customer.name }}"}}
"""


def _blast(tmp_path: Path, sms_rate: float, customers: int) -> tuple[Settings, Store, list[str]]:
    (tmp_path / "blast.yaml").write_text(JOURNEY, encoding="utf-8")
    settings = Settings(
        data_dir=tmp_path, definitions=tmp_path, task_queue=f"rate-{uuid.uuid4().hex[:6]}", sms_rate=sms_rate
    )
    store = Store.open(f"sqlite:///{tmp_path / 'store.db'}")
    ids = [f"c{n}" for n in range(customers)]
    store.upsert_customers([Profile(id=c, name=c, phone=f"+1555000000{n}") for n, c in enumerate(ids)])
    return settings, store, ids


async def test_sms_rate_limit_spaces_sends_across_the_server(dev_env: WorkflowEnvironment, tmp_path: Path) -> None:
    settings, store, ids = _blast(tmp_path, sms_rate=1.0, customers=5)
    client = dev_env.client
    async with build_worker(client, settings, store, outbox_only()):
        for enrolment in await enroll(client, store, settings, publish(tmp_path / "blast.yaml"), ids):
            await settle(client, enrolment.workflow_id, timeout=60)
    sent = sorted(m.sent_at for c in ids for m in store.messages_of(c) if m.status == "sent")
    store.close()
    assert len(sent) == 5
    spread = (sent[-1] - sent[0]).total_seconds()
    # the server lets at most two through at once, then one a second: 0, 0, 1, 2, 3 s (unlimited, all within 0.5 s)
    assert spread >= 2.5, f"5 sends at 1/s took only {spread:.2f} s"


async def test_an_exit_cancels_a_send_still_queued_behind_the_rate_limit(
    dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    """At one SMS per 100 s, every send but the first waits in the task queue: the runs stopped then end at
    once, and their sends never reach the provider. (With the server's default four partitions per queue, each
    partition let its own through at once: `journeys dev` runs its queues on one.)"""
    settings, store, ids = _blast(tmp_path, sms_rate=0.01, customers=4)
    client = dev_env.client
    async with build_worker(client, settings, store, outbox_only()):
        runs = {
            e.customer: e.workflow_id
            for e in await enroll(client, store, settings, publish(tmp_path / "blast.yaml"), ids)
        }

        async def queued() -> list[str]:
            """Once the send the server lets through at once has gone out, the customers whose send it holds
            back: scheduled, nothing sent. (Before, a send on its way to the worker looks held back.)"""
            sent = [c for c in runs if store.messages_of(c)]
            if not sent:
                return []
            held = []
            for customer, workflow_id in runs.items():
                description = await client.get_workflow_handle(workflow_id).describe()
                pending = description.raw_description.pending_activities
                if customer not in sent and any(a.state == SCHEDULED for a in pending):
                    held.append(customer)
            return held if held and len(held) == len(runs) - len(sent) else []

        held_back = await eventually(queued, 60, "sends held back by the rate limit")
        for customer in held_back:
            stopped = await signal(client, store, settings, customer, "stop", {})
            assert [r.effect for r in stopped.runs] == ["exited"]
        for customer in held_back:
            status = await settle(client, runs[customer], timeout=60)
            assert status.outcome == "exited"
    for customer in held_back:
        assert [m.status for m in store.messages_of(customer)] == []
    store.close()
