"""The Twilio channel, through the real twilio client, against a fake of Twilio's REST API on loopback."""

from __future__ import annotations

import socket
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl

import pytest
from twilio.request_validator import RequestValidator

from journeys import secrets
from journeys.channels.base import PermanentFailure, TransientFailure
from journeys.channels.twilio import TwilioChannel, say_language, twiml_for
from journeys.engine.messages import Rendered
from journeys.format.models import Gather
from journeys.settings import Settings
from tests.support.fake_twilio import FakeTwilio, Recorded

SECRET = "test-secret"
PUBLIC_URL = "https://journeys.example.com"
SENDER = "+15005550006"
ALICE = "+989121234567"


@pytest.fixture
def fake() -> Iterator[FakeTwilio]:
    with FakeTwilio() as fake:
        yield fake


def channel_for(fake: FakeTwilio, **overrides: str) -> TwilioChannel:
    fields = {
        "twilio_account_sid": fake.account_sid,
        "twilio_auth_token": fake.auth_token,
        "twilio_from": SENDER,
        "twilio_base_url": fake.base_url,
        "public_url": PUBLIC_URL,
        "secret": SECRET,
    }
    settings = Settings(**{**fields, **overrides})
    channel = TwilioChannel.from_settings(settings)
    assert channel is not None
    return channel


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    yield receiver
    receiver.close()


@pytest.fixture
def channel(fake: FakeTwilio) -> TwilioChannel:
    return channel_for(fake)


def sms(to: str = ALICE, body: str = "Your new modem is ready.") -> Rendered:
    return Rendered(channel="sms", to=to, customer_id="c1", body=body, locale="fa-IR")


def call(to: str = ALICE, gather: Gather | None = None, locale: str | None = "fa") -> Rendered:
    return Rendered(
        channel="voice", to=to, customer_id="c1", body="مودم جدید شما آماده است", gather=gather, locale=locale
    )


# configuration


def test_from_settings_is_none_unless_sid_token_and_sender_are_set(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # no journeys.toml
    for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "JOURNEYS_TWILIO_FROM"):
        monkeypatch.delenv(name, raising=False)
    assert TwilioChannel.from_settings(Settings(twilio_account_sid="AC1", twilio_auth_token="t")) is None
    assert TwilioChannel.from_settings(Settings(twilio_account_sid="AC1", twilio_from=SENDER)) is None
    assert TwilioChannel.from_settings(Settings(twilio_auth_token="t", twilio_from=SENDER)) is None
    configured = Settings(twilio_account_sid="AC1", twilio_auth_token="t", twilio_from=SENDER, secret=SECRET)
    assert isinstance(TwilioChannel.from_settings(configured), TwilioChannel)


def the_request(fake: FakeTwilio, kind: str) -> Recorded:
    """The one request Twilio got: of `kind` (Messages, Calls), to Alice, from our number, asking for callbacks."""
    [request] = fake.requests
    assert (request.kind, request.form["To"], request.form["From"]) == (kind, ALICE, SENDER)
    assert request.form["StatusCallback"] == f"{PUBLIC_URL}/twilio/status"
    return request


# SMS


async def test_sms_is_sent_with_recipient_sender_body_and_status_callback(
    fake: FakeTwilio, channel: TwilioChannel
) -> None:
    delivery = await channel.send(sms(body="سلام، مودم شما آماده است"), "journey:modem-swap:c1:1#1")

    request = the_request(fake, "Messages")
    assert request.form["Body"] == "سلام، مودم شما آماده است"
    assert delivery.provider == "twilio"
    assert delivery.provider_id == request.sid
    assert delivery.provider_id is not None and delivery.provider_id.startswith("SM")


async def test_fake_posts_the_status_callback_signed_with_the_auth_token(fake: FakeTwilio, receiver: Receiver) -> None:
    channel = channel_for(fake, public_url=receiver.base_url)
    delivery = await channel.send(sms(), "k1")
    assert delivery.provider_id is not None

    response = fake.post_status(delivery.provider_id, "delivered")

    assert response.status_code == 204
    [(path, params, signature)] = receiver.received
    assert path == "/twilio/status"
    assert params["MessageSid"] == delivery.provider_id
    assert params["MessageStatus"] == "delivered"
    validator = RequestValidator(fake.auth_token)
    assert validator.validate(f"{receiver.base_url}/twilio/status", params, signature)


