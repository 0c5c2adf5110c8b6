"""What a run does when a provider refuses: an unsubscribed recipient ends outreach on that channel for good."""

from __future__ import annotations

import uuid
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from journeys.channels import outbox_only
from journeys.format.customers import Profile
from journeys.runtime.temporal import build_worker
from journeys.services.catalogue import publish
from journeys.services.control import settle
from journeys.services.enrolment import enroll
from journeys.settings import Settings
from journeys.store import Store
from tests.support.fake_twilio import FakeTwilio

JOURNEY = """
id: nudges
name: Nudges
exit_on: [opted_out]
steps:
  - {id: first, send: sms, message: {text: "first"}}
  - {id: pause, wait: 1d}
  - {id: second, send: sms, message: {text: "second"}}
"""

LATER = """
id: later
name: Later
steps:
  - {id: offer, send: sms, message: {text: "an offer"}}
"""


async def test_unsubscribed_recipient_is_recorded_and_ends_the_run(
    env: WorkflowEnvironment, store: Store, settings: Settings, tmp_path: Path
) -> None:
    from journeys.channels.twilio import TwilioChannel

    (tmp_path / "nudges.yaml").write_text(JOURNEY, encoding="utf-8")
    settings = settings.model_copy(update={"definitions": tmp_path, "task_queue": f"t-{uuid.uuid4().hex[:6]}"})
    store.upsert_customers([Profile(id="c1", name="Sara", phone="+989121000001")])
    with FakeTwilio() as fake:
        fake.fail("+989121000001", 21610)
        twilio = TwilioChannel(
            fake.account_sid,
            fake.auth_token,
            "+15005550006",
            public_url="http://127.0.0.1:1",
            secret="s",
            base_url=fake.base_url,
        )
        async with build_worker(env.client, settings, store, {**outbox_only(), "sms": twilio}):
            (enrolment,) = await enroll(env.client, store, settings, publish(tmp_path / "nudges.yaml"), ["c1"])
            status = await settle(env.client, enrolment.workflow_id)
            assert (status.outcome, status.exit_event) == ("exited", "opted_out")
            assert len(fake.requests) == 1  # permanent: never retried
            (message,) = store.messages_of("c1")
            assert message.status == "failed" and "21610" in (message.error or "")
            assert store.customer_row("c1").consent["sms"]["status"] == "opted_out"
            assert [e.name for e in store.events_of("c1")] == ["opted_out"]

            # any other journey skips SMS for this customer, recorded as such, without calling the provider
            (tmp_path / "later.yaml").write_text(LATER, encoding="utf-8")
            (later,) = await enroll(env.client, store, settings, publish(tmp_path / "later.yaml"), ["c1"])
            assert (await settle(env.client, later.workflow_id)).outcome == "completed"
            assert len(fake.requests) == 1
    skipped = [m for m in store.messages_of("c1") if m.workflow_id == later.workflow_id]
    assert [(m.status, m.error) for m in skipped] == [("skipped", "opted out of sms")]
