"""No send after an exit, a cancel or a pause, even one whose activity had already started.

The run decides to send and its send activity starts; then, before the activity reserves the message, support
records the customer's exit event (or cancels the run, or pauses the journey). The run takes the event and
ends; the activity, which nobody can stop in flight, must still not call the provider.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client

from journeys.channels import outbox_only
from journeys.channels.base import Channel
from journeys.format.customers import Profile
from journeys.services import control
from journeys.services.catalogue import publish
from journeys.services.delivery import signal
from journeys.services.enrolment import enroll
from journeys.settings import Settings
from journeys.store import Store
from tests.support.channels import RecordingChannel, before_reserving
from tests.support.polling import eventually

REMINDER = """
id: reminder
name: Reminder
exit_on: [swapped]
steps:
  - {id: nudge, send: sms, message: {text: "Your modem is waiting"}}
  - {id: after, wait: 1d}
"""


@pytest.fixture
def channel() -> RecordingChannel:
    return RecordingChannel()


@pytest.fixture
def channels(channel: RecordingChannel) -> dict[str, Channel]:
    """The worker's SMS provider records every message it is handed."""
    return {**outbox_only(), "sms": channel}


@pytest.fixture
def reminder(tmp_path: Path, settings: Settings, store: Store) -> Settings:
    folder = tmp_path / "definitions"
    folder.mkdir()
    (folder / "reminder.yaml").write_text(REMINDER, encoding="utf-8")
    store.upsert_customers([Profile(id="c1", name="Sara", phone="+989121000001")])
    return settings.model_copy(update={"definitions": folder})


def on_the_loop(coroutine: Callable[[], Coroutine[Any, Any, Any]]) -> Callable[[], Any]:
    """`coroutine()` run on this test's event loop, called from the activity's thread and waited for there."""
    loop = asyncio.get_running_loop()
    return lambda: asyncio.run_coroutine_threadsafe(coroutine(), loop).result(timeout=60)


async def test_an_exit_event_recorded_while_the_send_is_in_flight_stops_it(
    client: Client, store: Store, reminder: Settings, channel: RecordingChannel
) -> None:
    published = publish(reminder.definitions / "reminder.yaml")
    swap = on_the_loop(lambda: signal(client, store, reminder, "c1", "swapped", {}, "swap-1"))
    with before_reserving(store, swap) as done:
        (run,) = await enroll(client, store, reminder, published, ["c1"])
        (message,) = await eventually(lambda: store.messages_of("c1"), 30, "the send's row")
    (swapped,) = done
    assert [r.effect for r in swapped.runs] == ["exited"]  # the run took the event while its send was in flight
    status = await control.settle(client, run.workflow_id)
    assert (status.outcome, status.exit_event) == ("exited", "swapped")
    assert channel.sent == []  # the provider was never called
    assert message.status == "skipped" and "swapped" in (message.error or "")
    (row,) = store.runs_of("c1")
    assert (row.outcome, row.exit_event) == ("exited", "swapped")


async def test_a_cancel_while_the_send_is_in_flight_stops_it(
    client: Client, store: Store, reminder: Settings, channel: RecordingChannel
) -> None:
    published = publish(reminder.definitions / "reminder.yaml")
    cancel = on_the_loop(lambda: control.cancel(client, store, "c1", None, "asked to stop"))
    with before_reserving(store, cancel) as done:
        (run,) = await enroll(client, store, reminder, published, ["c1"])
        (message,) = await eventually(lambda: store.messages_of("c1"), 30, "the send's row")
    (cancelled,) = done
    assert [r.effect for r in cancelled.runs] == ["cancelled"]
    assert (await control.settle(client, run.workflow_id)).outcome == "cancelled"
    assert channel.sent == []
    assert message.status == "skipped" and "cancelled" in (message.error or "")


async def test_a_pause_while_the_send_is_in_flight_holds_it_until_resumed(
    client: Client, store: Store, reminder: Settings, channel: RecordingChannel
) -> None:
    published = publish(reminder.definitions / "reminder.yaml")
    pause = on_the_loop(lambda: control.set_paused(client, store, reminder, "reminder", True))
    with before_reserving(store, pause) as done:
        (run,) = await enroll(client, store, reminder, published, ["c1"])
        await eventually(lambda: done, 30, "the pause inside the send")
        status = await control.settle(client, run.workflow_id)
    assert (status.outcome, status.current_step) == ("running", "nudge")  # held at the step, decided again later
    assert channel.sent == [] and store.messages_of("c1") == []

    await control.set_paused(client, store, reminder, "reminder", False)
    status = await control.settle(client, run.workflow_id)
    assert status.current_step == "after"
    assert channel.sent == [(f"{run.workflow_id}#2", "Your modem is waiting")]  # once, under a new key
    assert [(m.key, m.status) for m in store.messages_of("c1")] == [(f"{run.workflow_id}#2", "sent")]
