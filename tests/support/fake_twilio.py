"""A fake of Twilio's REST API, served over real HTTP on loopback, for the twilio client to talk to.

    with FakeTwilio() as fake:                       # uvicorn in a background thread on 127.0.0.1:<free port>
        settings = Settings(twilio_base_url=fake.base_url, twilio_account_sid=fake.account_sid, ...)
        fake.fail("+15005550009", 21610)             # that recipient gets Twilio's 21610 error JSON (400)
        fake.outage(500)                             # every request fails (500, then fake.outage(20429): 429)
        fake.outage(None)                            # ... until Twilio is back
        ...
        fake.requests                                # every create request: kind, form fields, HTTP status
        fake.post_status(sid, "delivered")           # Twilio's status callback, signed (X-Twilio-Signature)
        fake.press(call_sid, "4")                    # the callee pressed 4: POSTs to the Gather action, signed

It accepts `POST /2010-04-01/Accounts/{sid}/Messages.json` and `.../Calls.json` (form-encoded, HTTP Basic
auth with the account SID and auth token, else 401 with error 20003) and answers 201 with Twilio-shaped JSON.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import secrets
import socket
import threading
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import format_datetime
from http import HTTPStatus
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from twilio.request_validator import RequestValidator

# Twilio error code → (HTTP status, message) as Twilio sends them; `{to}` is the recipient (Twilio echoes it).
ERRORS: dict[int, tuple[int, str]] = {
    20003: (401, "Authenticate"),
    20404: (404, "The requested resource was not found"),
    20429: (429, "Too Many Requests"),
    20500: (500, "Internal Server Error"),
    21205: (400, "Url parameter is required."),
    21211: (400, "Invalid 'To' Phone Number: {to}"),
    21602: (400, "Message body is required."),
    21603: (400, "A 'From' phone number is required."),
    21604: (400, "A 'To' phone number is required."),
    21610: (400, "Attempt to send to unsubscribed recipient"),
    21614: (400, "'To' number {to} is not a valid mobile number"),
}


@dataclass
class Recorded:
    """One create request as the fake received it."""

    kind: str  # "Messages" or "Calls"
    form: dict[str, str]
    status: int  # the HTTP status the fake answered with
    sid: str | None = None  # the created resource's sid on success


@dataclass
class _Failure:
    error: int  # a Twilio error code (>= 10000: JSON error body) or an HTTP status (plain text body)
    times: int | None  # how many requests still fail; None: all of them
    delay: float = 0.0
    problem: bool = False  # answer in the RFC 9457 shape (type, title, status, code, detail) newer APIs use


@dataclass
class FakeTwilio:
    account_sid: str = field(default_factory=lambda: "AC" + secrets.token_hex(16))
    auth_token: str = field(default_factory=lambda: secrets.token_hex(16))
    requests: list[Recorded] = field(default_factory=list)
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)  # sid → the resource JSON (+ form)
    base_url: str = ""

    def __post_init__(self) -> None:
        self._failures: dict[str, _Failure] = {}
        self._outage: int | None = None
        self._counter = itertools.count(1)
        self._lock = threading.Lock()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    # programming the fake

    def fail(self, to: str, error: int, *, times: int | None = None, problem: bool = False) -> None:
        """Requests to `to` fail: with Twilio's JSON error `error` (21610, 21211, 21614, 20429, 20500 …),
        or, for an HTTP status (500, 502, 503), with a plain-text body and no Twilio code.
        `times=N` fails only the next N requests; `problem=True` sends the error as RFC 9457 problem JSON."""
        self._failures[to] = _Failure(error, times, problem=problem)

    def outage(self, error: int | None) -> None:
        """Every request, whoever it is to, fails with `error` (read as `fail` reads it: 500 or 503 plain text,
        20429 or 20500 Twilio JSON) until `outage(None)`; it goes before programmed per-recipient failures.
        Switch it while a test runs: Twilio down, then throttling, then back."""
        with self._lock:
            self._outage = error

    def delay(self, to: str, seconds: float) -> None:
        """Requests to `to` are answered (successfully) only after `seconds`: for client timeouts."""
        self._failures[to] = _Failure(0, None, delay=seconds)

    @property
    def messages(self) -> list[Recorded]:
        return [r for r in self.requests if r.kind == "Messages" and r.sid]

    @property
    def calls(self) -> list[Recorded]:
        return [r for r in self.requests if r.kind == "Calls" and r.sid]

    # calling back, as Twilio does

    def post_status(self, sid: str, status: str, *, client: httpx.Client | None = None, **extra: str) -> httpx.Response:
        """POST Twilio's status callback for message or call `sid` to the StatusCallback it was created with.

        Messages get MessageSid/MessageStatus (and the SmsSid/SmsStatus aliases), calls CallSid/CallStatus;
        `extra` adds fields (ErrorCode="30003", CallDuration="12" …). `client` (a Starlette TestClient, say)
        sends it in-process instead of over the network.
        """
        resource = self.resources[sid]
        url = resource["_form"].get("StatusCallback")
        if not url:
            raise LookupError(f"{sid} was created without a StatusCallback")
        params = self._callback_params(resource)
        if resource["_kind"] == "Messages":
            params.update(MessageSid=sid, SmsSid=sid, MessageStatus=status, SmsStatus=status)
        else:
            params.update(CallSid=sid, CallStatus=status)
        params.update(extra)
        return self._signed_post(url, params, client)

    def press(self, call_sid: str, digits: str, *, client: httpx.Client | None = None) -> httpx.Response:
        """The callee typed `digits`: POST them to the action of the call's `<Gather>`, as Twilio does."""
        resource = self.resources[call_sid]
        twiml = resource["_form"].get("Twiml", "")
        gather = ET.fromstring(twiml).find(".//Gather") if twiml else None
        if gather is None or not gather.get("action"):
            raise LookupError(f"call {call_sid} has no <Gather action=...>")
        params = self._callback_params(resource)
        params.update(CallSid=call_sid, CallStatus="in-progress", Digits=digits, FinishedOnKey="")
        return self._signed_post(gather.get("action", ""), params, client)

    def signature(self, url: str, params: dict[str, str]) -> str:
        return RequestValidator(self.auth_token).compute_signature(url, params)

    def _callback_params(self, resource: dict[str, Any]) -> dict[str, str]:
        return {
            "AccountSid": self.account_sid,
            "From": resource["from"],
            "To": resource["to"],
            "ApiVersion": "2010-04-01",
            "Direction": "outbound-api",
        }

    def _signed_post(self, url: str, params: dict[str, str], client: httpx.Client | None) -> httpx.Response:
        headers = {"X-Twilio-Signature": self.signature(url, params)}
        if client is not None:
            return client.post(url, data=params, headers=headers)
        return httpx.post(url, data=params, headers=headers, timeout=10)

    # serving

    def __enter__(self) -> FakeTwilio:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        host, port = sock.getsockname()
        self.base_url = f"http://{host}:{port}"
        config = uvicorn.Config(
            self._app(),
            log_config=None,  # leave the test process's logging alone
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the fake Twilio server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc_info: object) -> None:
        assert self._server is not None and self._thread is not None
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def _app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/2010-04-01/Accounts/{account_sid}/{kind}.json")
        async def create(account_sid: str, kind: str, request: Request) -> Response:
            form = {key: str(value) for key, value in (await request.form()).items()}
            response = self._create(account_sid, kind, form, request.headers.get("authorization", ""))
            failure = self._failures.get(form.get("To", ""))
            if failure is not None and failure.delay:
                await asyncio.sleep(failure.delay)
            return response

        return app

    def _create(self, account_sid: str, kind: str, form: dict[str, str], authorization: str) -> Response:
        with self._lock:
            response, sid = self._answer(account_sid, kind, form, authorization)
            self.requests.append(Recorded(kind=kind, form=form, status=response.status_code, sid=sid))
        return response

    def _answer(
        self, account_sid: str, kind: str, form: dict[str, str], authorization: str
    ) -> tuple[Response, str | None]:
        to = form.get("To", "")
        if not self._authorised(authorization):
            return _error(20003, to), None
        if account_sid != self.account_sid or kind not in ("Messages", "Calls"):
            return _error(20404, to), None
        if self._outage is not None:
            return _refusal(self._outage, to), None
        failure = self._failures.get(to)
        if failure is not None and failure.error and failure.times != 0:
            if failure.times is not None:
                failure.times -= 1
            return _refusal(failure.error, to, problem=failure.problem), None
        missing = _missing(kind, form)
        if missing is not None:
            return _error(missing, to), None
        prefix = "SM" if kind == "Messages" else "CA"
        sid = f"{prefix}{next(self._counter):032x}"
        resource = self._resource(kind, sid, form)
        self.resources[sid] = {**resource, "_kind": kind, "_form": form}
        return JSONResponse(resource, status_code=201), sid

    def _authorised(self, authorization: str) -> bool:
        scheme, _, encoded = authorization.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(encoded).decode().partition(":")
        except ValueError:
            return False
        return secrets.compare_digest(user, self.account_sid) and secrets.compare_digest(password, self.auth_token)

    def _resource(self, kind: str, sid: str, form: dict[str, str]) -> dict[str, Any]:
        now = format_datetime(datetime.now(timezone.utc))
        uri = f"/2010-04-01/Accounts/{self.account_sid}/{kind}/{sid}.json"
        common = {
            "sid": sid,
            "account_sid": self.account_sid,
            "api_version": "2010-04-01",
            "to": form["To"],
            "from": form["From"],
            "status": "queued",
            "direction": "outbound-api",
            "date_created": now,
            "date_updated": now,
            "price": None,
            "price_unit": "USD",
            "uri": uri,
        }
        if kind == "Messages":
            return {
                **common,
                "body": form.get("Body", ""),
                "num_segments": "1",
                "num_media": "0",
                "messaging_service_sid": None,
                "error_code": None,
                "error_message": None,
                "date_sent": None,
                "subresource_uris": {"media": uri.replace(".json", "/Media.json")},
            }
        return {
            **common,
            "parent_call_sid": None,
            "phone_number_sid": None,
            "start_time": None,
            "end_time": None,
            "duration": None,
            "answered_by": None,
            "caller_name": None,
            "forwarded_from": None,
            "group_sid": None,
            "queue_time": "0",
            "trunk_sid": None,
            "subresource_uris": {"notifications": uri.replace(".json", "/Notifications.json")},
        }


def _missing(kind: str, form: dict[str, str]) -> int | None:
    if not form.get("To"):
        return 21604
    if not form.get("From"):
        return 21603
    if kind == "Messages" and not form.get("Body") and not form.get("MediaUrl"):
        return 21602
    if kind == "Calls" and not (form.get("Url") or form.get("Twiml") or form.get("ApplicationSid")):
        return 21205
    return None


def _refusal(error: int, to: str, *, problem: bool = False) -> Response:
    """An HTTP status (< 1000) as a plain-text answer with no Twilio code, else Twilio's JSON for the code."""
    if error < 1000:
        return PlainTextResponse(HTTPStatus(error).phrase, status_code=error)
    return _error(error, to, problem=problem)


def _error(code: int, to: str, *, problem: bool = False) -> JSONResponse:
    status, message = ERRORS.get(code, (400, "Bad request"))
    if problem:
        body = {
            "type": f"https://www.twilio.com/docs/errors/{code}",
            "title": message.format(to=to),
            "status": status,
            "code": code,
            "detail": f"The request to {to} was refused.",
        }
        return JSONResponse(body, status_code=status, media_type="application/problem+json")
    return JSONResponse(
        {
            "code": code,
            "message": message.format(to=to),
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        },
        status_code=status,
    )
