"""What comes back to the engine from providers and customers, on the HTTP server (`journeys.http.app`):

    POST /twilio/status          Twilio message and call status callbacks → the message row's status
    POST /twilio/sms             an SMS from a customer: STOP/START → consent and opted_out/opted_in, else sms_received
    POST /twilio/gather/{token}  the digits of a voice <Gather> → the event the step named, with {digits};
                                 the step's `gather.opt_out` keys → consent and opted_out {channel: voice}
    GET  /unsubscribe/{token}    a confirmation page (no change: mail scanners open links)
    POST /unsubscribe/{token}    RFC 8058 one-click or the page's button → consent opted_out and an opted_out event
    GET  /healthz

Every `/twilio/*` request must carry a valid `X-Twilio-Signature` for `public_url` + its path (the URL Twilio
was given), else 403 and nothing changes; tokens are `journeys.secrets` signed with the signing secret, else
403. Events go through `delivery.signal`, so live runs take them in at once; their ids derive from the
provider's ids, so a webhook Twilio retries is one event. When Temporal cannot be reached the consent and the
event are still recorded in the store (and a warning logged): an opt-out is never lost. Bodies over
`MAX_BODY_BYTES` get 413. Nothing personal (phone numbers, addresses, message text) goes to logs or responses.
"""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.datastructures import FormData
from starlette.types import Scope
from temporalio.client import Client
from twilio.request_validator import RequestValidator

from journeys import secrets
from journeys.errors import JourneysError
from journeys.runtime.logs import get_logger
from journeys.services import delivery
from journeys.settings import Settings
from journeys.store import Store

log = get_logger(__name__)

ClientFactory = Callable[[], Awaitable[Client]]
MAX_BODY_BYTES = 64 * 1024
OPT_OUT_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE"})
OPT_IN_WORDS = frozenset({"START", "UNSTOP", "YES"})
UNSUBSCRIBE_CHANNELS = frozenset({"email", "sms", "voice"})
# Twilio's final statuses (messages and calls) → the message row's status; every other one is progress
TWILIO_OUTCOMES = {
    "delivered": "delivered",
    "completed": "delivered",
    "undelivered": "failed",
    "failed": "failed",
    "busy": "failed",
    "no-answer": "failed",
    "canceled": "failed",
}
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
THANKS_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response><Say>Thank you.</Say></Response>'
_DIGITS = re.compile(r"[0-9*#]{1,20}")


class Inbound:
    """What the routes share: settings, the store, the signing secret, and one Temporal client made lazily."""

    def __init__(self, settings: Settings, store: Store, client_factory: ClientFactory) -> None:
        self.settings = settings
        self.store = store
        self.secret = settings.signing_secret()
        self._client_factory = client_factory
        self._client: Client | None = None
        self._connecting = asyncio.Lock()

    async def client(self) -> Client:
        """The Temporal client: connected on first use, then reused (a failed attempt is tried again later)."""
        async with self._connecting:
            if self._client is None:
                self._client = await self._client_factory()
        return self._client

    async def client_or_none(self) -> Client | None:
        """The client, or None while Temporal cannot be reached: events are then recorded and owed."""
        try:
            return await self.client()
        except (JourneysError, RuntimeError, OSError):
            return None

    async def emit(self, customer_id: str, name: str, data: dict[str, Any], event_id: str) -> None:
        """Record the event and deliver it to the customer's live runs; without Temporal it is recorded and
        owed, and the deliverer that runs with the worker delivers it once Temporal answers."""
        client = await self.client_or_none()
        result = await delivery.signal(
            client, self.store, self.settings, customer_id, name, data, event_id, source="provider"
        )
        log.info(
            "event.delivered" if result.delivered else "event.recorded",
            customer=customer_id,
            name=name,
            event_id=event_id,
            duplicate=result.duplicate,
            delivered=result.delivered,
            runs={r.journey: r.effect for r in result.runs},
        )

    def set_consent(self, customer_id: str, channel: str, status: str) -> str | None:
        """Set one channel's consent unless it is so already; the previous consent's time (None: never set)."""
        row = self.store.customer_row(customer_id)
        current = ((row.consent if row else None) or {}).get(channel) or {}
        if current.get("status") != status:
            self.store.set_consent(customer_id, channel, status, _now())
        return current.get("at")


# --- Twilio -----------------------------------------------------------------------------------------


def _inbound(request: Request) -> Inbound:
    return request.app.state.inbound  # type: ignore[no-any-return]


