"""The inbound server: Twilio callbacks, inbound SMS, voice answers and unsubscribe links, driven over ASGI
against a real store and a real journey workflow on the time-skipping test server."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import datetime, timezone

import httpx
import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from twilio.request_validator import RequestValidator

from journeys import secrets
from journeys.errors import JourneysError
from journeys.format.customers import Profile
from journeys.http.inbound import MAX_BODY_BYTES, create_app, inbound_server
from journeys.runtime.temporal import TemporalUnavailable, build_worker
from journeys.services.catalogue import publish
from journeys.services.enrolment import enroll
from journeys.services.reporting import report_spec
from journeys.settings import Settings
from journeys.store import SendReservation, Store
from tests.support import ROOT

MODEM_SWAP = ROOT / "definitions" / "modem_swap.yaml"
PUBLIC_URL = "https://journeys.example.com"
AUTH_TOKEN = "twilio-auth-token"
SECRET = "inbound-test-secret"
PHONE = "+989121000003"
T0 = datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc)


# --- fixtures ---------------------------------------------------------------------------------------


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The test's settings, with the inbound server's public URL, Twilio token and secret."""
    return settings.model_copy(update={"public_url": PUBLIC_URL, "twilio_auth_token": AUTH_TOKEN, "secret": SECRET})


@pytest.fixture
def store(store: Store) -> Store:
    """The test's store, with two customers."""
    store.upsert_customers(
        [
            Profile(id="c1", name="Reza", email="c1@example.com", phone=PHONE, attributes={"plan": "wimax"}),
            Profile(id="c2", name="Sara", email="c2@example.com", phone="+989121000004"),
        ]
    )
    return store


class Connector:
    """A client factory that counts how often the app asked for a connection."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.calls = 0

    async def __call__(self) -> Client:
        self.calls += 1
        return self.client


@pytest.fixture
async def connector(env: WorkflowEnvironment, settings: Settings, store: Store) -> AsyncIterator[Connector]:
    """The test server's client, with a worker running for the test's task queue."""
    async with build_worker(env.client, settings, store):
        yield Connector(env.client)


@pytest.fixture
async def http(settings: Settings, store: Store, connector: Connector) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, store, connector)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=PUBLIC_URL) as client:
        yield client


async def _unreachable() -> Client:
    raise TemporalUnavailable("no Temporal server answers at localhost:1")


@pytest.fixture
async def offline(settings: Settings, store: Store) -> AsyncIterator[httpx.AsyncClient]:
    """The app with no Temporal to reach."""
    app = create_app(settings, store, _unreachable)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=PUBLIC_URL) as client:
        yield client


def signed(path: str, params: dict[str, str], token: str = AUTH_TOKEN) -> dict[str, str]:
    """Twilio's signature header for a POST of `params` to `path` on the public URL."""
    return {"X-Twilio-Signature": RequestValidator(token).compute_signature(PUBLIC_URL + path, params)}


async def twilio(http: httpx.AsyncClient, path: str, params: dict[str, str]) -> httpx.Response:
    return await http.post(path, data=params, headers=signed(path, params))


def sms(body: str, sid: str = "SM0001", sender: str = PHONE) -> dict[str, str]:
    return {"MessageSid": sid, "AccountSid": "AC1", "From": sender, "To": "+15005550006", "Body": body}


def events(store: Store, cid: str) -> list[tuple[str, dict[str, object]]]:
    return [(e.name, e.data) for e in store.events_of(cid)]


def consent(store: Store, cid: str, channel: str) -> str | None:
    row = store.customer_row(cid)
    assert row is not None
    return (row.consent.get(channel) or {}).get("status")


def sent_message(store: Store, key: str, channel: str, provider_id: str) -> None:
    store.reserve_send(
        SendReservation(
            key=key, workflow_id="wf-1", journey_id="modem-swap", customer_id="c1", step="s", visit=1, channel=channel
        ),
        [],
        T0,
    )
    store.complete_send(key, "sent", provider="twilio", provider_id=provider_id, at=T0)


def message_status(store: Store, key: str) -> tuple[str, str | None]:
    (row,) = [m for m in store.messages_of("c1") if m.key == key]
    return row.status, row.error


# --- inbound SMS --------------------------------------------------------------------------------------


async def test_sms_stop_opts_out_and_ends_the_live_run(
    http: httpx.AsyncClient, connector: Connector, store: Store, settings: Settings
) -> None:
    (enrolment,) = await enroll(connector.client, store, settings, publish(MODEM_SWAP), ["c1"])
    assert enrolment.status == "started" and enrolment.workflow_id

    response = await twilio(http, "/twilio/sms", sms("  Stop "))

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/xml") and "<Response/>" in response.text
    assert consent(store, "c1", "sms") == "opted_out"
    assert events(store, "c1") == [("opted_out", {"channel": "sms"})]
    await connector.client.get_workflow_handle(enrolment.workflow_id).result()
    (run,) = store.runs_of("c1")
    assert (run.outcome, run.exit_event) == ("exited", "opted_out")


