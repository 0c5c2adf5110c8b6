"""The webhook channel: a step's JSON body sent to a URL, signed so the receiver can trust it.

Each request carries

    Content-Type: application/json
    X-Journeys-Signature: sha256=<hex HMAC-SHA256 of the exact body bytes, keyed with the webhook secret>
    X-Journeys-Timestamp: <unix seconds when it was sent>
    Idempotency-Key: <the send's key: the same on every retry, so the receiver can drop duplicates>

A receiver checks the signature by recomputing it over the raw body (`signature(body, secret)`). The channel
is on when `JOURNEYS_WEBHOOK_SECRET` is set; without it webhooks go to the outbox, like email without SMTP.

How the answer is read: 2xx accepted (the `X-Request-Id` header, if any, becomes the provider id); 408, 429,
5xx, timeouts and connection errors are transient (the send activity retries with backoff); every other
status, and a URL that cannot be requested at all, is permanent. Nothing is retried here. Errors name the
status, never the URL (it may carry a customer's token). A transient failure is `unsent` (the receiver
certainly did not take the body) when nothing could connect, or the receiver answered 408, 425, 429 or 503.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import httpx

from journeys.channels.base import Delivery, PermanentFailure, TransientFailure
from journeys.engine.messages import Rendered
from journeys.settings import Settings

TIMEOUT_S = 10.0
TRANSIENT_STATUSES = frozenset({408, 425, 429})
UNSENT_STATUSES = frozenset({408, 425, 429, 503})  # answers that say the request was not processed


def signature(body: bytes, secret: str) -> str:
    """The `X-Journeys-Signature` value of a body: `sha256=` and the hex HMAC-SHA256 of its bytes."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookChannel:
    provider = "webhook"

    def __init__(
        self, secret: str, *, timeout: float = TIMEOUT_S, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.secret = secret
        self.timeout = timeout
        self.transport = transport

    @classmethod
    def from_settings(cls, settings: Settings) -> WebhookChannel | None:
        """The configured channel, or None when `webhook_secret` is unset (webhooks then go to the outbox).

        The secret is the switch: receivers need it to check signatures, so one generated on this machine
        could not serve them, and a machine without one (a laptop, a simulation) posts nowhere."""
        return cls(settings.webhook_secret) if settings.webhook_secret else None

    async def send(self, message: Rendered, key: str) -> Delivery:
        body = _body(message)
        headers = {
            "Content-Type": "application/json",
            "X-Journeys-Signature": signature(body, self.secret),
            "X-Journeys-Timestamp": str(int(time.time())),
            "Idempotency-Key": key,
        }
        method = (message.method or "POST").upper()
        try:
            async with httpx.AsyncClient(timeout=self.timeout, transport=self.transport) as client:
                response = await client.request(method, message.to, content=body, headers=headers)
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
            raise PermanentFailure(f"webhook URL cannot be requested: {type(exc).__name__}") from None
        except httpx.TimeoutException as exc:  # connecting timed out: nothing was sent; later, it may have been
            unsent = isinstance(exc, httpx.ConnectTimeout)
            raise TransientFailure(f"webhook timed out after {self.timeout:g} s", unsent=unsent) from None
        except httpx.TransportError as exc:  # connection refused or reset, DNS, protocol errors
            unsent = isinstance(exc, httpx.ConnectError)  # never connected: refused, no route, DNS
            raise TransientFailure(f"webhook connection failed: {type(exc).__name__}", unsent=unsent) from None
        status = response.status_code
        if 200 <= status < 300:
            return Delivery(provider=self.provider, provider_id=response.headers.get("X-Request-Id"))
        if status >= 500 or status in TRANSIENT_STATUSES:
            raise TransientFailure(f"webhook answered {status}", unsent=status in UNSENT_STATUSES)
        raise PermanentFailure(f"webhook answered {status}")


def _body(message: Rendered) -> bytes:
    """The JSON sent: the rendered body text (what the message row holds), else the payload serialised."""
    if message.body:
        return message.body.encode("utf-8")
    return json.dumps(message.payload or {}, ensure_ascii=False, sort_keys=True).encode("utf-8")
