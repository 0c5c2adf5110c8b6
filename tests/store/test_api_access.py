"""The API's door: bearer keys with scopes, revocation on the next request, a rate per key, bounded bodies, and
every refusal as `{"error": "one line"}` that changes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from temporalio.client import Client

from journeys.http.app import MAX_API_BODY_BYTES, create_app
from journeys.http.auth import RateLimiter
from journeys.runtime.embedded import dev_api_key
from journeys.settings import Settings
from journeys.store import Store
from tests.support import ROOT


async def _no_temporal() -> Client:
    raise AssertionError("these routes must not need Temporal")


@pytest.fixture
async def api(store: Store, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(data_dir=tmp_path, definitions=ROOT / "definitions", api_rate=1000)
    app = create_app(settings, store, _no_temporal)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://journeys.test") as client:
        yield client


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_journeys_lists_the_definitions_with_their_live_runs_for_a_read_key(
    api: httpx.AsyncClient, store: Store
) -> None:
    key = store.create_key("crm", "read", by="ops")

    response = await api.get("/v1/journeys", headers=bearer(key))

    assert response.status_code == 200
    by_id = {j["id"]: j for j in response.json()}
    assert by_id["modem-swap"]["live_runs"] == 0
    assert by_id["modem-swap"]["paused"] is False
    assert set(by_id["modem-swap"]) == {"id", "name", "version", "paused", "live_runs"}


async def test_no_key_an_unknown_key_and_a_revoked_key_get_401_and_a_narrow_key_403(
    api: httpx.AsyncClient, store: Store
) -> None:
    events_key = store.create_key("shop", "events", by="ops")
    read_key = store.create_key("crm", "read", by="ops")

    assert (await api.get("/v1/journeys")).status_code == 401
    unknown = await api.get("/v1/journeys", headers=bearer("jk_nothing"))
    assert (unknown.status_code, unknown.json()) == (401, {"error": "unknown or revoked API key"})
    narrow = await api.get("/v1/journeys", headers=bearer(events_key))
    assert narrow.status_code == 403 and "'read'" in narrow.json()["error"]
    assert (await api.get("/v1/journeys", headers=bearer(read_key))).status_code == 200

    store.revoke_key("crm")

    assert (await api.get("/v1/journeys", headers=bearer(read_key))).status_code == 401


async def test_an_admin_key_may_read(api: httpx.AsyncClient, store: Store) -> None:
    key = store.create_key("root", "admin", by="ops")
    assert (await api.get("/v1/journeys", headers=bearer(key))).status_code == 200


async def test_a_body_over_one_megabyte_gets_413_as_json(api: httpx.AsyncClient, store: Store) -> None:
    key = store.create_key("shop", "events", by="ops")
    response = await api.post(
        "/v1/journeys", content=b"x" * (MAX_API_BODY_BYTES + 1), headers=bearer(key) | {"Content-Type": "text/plain"}
    )
    assert response.status_code == 413 and set(response.json()) == {"error"}


async def test_unknown_routes_and_methods_answer_json_errors(api: httpx.AsyncClient) -> None:
    missing = await api.get("/v1/nothing")
    assert (missing.status_code, missing.json()) == (404, {"error": "no route /v1/nothing"})
    wrong = await api.delete("/v1/journeys")
    assert wrong.status_code == 405 and set(wrong.json()) == {"error"}


async def test_the_openapi_schema_has_the_bearer_scheme_and_the_error_shape(api: httpx.AsyncClient) -> None:
    schema = (await api.get("/openapi.json")).json()

    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert "/v1/journeys" in schema["paths"] and not any(p.startswith("/twilio") for p in schema["paths"])
    assert schema["paths"]["/v1/journeys"]["get"]["responses"]["401"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ApiError"
    }


def test_the_rate_limiter_lets_a_second_of_requests_through_then_says_when_to_come_back() -> None:
    now = [0.0]
    limiter = RateLimiter(rate=2, clock=lambda: now[0])

    assert [limiter.wait("shop"), limiter.wait("shop")] == [0.0, 0.0]
    assert limiter.wait("shop") == pytest.approx(0.5)
    assert limiter.wait("crm") == 0.0  # per key
    now[0] = 0.5
    assert limiter.wait("shop") == 0.0


async def test_a_key_over_its_rate_gets_429_with_retry_after(store: Store, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, definitions=ROOT / "definitions", api_rate=2)
    key = store.create_key("crm", "read", by="ops")
    transport = httpx.ASGITransport(app=create_app(settings, store, _no_temporal))
    async with httpx.AsyncClient(transport=transport, base_url="http://journeys.test") as api:
        statuses = [(await api.get("/v1/journeys", headers=bearer(key))).status_code for _ in range(3)]
        refused = await api.get("/v1/journeys", headers=bearer(key))

    assert statuses == [200, 200, 429]
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "1"
    assert "rate" in refused.json()["error"]


def test_journeys_dev_keeps_one_admin_key_in_the_data_dir_and_makes_another_once_it_is_revoked(
    store: Store, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path)

    key, kept = dev_api_key(settings, store)
    again, _ = dev_api_key(settings, store)
    store.revoke_key("dev")
    renewed, _ = dev_api_key(settings, store)

    assert again == key and store.key_scope(key) is None
    assert kept.stat().st_mode & 0o777 == 0o600
    assert store.key_scope(renewed) == ("dev-2", "admin")
    assert kept.read_text().strip() == renewed
