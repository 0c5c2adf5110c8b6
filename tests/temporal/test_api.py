"""The HTTP API end to end over ASGI, with the time-skipping server and a worker behind it: an event posted
ends a waiting run and says so; a lead is created from the event's profile; batches refuse bad items alone;
customers are put, read and erased; while Temporal does not answer events are recorded (202) and the
deliverer brings them to the runs once it does."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from temporalio.client import Client

from journeys.errors import TemporalUnavailable
from journeys.format.customers import Profile
from journeys.http.app import create_app
from journeys.services.catalogue import publish
from journeys.services.control import settle
from journeys.services.delivery import deliver_pending
from journeys.services.enrolment import enroll
from journeys.services.reporting import journey_report
from journeys.settings import Settings
from journeys.store import Store
from tests.support import ROOT

MODEM_SWAP = ROOT / "definitions" / "modem_swap.yaml"


async def _unreachable() -> Client:
    raise TemporalUnavailable("no Temporal server answers at localhost:1")


@pytest.fixture
def keys(store: Store) -> dict[str, str]:
    return {scope: store.create_key(scope, scope, by="test") for scope in ("events", "read", "admin")}


def _api(settings: Settings, store: Store, factory) -> httpx.AsyncClient:  # type: ignore[no-untyped-def]
    app = create_app(settings, store, factory)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://journeys.test")


@pytest.fixture
async def api(client: Client, settings: Settings, store: Store) -> AsyncIterator[httpx.AsyncClient]:
    async def connected() -> Client:
        return client

    async with _api(settings, store, connected) as http:
        yield http


@pytest.fixture
async def offline(settings: Settings, store: Store) -> AsyncIterator[httpx.AsyncClient]:
    async with _api(settings, store, _unreachable) as http:
        yield http


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def _waiting(client: Client, store: Store, settings: Settings, customer: str) -> str:
    store.upsert_customers(
        [Profile(id=customer, email=f"{customer}@example.com", phone="+989121000001", attributes={"plan": "wimax"})]
    )
    (run,) = await enroll(client, store, settings, publish(MODEM_SWAP), [customer])
    assert run.workflow_id is not None
    await settle(client, run.workflow_id)
    return run.workflow_id


async def test_a_posted_swap_ends_the_waiting_run_and_the_answer_says_so(
    api: httpx.AsyncClient, client: Client, store: Store, settings: Settings, keys: dict[str, str]
) -> None:
    wid = await _waiting(client, store, settings, "c1")

    response = await api.post(
        "/v1/events", json={"customer": "c1", "event": "swapped", "id": "shop-1"}, headers=bearer(keys["events"])
    )
    again = await api.post(
        "/v1/events", json={"customer": "c1", "event": "swapped", "id": "shop-1"}, headers=bearer(keys["events"])
    )

    assert response.status_code == 200
    body = response.json()
    assert (body["event_id"], body["duplicate"], body["delivered"]) == ("shop-1", False, True)
    assert [(r["workflow_id"], r["effect"]) for r in body["runs"]] == [(wid, "exited")]
    assert again.json()["duplicate"] is True
    assert [(e.name, e.source) for e in store.event_rows_of("c1")] == [("swapped", "api")]


async def test_an_event_for_an_unknown_customer_is_404_unless_it_brings_a_profile(
    api: httpx.AsyncClient, store: Store, keys: dict[str, str]
) -> None:
    lead = {"customer": "lead-1", "event": "form_sent", "data": {"form": "modem"}}

    unknown = await api.post("/v1/events", json=lead, headers=bearer(keys["events"]))
    no_channel = await api.post(
        "/v1/events", json={**lead, "profile": {"name": "Sara"}}, headers=bearer(keys["events"])
    )
    bad_email = await api.post(
        "/v1/events", json={**lead, "profile": {"email": "not-an-address"}}, headers=bearer(keys["events"])
    )
    created = await api.post(
        "/v1/events",
        json={**lead, "profile": {"name": "Sara", "email": "sara@example.com", "locale": "fa-IR"}},
        headers=bearer(keys["events"]),
    )

    assert unknown.status_code == 404 and "profile" in unknown.json()["error"]
    assert no_channel.status_code == 422 and no_channel.json()["error"].startswith("profile: needs an email or a phone")
    assert bad_email.status_code == 422 and bad_email.json()["error"].startswith("profile.email:")
    assert created.status_code == 200
    row = store.customer_row("lead-1")
    assert row is not None and (row.name, row.email, row.locale) == ("Sara", "sara@example.com", "fa-IR")
    assert [e.name for e in store.event_rows_of("lead-1")] == ["form_sent"]


async def test_a_batch_refuses_a_bad_item_alone_naming_it_and_keeps_one_customers_order(
    api: httpx.AsyncClient, client: Client, store: Store, settings: Settings, keys: dict[str, str]
) -> None:
    wid = await _waiting(client, store, settings, "c1")

    response = await api.post(
        "/v1/events:batch",
        json={
            "events": [
                {"customer": "c1", "event": "swapped", "id": "b1"},
                {"customer": "c1", "event": "document_uploaded", "at": "yesterday", "id": "b2"},
                {"customer": "nobody", "event": "x", "id": "b3"},
                {"customer": "c1", "event": "registered", "id": "b4"},
            ]
        },
        headers=bearer(keys["events"]),
    )

    assert response.status_code == 200
    first, bad_at, unknown, last = response.json()["results"]
    assert [r["effect"] for r in first["runs"]] == ["exited"]
    assert bad_at == {"error": "events[1].at: not an ISO 8601 date-time"}
    assert unknown["error"].startswith("events[2].customer: no customer 'nobody'")
    assert last["runs"] == []  # after the swap: the same customer's events in the order given
    assert [e.id for e in store.event_rows_of("c1")] == ["b1", "b4"]
    assert (await settle(client, wid)).exit_event == "swapped"


async def test_while_temporal_does_not_answer_events_are_recorded_with_202_and_delivered_later(
    offline: httpx.AsyncClient, client: Client, store: Store, settings: Settings, keys: dict[str, str]
) -> None:
    wid = await _waiting(client, store, settings, "c1")

    response = await offline.post(
        "/v1/events", json={"customer": "c1", "event": "swapped", "id": "late-1"}, headers=bearer(keys["events"])
    )

    assert response.status_code == 202
    assert (response.json()["delivered"], response.json()["runs"]) == (False, [])
    assert (await settle(client, wid)).outcome == "running"
    await deliver_pending(client, store, settings, grace=timedelta(0))
    assert (await settle(client, wid)).exit_event == "swapped"


async def test_customers_are_put_read_and_erased_each_by_the_scope_it_needs(
    api: httpx.AsyncClient, store: Store, keys: dict[str, str]
) -> None:
    profile = {"name": "Reza", "email": "reza@example.com", "phone": "+989121000007", "plan": "wimax"}

    created = await api.put("/v1/customers/r1", json=profile, headers=bearer(keys["events"]))
    updated = await api.put("/v1/customers/r1", json={**profile, "name": "Reza K."}, headers=bearer(keys["events"]))
    bad = await api.put("/v1/customers/r1", json={"phone": "12"}, headers=bearer(keys["events"]))
    story = await api.get("/v1/customers/r1", headers=bearer(keys["read"]))
    not_admin = await api.delete("/v1/customers/r1", params={"reason": "asked"}, headers=bearer(keys["events"]))
    erased = await api.delete("/v1/customers/r1", params={"reason": "asked by email"}, headers=bearer(keys["admin"]))

    assert created.status_code == 200 and created.json()["created"] is True
    assert created.json()["customer"]["attributes"] == {"plan": "wimax"}
    assert updated.json()["created"] is False and updated.json()["customer"]["name"] == "Reza K."
    assert bad.status_code == 422 and bad.json()["error"].startswith("phone:")
    assert story.status_code == 200 and story.json()["customer"]["name"] == "Reza K."
    assert {"customer", "consent", "events", "runs", "audit"} <= set(story.json())
    assert not_admin.status_code == 403
    assert erased.status_code == 200 and erased.json()["by"] == "api:admin"
    assert store.customer_row("r1") is None
    assert (await api.get("/v1/customers/r1", headers=bearer(keys["read"]))).status_code == 404


async def test_a_customers_batch_answers_each_profile_on_its_own(
    api: httpx.AsyncClient, store: Store, keys: dict[str, str]
) -> None:
    response = await api.post(
        "/v1/customers:batch",
        json={
            "customers": [{"id": "a", "email": "a@example.com"}, {"email": "b@example.com"}, {"id": "c", "email": "x"}]
        },
        headers=bearer(keys["events"]),
    )

    a, no_id, bad = response.json()["results"]
    assert a["created"] is True
    assert no_id == {"error": "customers[1].id: required (text)"}
    assert bad["error"].startswith("customers[2].email:")
    assert store.customer_row("a") is not None and store.customer_row("c") is None


async def test_the_report_route_answers_what_journeys_report_json_prints(
    api: httpx.AsyncClient, client: Client, store: Store, settings: Settings, keys: dict[str, str]
) -> None:
    await _waiting(client, store, settings, "c1")

    response = await api.get("/v1/journeys/modem-swap/report", headers=bearer(keys["read"]))
    missing = await api.get("/v1/journeys/nothing/report", headers=bearer(keys["read"]))

    assert response.json() == journey_report(settings, store, "modem-swap").model_dump(mode="json")
    assert {"journey", "version", "steps", "outcomes", "messages", "conversion", "answers"} <= set(response.json())
    assert missing.status_code == 404


async def test_malformed_json_is_400_and_a_wrong_field_422_and_neither_records_anything(
    api: httpx.AsyncClient, store: Store, keys: dict[str, str], tmp_path: Path
) -> None:
    store.upsert_customers([Profile(id="c1", email="c1@example.com")])
    headers = bearer(keys["events"]) | {"Content-Type": "application/json"}

    malformed = await api.post("/v1/events", content=b'{"customer": ', headers=headers)
    not_an_object = await api.post("/v1/events", json=["c1", "swapped"], headers=bearer(keys["events"]))
    wrong = await api.post("/v1/events", json={"customer": "c1", "event": "x", "data": "no"}, headers=headers)
    unknown_field = await api.post("/v1/events", json={"customer": "c1", "event": "x", "when": 1}, headers=headers)

    assert (malformed.status_code, malformed.json()) == (400, {"error": "malformed JSON"})
    assert not_an_object.status_code == 400
    assert (wrong.status_code, wrong.json()) == (422, {"error": "data: must be an object"})
    assert unknown_field.json() == {"error": "when: not a field this takes"}
    assert store.event_rows_of("c1") == []