async def test_sms_start_opts_back_in(http: httpx.AsyncClient, store: Store) -> None:
    await twilio(http, "/twilio/sms", sms("STOP", sid="SM1"))
    await twilio(http, "/twilio/sms", sms("unstop", sid="SM2"))
    assert consent(store, "c1", "sms") == "opted_in"
    assert events(store, "c1") == [("opted_out", {"channel": "sms"}), ("opted_in", {"channel": "sms"})]


async def test_sms_free_text_reply_is_an_sms_received_event(http: httpx.AsyncClient, store: Store) -> None:
    response = await twilio(http, "/twilio/sms", sms("I already have the new modem, thanks"))
    assert response.status_code == 200
    assert events(store, "c1") == [("sms_received", {"text": "I already have the new modem, thanks"})]
    assert consent(store, "c1", "sms") is None


async def test_sms_retried_by_twilio_is_one_event_and_one_connection(
    http: httpx.AsyncClient, connector: Connector, store: Store
) -> None:
    for _ in range(3):
        assert (await twilio(http, "/twilio/sms", sms("hello", sid="SM42"))).status_code == 200
    await twilio(http, "/twilio/sms", sms("hello again", sid="SM43"))
    assert events(store, "c1") == [("sms_received", {"text": "hello"}), ("sms_received", {"text": "hello again"})]
    assert connector.calls == 1


async def test_sms_stop_from_a_shared_number_opts_out_every_customer_with_it(
    http: httpx.AsyncClient, store: Store
) -> None:
    store.upsert_customers([Profile(id="c3", phone=PHONE)])
    await twilio(http, "/twilio/sms", sms("QUIT"))
    assert [consent(store, cid, "sms") for cid in ("c1", "c2", "c3")] == ["opted_out", None, "opted_out"]


