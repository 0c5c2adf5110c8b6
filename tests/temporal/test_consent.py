"""Consent set by people (`journeys consent`) and by opted_out / opted_in events with a channel: a denied channel
is never sent to, even by a send already in flight; allowing it again lets later sends go; journeys that exit on
opted_out end."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from journeys.channels import outbox_only
from journeys.channels.base import Channel
from journeys.format.customers import Profile
from journeys.services import consent, control
from journeys.services.catalogue import publish
from journeys.services.delivery import signal
from journeys.services.enrolment import enroll
from journeys.settings import Settings
from journeys.store import Store
from tests.support.channels import RecordingChannel, before_reserving
from tests.support.polling import eventually
from tests.temporal.test_send_after_exit import on_the_loop

REMINDERS = """
id: reminders
name: Reminders
exit_on: [swapped]
steps:
  - {id: first, send: sms, message: {text: "first"}}
  - {id: pause, wait: 1d}
  - {id: second, send: sms, message: {text: "second"}}
  - {id: after, wait: 1d}
"""
LISTENING = """
id: listening
name: Listening
exit_on: [opted_out]
steps:
  - {id: pause, wait: 7d}
  - {id: hello, send: sms, message: {text: "hello"}}
"""


@pytest.fixture
def channel() -> RecordingChannel:
    return RecordingChannel()


@pytest.fixture
def channels(channel: RecordingChannel) -> dict[str, Channel]:
    """The worker's SMS provider records every message it is handed."""
    return {**outbox_only(), "sms": channel}


@pytest.fixture
def journeys(tmp_path: Path, settings: Settings, store: Store) -> Settings:
    folder = tmp_path / "definitions"
    folder.mkdir()
    (folder / "reminders.yaml").write_text(REMINDERS, encoding="utf-8")
    (folder / "listening.yaml").write_text(LISTENING, encoding="utf-8")
    store.upsert_customers([Profile(id="c1", name="Sara", phone="+989121000001")])
    return settings.model_copy(update={"definitions": folder})


def consent_of(store: Store, customer: str) -> dict[str, str]:
    row = store.customer_row(customer)
    assert row is not None
    return {channel: value["status"] for channel, value in row.consent.items()}


async def test_deny_while_a_send_is_in_flight_stops_it_and_allow_lets_later_sends_go(
    client: Client, env: WorkflowEnvironment, store: Store, journeys: Settings, channel: RecordingChannel
) -> None:
    deny = on_the_loop(lambda: consent.consent(client, store, journeys, "c1", "sms", False, "asked by phone", "sam"))
    with before_reserving(store, deny) as done:  # denied after the activity's early check, before reserving
        (run,) = await enroll(client, store, journeys, publish(journeys.definitions / "reminders.yaml"), ["c1"])
        (message,) = await eventually(lambda: store.messages_of("c1"), 30, "the send's row")
    (denied,) = done
    assert (denied.status, denied.by, denied.reason) == ("opted_out", "sam", "asked by phone")
    assert channel.sent == []  # the provider was never called
    assert message.status == "skipped" and "opted out of sms" in (message.error or "")
    status = await control.settle(client, run.workflow_id)
    assert (status.outcome, status.current_step) == ("running", "pause")  # the run goes on, sending nothing

    allowed = await consent.consent(client, store, journeys, "c1", "sms", True, "asked again")
    assert allowed.status == "opted_in" and consent_of(store, "c1") == {"sms": "opted_in"}
    await env.sleep(timedelta(days=1, hours=1))
    await eventually(lambda: channel.sent, 30, "the second send")
    assert [text for _, text in channel.sent] == ["second"]
    audit = store.customer_audits_of("c1", "consent")
    assert [(a.by, a.details) for a in audit][0] == ("sam", {"channel": "sms", "status": "opted_out"})
    assert [a.details["status"] for a in audit] == ["opted_out", "opted_in"]
    assert [(e.name, e.data) for e in store.events_of("c1")] == [
        ("opted_out", {"channel": "sms"}),
        ("opted_in", {"channel": "sms"}),
    ]


async def test_deny_before_the_send_sends_nothing(
    client: Client, store: Store, journeys: Settings, channel: RecordingChannel
) -> None:
    await consent.consent(client, store, journeys, "c1", "all", False, "no contact at all")
    (run,) = await enroll(client, store, journeys, publish(journeys.definitions / "reminders.yaml"), ["c1"])
    (message,) = await eventually(lambda: store.messages_of("c1"), 30, "the send's row")
    assert channel.sent == [] and message.status == "skipped"
    assert (await control.settle(client, run.workflow_id)).current_step == "pause"


async def test_consent_deny_ends_runs_that_exit_on_opted_out(
    client: Client, store: Store, journeys: Settings, channel: RecordingChannel
) -> None:
    (run,) = await enroll(client, store, journeys, publish(journeys.definitions / "listening.yaml"), ["c1"])
    await control.settle(client, run.workflow_id)
    result = await consent.consent(client, store, journeys, "c1", "voice", False, "complained", "kim")
    assert [(r.journey, r.effect) for r in result.runs] == [("listening", "exited")]
    status = await control.settle(client, run.workflow_id)
    assert (status.outcome, status.exit_event) == ("exited", "opted_out")
    assert consent_of(store, "c1") == {"voice": "opted_out"}


async def test_an_opted_out_event_with_a_channel_sets_consent_and_ends_exit_on_runs(
    client: Client, store: Store, journeys: Settings, channel: RecordingChannel
) -> None:
    (run,) = await enroll(client, store, journeys, publish(journeys.definitions / "listening.yaml"), ["c1"])
    await control.settle(client, run.workflow_id)
    result = await signal(client, store, journeys, "c1", "opted_out", {"channel": "sms"}, "out-1")
    assert [r.effect for r in result.runs] == ["exited"]
    assert consent_of(store, "c1") == {"sms": "opted_out"}
    (row,) = store.runs_of("c1")
    assert (row.outcome, row.exit_event) == ("exited", "opted_out")
    await signal(client, store, journeys, "c1", "opted_in", {"channel": "sms"}, "in-1")
    assert consent_of(store, "c1") == {"sms": "opted_in"}
    assert store.customer_audits_of("c1") == []  # an event is on the timeline; the audit trail is for people
