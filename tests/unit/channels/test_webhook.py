"""The webhook channel against a real HTTP server on the loopback interface."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from journeys.channels.base import PermanentFailure, TransientFailure
from journeys.channels.webhook import WebhookChannel
from journeys.engine.messages import Rendered
from journeys.settings import Settings

SECRET = "webhook-test-secret"


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A loopback HTTP server whose path says how it answers: /ok, /fail (500), /missing (404), /busy (429),
    /slow (not before the test is over)."""

    url: str
    requests: list[Received] = field(default_factory=list)
    over: threading.Event = field(default_factory=threading.Event)


class _Handler(BaseHTTPRequestHandler):
    receiver: Receiver

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        self.receiver.requests.append(Received(self.command, self.path, dict(self.headers.items()), body))
        if self.path == "/slow":
            self.receiver.over.wait(timeout=30)
        status = {"/ok": 200, "/accepted": 202, "/fail": 500, "/missing": 404, "/busy": 429}.get(self.path, 200)
        self.send_response(status)
        if self.path == "/ok":
            self.send_header("X-Request-Id", "req-42")
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_POST = do_PUT = do_PATCH = _answer

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    host, port = server.server_address[:2]
    found = Receiver(url=f"http://{host}:{port}")
    server.RequestHandlerClass = type("Handler", (_Handler,), {"receiver": found})
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield found
    found.over.set()
    server.shutdown()
    server.server_close()


def _message(url: str, payload: dict[str, object], method: str | None = None) -> Rendered:
    return Rendered(
        channel="webhook",
        to=url,
        customer_id="c1",
        body=json.dumps(payload, ensure_ascii=False, sort_keys=True),
        method=method,
        payload=payload,
    )


async def test_webhook_posts_signed_json_with_idempotency_key(receiver: Receiver) -> None:
    payload = {"customer": "c1", "event": "swap_invited", "name": "رضا"}
    delivery = await WebhookChannel(SECRET).send(_message(f"{receiver.url}/ok", payload), "journey:x:c1:1#3")

    assert (delivery.provider, delivery.provider_id) == ("webhook", "req-42")
    (request,) = receiver.requests
    assert (request.method, request.path) == ("POST", "/ok")
    assert json.loads(request.body) == payload
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Idempotency-Key"] == "journey:x:c1:1#3"
    assert abs(int(request.headers["X-Journeys-Timestamp"]) - time.time()) < 60
    expected = hmac.new(SECRET.encode(), request.body, hashlib.sha256).hexdigest()
    assert request.headers["X-Journeys-Signature"] == f"sha256={expected}"


async def test_webhook_uses_the_message_method_and_has_no_request_id_without_the_header(receiver: Receiver) -> None:
    delivery = await WebhookChannel(SECRET).send(_message(f"{receiver.url}/accepted", {"a": 1}, "PUT"), "k1")
    assert delivery.provider_id is None
    assert [r.method for r in receiver.requests] == ["PUT"]


async def test_webhook_server_error_is_transient_and_not_retried_inside(receiver: Receiver) -> None:
    with pytest.raises(TransientFailure, match="500"):
        await WebhookChannel(SECRET).send(_message(f"{receiver.url}/fail", {"a": 1}), "k1")
    assert len(receiver.requests) == 1


async def test_webhook_too_many_requests_is_transient(receiver: Receiver) -> None:
    with pytest.raises(TransientFailure, match="429"):
        await WebhookChannel(SECRET).send(_message(f"{receiver.url}/busy", {"a": 1}), "k1")


async def test_webhook_not_found_is_permanent(receiver: Receiver) -> None:
    with pytest.raises(PermanentFailure, match="404") as raised:
        await WebhookChannel(SECRET).send(_message(f"{receiver.url}/missing", {"a": 1}), "k1")
    assert receiver.url not in str(raised.value)  # errors are stored on the message row: no URL in them


async def test_webhook_timeout_is_transient(receiver: Receiver) -> None:
    with pytest.raises(TransientFailure, match="timed out"):
        await WebhookChannel(SECRET, timeout=0.3).send(_message(f"{receiver.url}/slow", {"a": 1}), "k1")


async def test_webhook_connection_refused_is_transient(receiver: Receiver) -> None:
    server_gone = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    host, port = server_gone.server_address[:2]
    server_gone.server_close()  # nothing listens there now
    with pytest.raises(TransientFailure, match="connection failed"):
        await WebhookChannel(SECRET).send(_message(f"http://{host}:{port}/ok", {"a": 1}), "k1")


async def test_webhook_url_that_cannot_be_requested_is_permanent() -> None:
    with pytest.raises(PermanentFailure):
        await WebhookChannel(SECRET).send(_message("ftp://example.invalid/hook", {"a": 1}), "k1")
    with pytest.raises(PermanentFailure):
        await WebhookChannel(SECRET).send(_message("", {"a": 1}), "k1")


def test_webhook_channel_is_on_only_with_a_webhook_secret() -> None:
    assert WebhookChannel.from_settings(Settings(webhook_secret=None, secret="general")) is None
    channel = WebhookChannel.from_settings(Settings(webhook_secret=SECRET))
    assert channel is not None and channel.secret == SECRET
