"""Recording an event and delivering it are two steps with a promise between them: an event recorded while
Temporal does not answer is owed to the customer's runs, and the deliverer beside the worker delivers it once
Temporal answers, in order per customer, once in effect, starting what it triggers exactly once."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.client import Client

from journeys.format.customers import Profile
from journeys.services import delivery
from journeys.services.catalogue import publish
from journeys.services.control import settle
from journeys.services.delivery import deliver_pending, signal
from journeys.services.enrolment import enroll
from journeys.services.shared import utc_now
from journeys.settings import Settings
from journeys.store import Store

NOW = timedelta(0)  # the deliverer's grace, in tests: whatever is owed now

REMINDERS = """
id: reminders
name: Reminders until they swap
exit_on: [swapped]
steps:
  - {id: registered, wait_for: registered, timeout: 30d}
  - {id: delivered, wait_for: delivered, timeout: 30d}
  - {id: done, end: delivered}
"""

FOLLOWUP = """
id: followup
name: Complaint follow-up
entry: {trigger: complaint_filed}
re_entry: always
steps:
  - {id: acknowledge, send: sms, message: {text: "We have your complaint"}}
"""


@pytest.fixture
def definitions(tmp_path: Path, settings: Settings) -> Settings:
    folder = tmp_path / "definitions"
    folder.mkdir()
    (folder / "reminders.yaml").write_text(REMINDERS, encoding="utf-8")
    (folder / "followup.yaml").write_text(FOLLOWUP, encoding="utf-8")
    return settings.model_copy(update={"definitions": folder})


async def _enrolled(client: Client, store: Store, settings: Settings, customer: str) -> str:
    store.upsert_customers([Profile(id=customer, phone="+989121000001")])
    (run,) = await enroll(client, store, settings, publish(settings.definitions / "reminders.yaml"), [customer])
    assert run.workflow_id is not None
    await settle(client, run.workflow_id)
    return run.workflow_id


async def test_an_exit_event_recorded_while_temporal_is_down_ends_the_run_once_the_deliverer_runs(
    client: Client, store: Store, definitions: Settings
) -> None:
    wid = await _enrolled(client, store, definitions, "c1")

    offline = await signal(None, store, definitions, "c1", "swapped", {}, "swap-1")

    assert (offline.delivered, offline.runs, offline.duplicate) == (False, [], False)
    assert [e.id for e in store.pending_of("c1")] == ["swap-1"]
    assert (await settle(client, wid)).outcome == "running"

    assert await deliver_pending(client, store, definitions, grace=NOW) == 1

    status = await settle(client, wid)
    assert (status.outcome, status.exit_event) == ("exited", "swapped")
    assert store.pending_of("c1") == []
    assert await deliver_pending(client, store, definitions, grace=NOW) == 0


async def test_owed_events_reach_the_run_in_the_order_they_were_recorded(
    client: Client, store: Store, definitions: Settings
) -> None:
    wid = await _enrolled(client, store, definitions, "c1")
    await signal(None, store, definitions, "c1", "registered", {}, "e1")
    await signal(None, store, definitions, "c1", "delivered", {}, "e2")

    await deliver_pending(client, store, definitions, grace=NOW)

    status = await settle(client, wid)
    assert (status.outcome, status.end_label) == ("completed", "delivered")  # e1 then e2: both steps passed


async def test_a_new_event_waits_for_the_ones_owed_before_it(
    client: Client, store: Store, definitions: Settings
) -> None:
    wid = await _enrolled(client, store, definitions, "c1")
    await signal(None, store, definitions, "c1", "registered", {}, "e1")

    online = await signal(client, store, definitions, "c1", "delivered", {}, "e2")

    assert online.delivered and [r.effect for r in online.runs] == ["advanced"]
    assert (await settle(client, wid)).outcome == "completed"
    assert store.pending_of("c1") == []


async def test_an_owed_trigger_starts_its_journey_once_however_often_it_is_delivered(
    client: Client, store: Store, definitions: Settings
) -> None:
    store.upsert_customers([Profile(id="k1", phone="+989121000001")])
    await signal(None, store, definitions, "k1", "complaint_filed", {}, "complaint-1")

    await deliver_pending(client, store, definitions, grace=NOW)
    (run,) = store.runs_of("k1", "followup")
    await settle(client, run.workflow_id)
    again = await signal(client, store, definitions, "k1", "complaint_filed", {}, "complaint-1")  # the same id

    assert again.duplicate and again.delivered
    assert [r.journey_id for r in store.runs_of("k1")] == ["followup"]
    assert len(store.messages_of("k1")) == 1


async def test_the_deliverer_leaves_young_events_to_whoever_recorded_them(
    client: Client, store: Store, definitions: Settings
) -> None:
    await _enrolled(client, store, definitions, "c1")
    await signal(None, store, definitions, "c1", "registered", {}, "e1")

    assert await deliver_pending(client, store, definitions, grace=timedelta(minutes=1)) == 0
    assert [e.id for e in store.pending_of("c1")] == ["e1"]


async def test_a_pass_delivered_slice_by_slice_reaches_every_customer_in_order(
    client: Client, store: Store, definitions: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(delivery, "SLICE", 2)  # three customers: two slices
    runs = [await _enrolled(client, store, definitions, customer) for customer in ("s1", "s2", "s3")]
    for customer in ("s1", "s2", "s3"):
        await signal(None, store, definitions, customer, "registered", {}, f"{customer}-1")
        await signal(None, store, definitions, customer, "delivered", {}, f"{customer}-2")

    assert await deliver_pending(client, store, definitions, grace=NOW) == 6

    for wid in runs:
        status = await settle(client, wid)
        assert (status.outcome, status.end_label) == ("completed", "delivered")
    assert store.pending_events(utc_now()) == []
