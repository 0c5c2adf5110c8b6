"""Events that come while a run is being enrolled: registered in the store but not yet started in Temporal."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from typing import Any

import pytest
from temporalio.client import Client, WorkflowHandle

from journeys.engine import interpreter as engine
from journeys.engine.runs import RunInput
from journeys.services import shared
from journeys.services.catalogue import publish
from journeys.services.control import cancel
from journeys.services.delivery import signal
from journeys.services.enrolment import enroll
from journeys.settings import Settings
from journeys.store import Store
from tests.temporal.test_journey_workflow import MODEM_SWAP, sent
from tests.temporal.test_store_reads import awake


def register(store: Store, cid: str) -> tuple[str, RunInput]:
    """What `enroll` does before it starts the workflow: decide and register the run under the customer's lock."""
    published = publish(MODEM_SWAP)
    journey, now = published.journey, datetime.now(timezone.utc)
    registration = store.register_run(
        cid, journey.id, journey.version, now, lambda c, past: engine.enrolment_refusal(journey, c, now, past)
    )
    assert registration.status == "new" and registration.workflow_id is not None
    run_input = RunInput(
        journey=journey, templates=published.templates, customer_id=cid, snapshot=registration.snapshot
    )
    return registration.workflow_id, run_input


async def test_an_event_for_a_run_registered_but_not_yet_started_is_delivered_once_it_starts(
    client: Client, store: Store, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    found_unstarted = asyncio.Event()
    running = shared._running

    async def noted(handle: WorkflowHandle[Any, Any]) -> bool | None:
        answer = await running(handle)
        if answer is None:  # Temporal has no such run yet
            found_unstarted.set()
        return answer

    monkeypatch.setattr(shared, "_running", noted)
    store.upsert_customers([awake("c1")])
    wid, run_input = register(store, "c1")
    delivery = asyncio.create_task(signal(client, store, settings, "c1", "swapped", {}))
    await asyncio.wait_for(found_unstarted.wait(), timeout=30)  # signal has found the run not yet in Temporal ...
    assert not delivery.done()  # ... and waits for it: the run is live in the store
    await client.start_workflow("Journey", run_input, id=wid, task_queue=settings.task_queue)
    result = await delivery
    assert [(r.workflow_id, r.effect) for r in result.runs] == [(wid, "exited")]
    await client.get_workflow_handle(wid).result()
    (run,) = store.runs_of("c1")
    assert (run.outcome, run.exit_event) == ("exited", "swapped")


async def test_a_run_an_interrupted_enrolment_left_unstarted_starts_with_the_events_it_missed(
    client: Client, store: Store, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shared, "UNSTARTED_PATIENCE", shared.timedelta(seconds=0.5))
    store.upsert_customers([awake("c2")])
    wid, _ = register(store, "c2")  # ... and the enrolling process died before starting it
    result = await signal(client, store, settings, "c2", "swapped", {})
    assert [(r.effect, r.reason) for r in result.runs] == [
        ("ignored", "the run was registered but never started (an interrupted enrolment: enroll again)")
    ]

    (enrolment,) = await enroll(client, store, settings, publish(MODEM_SWAP), ["c2"])
    assert (enrolment.status, enrolment.workflow_id) == ("started", wid)
    await client.get_workflow_handle(wid).result()
    (run,) = store.runs_of("c2")
    assert (run.outcome, run.exit_event) == ("exited", "swapped")
    assert sent(store, "c2") == []  # the swap it missed ended it before the invitation


async def test_cancelling_a_run_an_interrupted_enrolment_left_unstarted_ends_it_for_good(
    client: Client, store: Store, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shared, "UNSTARTED_PATIENCE", shared.timedelta(seconds=0.5))
    store.upsert_customers([awake("c3")])
    wid, _ = register(store, "c3")
    cancelled = await cancel(client, store, "c3", None, "duplicate signup")
    assert [(r.workflow_id, r.effect) for r in cancelled.runs] == [(wid, "cancelled")]
    (run,) = store.runs_of("c3")
    assert run.outcome == "cancelled"
    assert [(a.kind, a.reason) for a in store.audits_of(wid)] == [("cancel", "duplicate signup")]

    (enrolment,) = await enroll(client, store, settings, publish(MODEM_SWAP), ["c3"])
    assert enrolment.workflow_id != wid  # the cancelled run is never started (re_entry decides about a new one)
    assert next(r for r in store.runs_of("c3") if r.workflow_id == wid).outcome == "cancelled"