async def test_sms_handling_logs_no_phone_number_or_text(
    http: httpx.AsyncClient, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await twilio(http, "/twilio/sms", sms("my secret reply", sid="SM1"))
    await twilio(http, "/twilio/sms", sms("STOP", sid="SM2"))
    await twilio(http, "/twilio/sms", sms("hello", sid="SM3", sender="+15550001111"))
    assert "SM1" in caplog.text and "SM3" in caplog.text
    assert PHONE not in caplog.text and "+15550001111" not in caplog.text and "my secret reply" not in caplog.text


async def test_sms_from_an_unknown_number_records_nothing(http: httpx.AsyncClient, store: Store) -> None:
    response = await twilio(http, "/twilio/sms", sms("STOP", sender="+15550001111"))
    assert response.status_code == 200 and "<Response/>" in response.text
    assert events(store, "c1") == [] and events(store, "c2") == []


async def test_sms_stop_without_temporal_still_opts_out(offline: httpx.AsyncClient, store: Store) -> None:
    response = await twilio(offline, "/twilio/sms", sms("STOP"))
    assert response.status_code == 200
    assert consent(store, "c1", "sms") == "opted_out"
    assert events(store, "c1") == [("opted_out", {"channel": "sms"})]


# --- Twilio signatures ----------------------------------------------------------------------------------


async def test_twilio_requests_without_a_valid_signature_are_refused(
    http: httpx.AsyncClient, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    params = sms("STOP")
    attempts = [
        {},  # unsigned
        {"X-Twilio-Signature": "not-a-signature"},
        signed("/twilio/sms", params, token="someone-elses-token"),
        signed("/twilio/status", params),  # signed for another URL
        signed("/twilio/sms", {**params, "Body": "hello"}),  # the body was changed after signing
    ]
    for headers in attempts:
        response = await http.post("/twilio/sms", data=params, headers=headers)
        assert response.status_code == 403
        assert PHONE not in response.text
    assert events(store, "c1") == [] and consent(store, "c1", "sms") is None
    assert PHONE not in caplog.text


async def test_twilio_requests_are_refused_when_no_auth_token_is_configured(
    settings: Settings, store: Store, connector: Connector
) -> None:
    app = create_app(settings.model_copy(update={"twilio_auth_token": None}), store, connector)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=PUBLIC_URL) as http:
        response = await twilio(http, "/twilio/sms", sms("STOP"))
    assert response.status_code == 403 and events(store, "c1") == []


async def test_twilio_signature_covers_the_query_string(http: httpx.AsyncClient, store: Store) -> None:
    params = sms("hi")
    good = await http.post("/twilio/sms?tenant=a", data=params, headers=signed("/twilio/sms?tenant=a", params))
    bad = await http.post("/twilio/sms?tenant=b", data=params, headers=signed("/twilio/sms?tenant=a", params))
    assert (good.status_code, bad.status_code) == (200, 403)


# --- voice answers --------------------------------------------------------------------------------------


async def test_gather_digits_become_the_steps_event(http: httpx.AsyncClient, store: Store) -> None:
    token = secrets.sign({"c": "c1", "e": "satisfaction_rated", "k": "journey:modem-swap:c1:1#4"}, SECRET)
    path = f"/twilio/gather/{token}"
    params = {"CallSid": "CA77", "Digits": "4", "AccountSid": "AC1"}
    for _ in range(2):  # Twilio retried
        response = await twilio(http, path, params)
        assert response.status_code == 200
        assert "<Response><Say>Thank you.</Say></Response>" in response.text
    assert events(store, "c1") == [("satisfaction_rated", {"digits": "4"})]


async def test_gather_with_a_bad_token_is_refused(http: httpx.AsyncClient, store: Store) -> None:
    good = secrets.sign({"c": "c1", "e": "satisfaction_rated", "k": "k1"}, SECRET)
    bad_tokens = [
        secrets.sign({"c": "c1", "e": "satisfaction_rated", "k": "k1"}, "another-secret"),
        good[:-2] + ("AA" if not good.endswith("AA") else "BB"),
        secrets.sign({"c": "c1", "ch": "email"}, SECRET),  # an unsubscribe token is no voice answer
        "garbage",
    ]
    for token in bad_tokens:
        response = await twilio(http, f"/twilio/gather/{token}", {"CallSid": "CA1", "Digits": "5"})
        assert response.status_code == 403
    assert events(store, "c1") == []


async def test_gather_opt_out_keys_opt_out_of_calls_and_end_the_live_run(
    http: httpx.AsyncClient, connector: Connector, store: Store, settings: Settings
) -> None:
    import re

    from journeys.channels.twilio import twiml_for
    from journeys.engine.messages import Rendered
    from journeys.format.models import Gather

    (enrolment,) = await enroll(connector.client, store, settings, publish(MODEM_SWAP), ["c1"])
    assert enrolment.status == "started" and enrolment.workflow_id
    call = Rendered(
        channel="voice",
        to=PHONE,
        customer_id="c1",
        body="Press 1 to 5, or 9 to stop these calls.",
        gather=Gather(digits=1, event="satisfaction_rated", opt_out="9"),
    )
    twiml = twiml_for(call, "journey:modem-swap:c1:1#4", public_url=PUBLIC_URL, secret=SECRET)
    (action,) = re.findall(r'action="([^"]+)"', twiml)
    path = action.removeprefix(PUBLIC_URL)

    response = await twilio(http, path, {"CallSid": "CA78", "Digits": "4", "AccountSid": "AC1"})
    assert response.status_code == 200 and consent(store, "c1", "voice") is None  # an answer, not an opt-out
    for _ in range(2):  # Twilio retried
        response = await twilio(http, path, {"CallSid": "CA79", "Digits": "9", "AccountSid": "AC1"})
        assert response.status_code == 200
    assert consent(store, "c1", "voice") == "opted_out"
    assert events(store, "c1") == [("satisfaction_rated", {"digits": "4"}), ("opted_out", {"channel": "voice"})]
    answers = store.journey_report("modem-swap", report_spec(publish(MODEM_SWAP))).answers
    assert answers["satisfaction_rated"].by_answer == {"4": 1}  # the journey's call, named by the answer's id
    await connector.client.get_workflow_handle(enrolment.workflow_id).result()
    (run,) = store.runs_of("c1")
    assert (run.outcome, run.exit_event) == ("exited", "opted_out")


async def test_gather_opt_out_without_temporal_still_opts_out(offline: httpx.AsyncClient, store: Store) -> None:
    token = secrets.sign({"c": "c1", "e": "satisfaction_rated", "k": "k1", "o": "9"}, SECRET)
    response = await twilio(offline, f"/twilio/gather/{token}", {"CallSid": "CA80", "Digits": "9"})
    assert response.status_code == 200
    assert consent(store, "c1", "voice") == "opted_out"
    assert events(store, "c1") == [("opted_out", {"channel": "voice"})]


# --- unsubscribe links ----------------------------------------------------------------------------------


async def test_unsubscribe_page_asks_before_changing_anything(http: httpx.AsyncClient, store: Store) -> None:
    token = secrets.sign({"c": "c1", "ch": "email"}, SECRET)
    response = await http.get(f"/unsubscribe/{token}")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert '<form method="post">' in response.text and "c1@example.com" not in response.text
    assert consent(store, "c1", "email") is None and events(store, "c1") == []


async def test_unsubscribe_one_click_opts_out_once(http: httpx.AsyncClient, store: Store) -> None:
    token = secrets.sign({"c": "c1", "ch": "email"}, SECRET)
    for _ in range(2):  # mail providers may post twice
        response = await http.post(f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})
        assert response.status_code == 200
    await http.post(f"/unsubscribe/{token}", data={"confirm": "yes"})  # and the page's button, later
    assert consent(store, "c1", "email") == "opted_out"
    assert events(store, "c1") == [("opted_out", {"channel": "email"})]