async def _twilio_form(request: Request) -> FormData:
    """The form of a request Twilio signed; 403 for a missing or wrong `X-Twilio-Signature`."""
    inbound = _inbound(request)
    try:
        form = await request.form()
    except Exception:  # a body that does not parse as a form cannot be one Twilio signed
        raise HTTPException(403, "invalid signature") from None
    if not _signed_by_twilio(inbound.settings, request, form):
        log.warning("inbound.rejected", route=_route(request), reason="signature")
        raise HTTPException(403, "invalid signature")
    return form


TwilioForm = Annotated[FormData, Depends(_twilio_form)]


def _signed_by_twilio(settings: Settings, request: Request, form: FormData) -> bool:
    token = settings.twilio_auth_token
    signature = request.headers.get("X-Twilio-Signature")
    if not token or not signature or any(not isinstance(v, str) for _, v in form.multi_items()):
        return False
    try:
        return bool(RequestValidator(token).validate(public_url(settings, request), form, signature))
    except (TypeError, ValueError):
        return False


def public_url(settings: Settings, request: Request) -> str:
    """The URL the provider was given for this request: `public_url` + the path as sent (+ the query)."""
    raw = request.scope.get("raw_path")
    path = raw.decode("latin-1").split("?", 1)[0] if raw else request.url.path
    query = request.scope.get("query_string", b"").decode("latin-1")
    return settings.public_url.rstrip("/") + path + (f"?{query}" if query else "")


def _route(request: Request) -> str:
    """The route of a request, for logs: its template (`/unsubscribe/{token}`), never the token in the path."""
    return _route_of(request.scope)


def _route_of(scope: Scope) -> str:
    template = getattr(scope.get("route"), "path", None)
    return template if isinstance(template, str) else "/" + scope.get("path", "/").split("/")[1]


def _field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def _claims(inbound: Inbound, token: str, *names: str) -> tuple[str, ...] | None:
    """The named string fields of a token we signed; None for a bad token or a missing or empty field."""
    payload = secrets.verify(token, inbound.secret) or {}
    values = tuple(payload.get(name) for name in names)
    return values if all(isinstance(v, str) and v for v in values) else None  # type: ignore[return-value]


def _twiml(body: str) -> Response:
    return Response(body, media_type="text/xml")


router = APIRouter()


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.post("/twilio/status")
async def twilio_status(request: Request, form: TwilioForm) -> JSONResponse:
    """A message or call reached a final status: record it on the message row (a repeat changes nothing)."""
    if "MessageStatus" in form:
        sid, reported = _field(form, "MessageSid"), _field(form, "MessageStatus")
    else:
        sid, reported = _field(form, "CallSid"), _field(form, "CallStatus")
    if not sid or not reported:
        raise HTTPException(400, "expected MessageSid and MessageStatus, or CallSid and CallStatus")
    status = TWILIO_OUTCOMES.get(reported)
    if status is None:  # queued, sent, ringing, in-progress …: not an outcome
        return JSONResponse({"result": "ignored"})
    code = _field(form, "ErrorCode")
    error = None if status == "delivered" else f"twilio: {reported}" + (f" (error {code})" if code.isdigit() else "")
    result = await asyncio.to_thread(_inbound(request).store.set_provider_status, sid, status, error)
    log.info("inbound.accepted", route=_route(request), sid=sid, status=reported, result=result, error=code or None)
    return JSONResponse({"result": result})


@router.post("/twilio/sms")
async def twilio_sms(request: Request, form: TwilioForm) -> Response:
    """An SMS from a customer; Twilio's retries of one message (same MessageSid) are one event."""
    inbound = _inbound(request)
    sid, sender, text = _field(form, "MessageSid"), _field(form, "From").strip(), _field(form, "Body")
    if not sid or not sender:
        raise HTTPException(400, "expected MessageSid and From")
    customer_ids = await asyncio.to_thread(inbound.store.customers_with_phone, sender)
    if not customer_ids:
        log.info("inbound.accepted", route=_route(request), sid=sid, customers=0, result="ignored")  # no number, text
        return _twiml(EMPTY_TWIML)
    word = text.strip().upper()
    consent = "opted_out" if word in OPT_OUT_WORDS else "opted_in" if word in OPT_IN_WORDS else None
    log.info("inbound.accepted", route=_route(request), sid=sid, customers=len(customer_ids), result=consent or "text")
    for customer_id in customer_ids:  # a number shared by several customers speaks for all of them
        if consent is not None:
            await asyncio.to_thread(inbound.set_consent, customer_id, "sms", consent)
            await inbound.emit(customer_id, consent, {"channel": "sms"}, f"twilio:{sid}:{customer_id}")
        else:
            await inbound.emit(customer_id, "sms_received", {"text": text}, f"twilio:{sid}:{customer_id}")
    return _twiml(EMPTY_TWIML)


