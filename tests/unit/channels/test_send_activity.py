"""The send activity against the real store (SQLite) and a channel that records what reaches the provider.

What a run decided may no longer hold when its message is about to go out: an exit event recorded, the run
cancelled, consent withdrawn, the journey paused. Each case below changes the store in exactly that window,
after the activity started (and read the customer) and before it reserved the message, and shows that the
provider is not called and what the store keeps of it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timezone

import pytest
from temporalio.testing import ActivityEnvironment

from journeys.activities.channels import ChannelActivities
from journeys.engine.runs import SendOutcome, SendRequest
from journeys.format.customers import Event, Profile
from journeys.format.models import Message
from journeys.store import RunAuditRow, Store
from tests.support.channels import RecordingChannel, before_reserving

JOURNEY = "reminder"


def now() -> datetime:
    return datetime.now(timezone.utc)


@pytest.fixture
def channel() -> RecordingChannel:
    return RecordingChannel()


@pytest.fixture
def wid(store: Store) -> str:
    """A customer with a run of the journey, registered as enrolment does."""
    store.upsert_customers([Profile(id="c1", name="Sara", phone="+989121000001")])
    registration = store.register_run("c1", JOURNEY, 1, now(), lambda customer, past: None)
    assert registration.workflow_id is not None
    return registration.workflow_id


def request(wid: str, on_pause: str = "hold") -> SendRequest:
    return SendRequest(
        workflow_id=wid,
        journey_id=JOURNEY,
        version=1,
        customer_id="c1",
        step="nudge",
        visit=1,
        seq=1,
        channel="sms",
        message=Message(text="Your modem is waiting"),
        context={"event": None, "journey": {"id": JOURNEY, "step": "nudge"}, "now": now()},
        now=now(),
        exit_on=["swapped", "opted_out"],
        on_pause=on_pause,
    )


async def send(
    store: Store, channel: RecordingChannel, req: SendRequest, meanwhile: Callable[[], object] = lambda: None
) -> SendOutcome:
    """Run the activity; `meanwhile` changes the store after the activity read the customer, before it reserves."""
    activities = ChannelActivities(store, {"sms": channel})
    with before_reserving(store, meanwhile):
        return await ActivityEnvironment().run(activities.send_message, req)


def event(name: str, **data: str) -> Event:
    return Event(id=uuid.uuid4().hex, name=name, data=data, at=now())


async def test_a_send_with_nothing_in_its_way_reaches_the_provider_once(
    store: Store, channel: RecordingChannel, wid: str
) -> None:
    outcome = await send(store, channel, request(wid), lambda: store.record_event("c1", event("clicked")))
    assert outcome.status == "sent"
    assert channel.sent == [(f"{wid}#1", "Your modem is waiting")]
    (row,) = store.messages_of("c1")
    assert (row.status, row.provider) == ("sent", "recording")


async def test_an_exit_event_recorded_after_the_send_started_stops_it(
    store: Store, channel: RecordingChannel, wid: str
) -> None:
    outcome = await send(store, channel, request(wid), lambda: store.record_event("c1", event("swapped")))
    assert channel.sent == []
    assert outcome.status == "skipped" and "swapped" in (outcome.error or "")
    (row,) = store.messages_of("c1")  # the decision is kept, and why it did not go out
    assert (row.status, row.provider) == ("skipped", "none") and "swapped" in (row.error or "")
    again = await send(store, channel, request(wid))  # a retried activity finds the row: still nothing sent
    assert (again.status, channel.sent) == ("skipped", [])


async def test_an_exit_event_from_before_the_run_does_not_stop_its_sends(
    store: Store, channel: RecordingChannel
) -> None:
    store.upsert_customers([Profile(id="c1", name="Sara", phone="+989121000001")])
    store.record_event("c1", event("swapped"))  # long ago: no entry.unless, so the customer was enrolled
    registration = store.register_run("c1", JOURNEY, 1, now(), lambda customer, past: None)
    assert registration.workflow_id is not None
    outcome = await send(store, channel, request(registration.workflow_id))
    assert outcome.status == "sent" and len(channel.sent) == 1


async def test_an_exit_event_added_by_a_migration_counts_from_the_migration_on(
    store: Store, channel: RecordingChannel, wid: str
) -> None:
    store.record_event("c1", event("swapped"))  # while version 1 did not exit on it: the run went on
    store.record_audit(RunAuditRow(workflow_id=wid, kind="migrate", at=now(), by="ops", from_version=1, to_version=2))
    outcome = await send(store, channel, request(wid))
    assert outcome.status == "sent" and len(channel.sent) == 1


async def test_an_exit_event_recorded_before_the_decision_but_not_yet_delivered_stops_the_send(
    store: Store, channel: RecordingChannel, wid: str
) -> None:
    # `signal` records the event, then delivers it: a run that decided in between has not taken it in yet
    store.record_event("c1", event("swapped"))
    outcome = await send(store, channel, request(wid))
    assert (outcome.status, channel.sent) == ("skipped", [])


async def test_a_run_cancelled_after_the_send_started_sends_nothing(
    store: Store, channel: RecordingChannel, wid: str
) -> None:
    outcome = await send(store, channel, request(wid), lambda: store.record_cancel(wid, now()))
    assert channel.sent == []
    assert outcome.status == "skipped" and "cancelled" in (outcome.error or "")
    (row,) = store.messages_of("c1")
    assert row.status == "skipped" and "cancelled" in (row.error or "")


async def test_a_run_that_reported_its_end_sends_nothing(store: Store, channel: RecordingChannel, wid: str) -> None:
    outcome = await send(store, channel, request(wid), lambda: store.update_run(wid, outcome="failed", ended_at=now()))
    assert (outcome.status, channel.sent) == ("skipped", [])


async def test_consent_withdrawn_after_the_send_started_stops_it(
    store: Store, channel: RecordingChannel, wid: str
) -> None:
    outcome = await send(store, channel, request(wid), lambda: store.set_consent("c1", "sms", "opted_out", now()))
    assert channel.sent == []
    assert (outcome.status, outcome.error) == ("skipped", "opted out of sms")
    (row,) = store.messages_of("c1")
    assert (row.status, row.error) == ("skipped", "opted out of sms")


async def test_consent_withdrawn_for_another_channel_does_not_stop_it(
    store: Store, channel: RecordingChannel, wid: str
) -> None:
    outcome = await send(store, channel, request(wid), lambda: store.set_consent("c1", "email", "opted_out", now()))
    assert outcome.status == "sent" and len(channel.sent) == 1


async def test_a_journey_paused_after_the_send_started_holds_it_for_the_run_to_decide_again(
    store: Store, channel: RecordingChannel, wid: str
) -> None:
    outcome = await send(store, channel, request(wid), lambda: store.set_paused(JOURNEY, True, now()))
    assert channel.sent == []
    assert (outcome.status, outcome.until, outcome.why) == ("deferred", None, "paused")
    assert store.messages_of("c1") == []  # nothing decided for good: resumed, the run sends under a new key


async def test_a_journey_paused_after_the_send_started_skips_it_where_the_step_says_so(
    store: Store, channel: RecordingChannel, wid: str
) -> None:
    outcome = await send(store, channel, request(wid, "skip"), lambda: store.set_paused(JOURNEY, True, now()))
    assert channel.sent == []
    assert outcome.status == "skipped" and "paused" in (outcome.error or "")
    (row,) = store.messages_of("c1")
    assert row.status == "skipped" and "on_pause: skip" in (row.error or "")


async def test_another_journey_paused_does_not_stop_it(store: Store, channel: RecordingChannel, wid: str) -> None:
    outcome = await send(store, channel, request(wid), lambda: store.set_paused("other", True, now()))
    assert outcome.status == "sent" and len(channel.sent) == 1