async def test_sms_accepts_locale_with_underscore_and_no_gather(channel: TwilioChannel) -> None:
    message = sms().model_copy(update={"locale": "en_GB"})
    delivery = await channel.send(message, "k")
    assert delivery.provider_id


# voice


async def test_voice_call_twiml_says_the_body_in_the_customer_language(
    fake: FakeTwilio, channel: TwilioChannel
) -> None:
    delivery = await channel.send(call(locale="fa"), "k1")

    request = the_request(fake, "Calls")
    twiml = ET.fromstring(request.form["Twiml"])
    say = twiml.find("Say")
    assert say is not None and say.get("language") == "fa-IR"
    assert say.text == "مودم جدید شما آماده است"
    assert twiml.find("Gather") is None
    assert delivery.provider_id is not None and delivery.provider_id.startswith("CA")


async def test_voice_gather_action_carries_a_token_of_customer_event_and_key(
    fake: FakeTwilio, channel: TwilioChannel
) -> None:
    await channel.send(call(gather=Gather(digits=1, event="satisfaction_score")), "journey:survey:c1:1#3")

    [request] = fake.requests
    gather = ET.fromstring(request.form["Twiml"]).find("Gather")
    assert gather is not None
    assert gather.get("numDigits") == "1"
    assert gather.get("method") == "POST"
    action = gather.get("action", "")
    prefix = f"{PUBLIC_URL}/twilio/gather/"
    assert action.startswith(prefix)
    assert secrets.verify(action.removeprefix(prefix), SECRET) == {
        "c": "c1",
        "e": "satisfaction_score",
        "k": "journey:survey:c1:1#3",
    }
    say = gather.find("Say")
    assert say is not None and say.get("language") == "fa-IR"
    assert ALICE not in action


async def test_fake_press_posts_the_digits_to_the_gather_action_signed(fake: FakeTwilio, receiver: Receiver) -> None:
    channel = channel_for(fake, public_url=receiver.base_url)
    delivery = await channel.send(call(gather=Gather(digits=1, event="rated")), "k9")
    assert delivery.provider_id is not None

    fake.press(delivery.provider_id, "4")

    [(path, params, signature)] = receiver.received
    assert path.startswith("/twilio/gather/")
    assert secrets.verify(path.removeprefix("/twilio/gather/"), SECRET) == {"c": "c1", "e": "rated", "k": "k9"}
    assert params["Digits"] == "4"
    assert params["CallSid"] == delivery.provider_id
    assert RequestValidator(fake.auth_token).validate(f"{receiver.base_url}{path}", params, signature)


def test_twiml_for_is_pure_and_escapes_the_text() -> None:
    message = call(gather=Gather(digits=2, event="answered"), locale="en").model_copy(
        update={"body": "Press 1 & then <2>"}
    )
    first = twiml_for(message, "k", public_url=PUBLIC_URL + "/", secret=SECRET)
    assert first == twiml_for(message, "k", public_url=PUBLIC_URL, secret=SECRET)
    gather = ET.fromstring(first).find("Gather")
    assert gather is not None and gather.get("numDigits") == "2"
    say = gather.find("Say")
    assert say is not None and say.text == "Press 1 & then <2>" and say.get("language") == "en-US"


def test_say_language_maps_locales_to_twilio_language_codes() -> None:
    assert say_language("fa") == "fa-IR"
    assert say_language("fa-IR") == "fa-IR"
    assert say_language("en") == "en-US"
    assert say_language("en_gb") == "en-GB"
    assert say_language(None) == "en-US"
    assert say_language("sr-Latn-RS") == "sr-RS"


# failures


async def test_unsubscribed_recipient_is_permanent_with_opt_out(fake: FakeTwilio, channel: TwilioChannel) -> None:
    fake.fail(ALICE, 21610)
    with pytest.raises(PermanentFailure) as raised:
        await channel.send(sms(), "k")
    assert raised.value.opt_out is True
    assert "21610" in str(raised.value)


@pytest.mark.parametrize("code", [21211, 21614])
async def test_invalid_number_is_permanent_without_opt_out(fake: FakeTwilio, channel: TwilioChannel, code: int) -> None:
    fake.fail(ALICE, code)
    with pytest.raises(PermanentFailure) as raised:
        await channel.send(sms(), "k")
    assert raised.value.opt_out is False
    assert str(code) in str(raised.value)