@router.post("/twilio/gather/{token}")
async def twilio_gather(request: Request, token: str, form: TwilioForm) -> Response:
    """The keys a customer pressed in a voice call: the event the step's `gather` named, with {digits}."""
    inbound = _inbound(request)
    claims = _claims(inbound, token, "c", "e", "k")
    if claims is None:
        log.warning("inbound.rejected", route=_route(request), reason="token")
        raise HTTPException(403, "invalid token")
    customer_id, event, key = claims
    digits, call = _field(form, "Digits").strip(), _field(form, "CallSid")
    taken = bool(_DIGITS.fullmatch(digits) and call) and bool(
        await asyncio.to_thread(inbound.store.customer_row, customer_id)
    )
    opt_out = (secrets.verify(token, inbound.secret) or {}).get("o")
    opting_out = taken and isinstance(opt_out, str) and digits == opt_out
    result = taken and ("opted_out" if opting_out else event)
    log.info("inbound.accepted", route=_route(request), customer=customer_id, call=call, result=result)
    if opting_out:  # the step's opt-out keys: like SMS STOP, for calls (recording the event sets the consent)
        await inbound.emit(customer_id, "opted_out", {"channel": "voice"}, f"gather:{key}:{call}")
    elif taken:
        await inbound.emit(customer_id, event, {"digits": digits}, f"gather:{key}:{call}")
    return _twiml(THANKS_TWIML)


# --- unsubscribe links ------------------------------------------------------------------------------


def _unsubscribe_claims(inbound: Inbound, token: str) -> tuple[str, str] | None:
    claims = _claims(inbound, token, "c", "ch")
    if claims is None or claims[1] not in UNSUBSCRIBE_CHANNELS:
        return None
    return claims[0], claims[1]


@router.get("/unsubscribe/{token}")
async def unsubscribe_page(request: Request, token: str) -> HTMLResponse:
    """Ask first: opening the link changes nothing (mail scanners and previews open links)."""
    claims = _unsubscribe_claims(_inbound(request), token)
    if claims is None:
        log.warning("inbound.rejected", route=_route(request), reason="token")
        return HTMLResponse(_page("Invalid link", "<p>This unsubscribe link is not valid.</p>"), 403)
    form = (
        f"<p>Stop receiving {html.escape(_CHANNEL_WORDS[claims[1]])} from us?</p>\n"
        '<form method="post"><button type="submit" name="confirm" value="yes">Unsubscribe</button></form>'
    )
    return HTMLResponse(_page("Unsubscribe", form))


@router.post("/unsubscribe/{token}")
async def unsubscribe(request: Request, token: str) -> HTMLResponse:
    """RFC 8058 one-click (`List-Unsubscribe=One-Click`) or the page's button: the same, idempotent effect."""
    inbound = _inbound(request)
    claims = _unsubscribe_claims(inbound, token)
    if claims is None:
        log.warning("inbound.rejected", route=_route(request), reason="token")
        return HTMLResponse(_page("Invalid link", "<p>This unsubscribe link is not valid.</p>"), 403)
    customer_id, channel = claims
    row = await asyncio.to_thread(inbound.store.customer_row, customer_id)
    already = row is None or ((row.consent or {}).get(channel) or {}).get("status") == "opted_out"
    log.info("inbound.accepted", route=_route(request), customer=customer_id, channel=channel, already=already)
    if not already:
        previous = await asyncio.to_thread(inbound.set_consent, customer_id, channel, "opted_out")
        # one event per opt-out: clicks racing each other saw the same previous consent, so they share an id
        event_id = f"unsubscribe:{customer_id}:{channel}:{previous or 'never'}"
        await inbound.emit(customer_id, "opted_out", {"channel": channel}, event_id)
    words = html.escape(_CHANNEL_WORDS[channel])
    return HTMLResponse(_page("Unsubscribed", f"<p>You will receive no more {words} from us.</p>"))


_CHANNEL_WORDS = {"email": "emails", "sms": "text messages", "voice": "calls"}


def _page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="robots" content="noindex"><title>{html.escape(title)}</title></head>\n'
        f"<body>\n<h1>{html.escape(title)}</h1>\n{body}\n</body>\n</html>\n"
    )


async def bad_request(request: Request, exc: Exception) -> PlainTextResponse:
    log.warning("inbound.rejected", route=_route(request), reason="bad request")  # not the input
    return PlainTextResponse("bad request", 400)  # never echo the input: it may hold personal data


def log_refusal(scope: Scope, reason: str) -> None:
    """A body refused before any route ran (too large, a bad length), logged by route, never the body."""
    log.warning("inbound.rejected", route=_route_of(scope), reason=reason)


def _now() -> datetime:
    return datetime.now(timezone.utc)