async def test_unsubscribe_again_after_opting_back_in_is_a_new_event(http: httpx.AsyncClient, store: Store) -> None:
    token = secrets.sign({"c": "c1", "ch": "email"}, SECRET)
    await http.post(f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})
    store.set_consent("c1", "email", "opted_in", datetime.now(timezone.utc))
    await http.post(f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})
    assert events(store, "c1") == [("opted_out", {"channel": "email"})] * 2


async def test_unsubscribe_with_a_bad_token_is_refused(http: httpx.AsyncClient, store: Store) -> None:
    for token in (
        "garbage",
        secrets.sign({"c": "c1", "ch": "email"}, "another-secret"),
        secrets.sign({"c": "c1"}, SECRET),
    ):
        assert (await http.get(f"/unsubscribe/{token}")).status_code == 403
        assert (await http.post(f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})).status_code == 403
    assert consent(store, "c1", "email") is None and events(store, "c1") == []


# --- status callbacks -----------------------------------------------------------------------------------


async def test_status_callback_updates_the_message_row_once(http: httpx.AsyncClient, store: Store) -> None:
    sent_message(store, "k-sms", "sms", "SM900")
    params = {"MessageSid": "SM900", "MessageStatus": "delivered", "AccountSid": "AC1"}
    first = await twilio(http, "/twilio/status", params)
    again = await twilio(http, "/twilio/status", params)
    assert (first.status_code, first.json()) == (200, {"result": "updated"})
    assert (again.status_code, again.json()) == (200, {"result": "unchanged"})
    assert message_status(store, "k-sms") == ("delivered", None)


async def test_status_callback_records_failures_with_twilios_error_code(http: httpx.AsyncClient, store: Store) -> None:
    sent_message(store, "k-sms", "sms", "SM901")
    sent_message(store, "k-call", "voice", "CA901")
    await twilio(http, "/twilio/status", {"MessageSid": "SM901", "MessageStatus": "undelivered", "ErrorCode": "30003"})
    await twilio(http, "/twilio/status", {"CallSid": "CA901", "CallStatus": "no-answer"})
    assert message_status(store, "k-sms") == ("failed", "twilio: undelivered (error 30003)")
    assert message_status(store, "k-call") == ("failed", "twilio: no-answer")


async def test_status_callback_ignores_progress_and_unknown_messages(http: httpx.AsyncClient, store: Store) -> None:
    sent_message(store, "k-sms", "sms", "SM902")
    progress = await twilio(http, "/twilio/status", {"MessageSid": "SM902", "MessageStatus": "sent"})
    unknown = await twilio(http, "/twilio/status", {"MessageSid": "SM999", "MessageStatus": "delivered"})
    assert (progress.json(), unknown.json()) == ({"result": "ignored"}, {"result": "unknown"})
    assert message_status(store, "k-sms") == ("sent", None)


async def test_status_callback_without_a_signature_changes_nothing(http: httpx.AsyncClient, store: Store) -> None:
    sent_message(store, "k-sms", "sms", "SM903")
    response = await http.post("/twilio/status", data={"MessageSid": "SM903", "MessageStatus": "failed"})
    assert response.status_code == 403
    assert message_status(store, "k-sms") == ("sent", None)


# --- limits and serving ---------------------------------------------------------------------------------


async def test_oversized_body_is_refused(http: httpx.AsyncClient, store: Store) -> None:
    params = sms("x" * (MAX_BODY_BYTES + 1))
    declared = await http.post("/twilio/sms", data=params, headers=signed("/twilio/sms", params))

    async def chunks() -> AsyncIterator[bytes]:  # streamed, no Content-Length
        for _ in range(MAX_BODY_BYTES // 1024 + 2):
            yield b"x" * 1024

    streamed = await http.post("/twilio/sms", content=chunks())
    assert (declared.status_code, streamed.status_code) == (413, 413)
    assert events(store, "c1") == []


async def test_healthz(offline: httpx.AsyncClient) -> None:
    response = await offline.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


async def test_inbound_server_serves_on_loopback_and_says_when_the_port_is_taken(
    settings: Settings, store: Store
) -> None:
    async with inbound_server(settings, store, _unreachable, port=0) as port:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            assert (await client.get("/healthz")).status_code == 200
        with pytest.raises(JourneysError, match=f"cannot listen on 127.0.0.1:{port}"):
            async with inbound_server(settings, store, _unreachable, port=port):
                pass
