"""A run reads the store when it must decide on a customer it has not seen lately, and only then: enrolment
and each send hand it the customer as they just read them, and a snapshot older than `CARRIED_FRESH` (or
one an event may have overtaken) is read again."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from bench.cluster import afternoon_zone
from journeys.engine.runs import RunInput, workflow_id
from journeys.format.customers import Profile
from journeys.services.catalogue import publish
from journeys.services.control import settle
from journeys.services.enrolment import enroll
from journeys.settings import Settings
from journeys.store import Store
from tests.temporal.test_journey_workflow import MODEM_SWAP, customer, sent


def awake(cid: str) -> Profile:
    """A customer for whom it is early afternoon: no quiet hours hold their first message."""
    return customer(cid).model_copy(update={"timezone": afternoon_zone()})


async def store_reads(client: Client, wid: str) -> int:
    """How many `load_customer` local activities the run's history records."""
    history = await client.get_workflow_handle(wid).fetch_history()
    reads = 0
    for event in history.events:
        if event.marker_recorded_event_attributes.marker_name == "core_local_activity":
            (payload,) = event.marker_recorded_event_attributes.details["data"].payloads
            reads += json.loads(payload.data)["activity_type"] == "load_customer"
    return reads


async def test_enrolment_and_the_first_send_spare_the_run_its_store_reads(
    env: WorkflowEnvironment, client: Client, store: Store, settings: Settings
) -> None:
    store.upsert_customers([awake("c1")])
    (enrolment,) = await enroll(client, store, settings, publish(MODEM_SWAP), ["c1"])
    assert (await settle(client, enrolment.workflow_id)).waiting_for == ["registered"]
    assert sent(store, "c1") == [("invite", "email")]
    assert await store_reads(client, enrolment.workflow_id) == 0  # decided on enrolment's and the send's reads

    await env.sleep(timedelta(days=4, hours=12))  # woken by its timers: what it was handed is days old
    assert sent(store, "c1") == [("invite", "email"), ("remind", "voice")]
    assert await store_reads(client, enrolment.workflow_id) >= 1


@pytest.mark.parametrize(("age", "held"), [(timedelta(seconds=1), True), (timedelta(hours=1), False)])
async def test_a_handed_snapshot_is_used_only_while_fresh(
    client: Client, store: Store, settings: Settings, age: timedelta, held: bool
) -> None:
    """A snapshot saying the journey is paused holds the invitation; once stale, the store (not paused) decides."""
    store.upsert_customers([awake("c2")])
    published = publish(MODEM_SWAP)
    stale = store.snapshot("c2", published.journey.id, datetime.now(timezone.utc) - age)
    assert stale is not None
    wid = workflow_id(published.journey.id, "c2", 1)
    handle = await client.start_workflow(
        "Journey",
        RunInput(
            journey=published.journey,
            templates=published.templates,
            customer_id="c2",
            snapshot=stale.model_copy(update={"paused": True}),
        ),
        id=wid,
        task_queue=settings.task_queue,
    )
    await settle(client, handle.id)
    assert sent(store, "c2") == ([] if held else [("invite", "email")])
    assert await store_reads(client, wid) == (0 if held else 1)