@pytest.mark.parametrize("error", [20429, 20500, 500, 502, 503])
@pytest.mark.parametrize("kind", ["sms", "voice"])
async def test_rate_limit_and_server_errors_are_transient_and_sent_once(
    fake: FakeTwilio, channel: TwilioChannel, error: int, kind: str
) -> None:
    fake.fail(ALICE, error)
    with pytest.raises(TransientFailure):
        await channel.send(sms() if kind == "sms" else call(), "k")
    assert len(fake.requests) == 1  # the twilio client did not retry on its own


@pytest.mark.parametrize(("error", "opt_out"), [(21610, True), (21211, False)])
async def test_problem_json_errors_are_classified_like_legacy_ones(
    fake: FakeTwilio, channel: TwilioChannel, error: int, opt_out: bool
) -> None:
    fake.fail(ALICE, error, problem=True)  # twilio >= 9.10 raises TwilioServiceException for these
    with pytest.raises(PermanentFailure) as raised:
        await channel.send(sms(), "k")
    assert raised.value.opt_out is opt_out
    assert ALICE not in str(raised.value) and str(error) in str(raised.value)


async def test_problem_json_rate_limit_is_transient(fake: FakeTwilio, channel: TwilioChannel) -> None:
    fake.fail(ALICE, 20429, problem=True)
    with pytest.raises(TransientFailure):
        await channel.send(call(), "k")
    assert len(fake.requests) == 1


async def test_wrong_credentials_are_permanent(fake: FakeTwilio) -> None:
    channel = channel_for(fake, twilio_auth_token="not-the-token")
    with pytest.raises(PermanentFailure) as raised:
        await channel.send(sms(), "k")
    assert "HTTP 401" in str(raised.value)
    assert raised.value.opt_out is False
    assert [r.status for r in fake.requests] == [401]


async def test_unreachable_twilio_is_transient() -> None:
    with FakeTwilio() as fake:
        channel = channel_for(fake)
    with pytest.raises(TransientFailure) as raised:  # the fake has stopped: connection refused
        await channel.send(sms(), "k")
    assert ALICE not in str(raised.value)


async def test_connection_refused_on_a_free_port_is_transient() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    channel = TwilioChannel(
        "AC1", "t", SENDER, public_url=PUBLIC_URL, secret=SECRET, base_url=f"http://127.0.0.1:{port}"
    )
    with pytest.raises(TransientFailure):
        await channel.send(call(), "k")


async def test_timeout_is_transient_and_not_retried(fake: FakeTwilio) -> None:
    fake.delay(ALICE, 1.0)
    channel = TwilioChannel(
        fake.account_sid,
        fake.auth_token,
        SENDER,
        public_url=PUBLIC_URL,
        secret=SECRET,
        base_url=fake.base_url,
        timeout=0.2,
    )
    with pytest.raises(TransientFailure) as raised:
        await channel.send(sms(), "k")
    assert "in time" in str(raised.value)
    assert len(fake.requests) == 1


@pytest.mark.parametrize("error", [21610, 21211, 21614, 20429, 500])
async def test_error_messages_never_carry_a_phone_number(fake: FakeTwilio, channel: TwilioChannel, error: int) -> None:
    fake.fail(ALICE, error)
    with pytest.raises((PermanentFailure, TransientFailure)) as raised:
        await channel.send(sms(), "k")
    text = str(raised.value)
    assert ALICE not in text and ALICE.removeprefix("+") not in text and SENDER not in text
    assert "9121234567" not in text


async def test_failure_can_be_limited_to_the_first_requests(fake: FakeTwilio, channel: TwilioChannel) -> None:
    fake.fail(ALICE, 20429, times=1)
    with pytest.raises(TransientFailure):
        await channel.send(sms(), "k")
    delivery = await channel.send(sms(), "k")
    assert delivery.provider_id is not None
    assert [r.status for r in fake.requests] == [429, 201]


async def test_other_recipients_are_unaffected_by_a_programmed_failure(
    fake: FakeTwilio, channel: TwilioChannel
) -> None:
    fake.fail("+15005550009", 21610)
    await channel.send(sms(), "k")
    assert [r.status for r in fake.requests] == [201]


class Receiver:
    """The other end of Twilio's callbacks: a plain HTTP server on loopback recording each form POST."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict[str, str], str]] = []  # path, form, X-Twilio-Signature
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                form = dict(parse_qsl(body, keep_blank_values=True))
                received.append((self.path, form, self.headers.get("X-Twilio-Signature", "")))
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()
