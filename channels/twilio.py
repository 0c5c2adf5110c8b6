"""SMS and voice calls through Twilio's REST API.

An SMS is `messages.create`; a call is `calls.create` with the TwiML inline: `<Say>` in the customer's
language and, when the step gathers digits, a `<Gather>` whose action URL carries a signed token
(customer id, event, send key; never a phone number) so `journeys serve` can turn the digits into the event.
Both name `{public_url}/twilio/status` as the status callback.

The twilio client blocks, so it runs in a thread. It never retries a create itself (only our idempotency
ledger decides whether a message is sent again), and `twilio_base_url` points it at another server (tests).

Failures, by HTTP status first, then Twilio's error code:
    429 / 5xx / error 20429, unreachable, timed out   TransientFailure
    error 21610 (recipient replied STOP)              PermanentFailure(opt_out=True)
    any other 4xx (21211 invalid number, 21614 not mobile, 401 bad credentials ...)  PermanentFailure
A transient failure is `unsent` (Twilio certainly did not take the message) when Twilio answered with an
error other than a gateway's 502/504, or could not be connected to; a timeout waiting for the answer, or a
connection dropped after the request went out, is not.
Error messages never carry a phone number.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
import twilio.base.exceptions as twilio_exceptions
from requests.adapters import HTTPAdapter
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client
from twilio.twiml.voice_response import VoiceResponse
from urllib3.exceptions import NewConnectionError

from journeys import secrets
from journeys.channels.base import ChannelError, Delivery, PermanentFailure, TransientFailure
from journeys.engine.messages import Rendered
from journeys.settings import Settings

# TwilioServiceException (RFC 9457 errors, twilio >= 9.10) is not a TwilioRestException subclass.
_TWILIO_ERRORS: tuple[type[Exception], ...] = tuple(
    error
    for error in (
        twilio_exceptions.TwilioRestException,
        getattr(twilio_exceptions, "TwilioServiceException", None),
    )
    if error is not None
)

UNSUBSCRIBED = 21610
TOO_MANY_REQUESTS = 20429
GATEWAY_ERRORS = frozenset({502, 504})

# <Say language> for a locale without a region; a locale with one (en-GB, fa-IR) is used as it is.
SAY_LANGUAGES = {
    "ar": "ar-XA",
    "de": "de-DE",
    "en": "en-US",
    "es": "es-ES",
    "fa": "fa-IR",
    "fr": "fr-FR",
    "hi": "hi-IN",
    "it": "it-IT",
    "ja": "ja-JP",
    "ko": "ko-KR",
    "nl": "nl-NL",
    "pl": "pl-PL",
    "pt": "pt-BR",
    "ru": "ru-RU",
    "sv": "sv-SE",
    "tr": "tr-TR",
    "zh": "cmn-CN",
}

_PHONE_LIKE = re.compile(r"\+?\d[\d ().-]{5,}\d")


class TwilioChannel:
    """The `sms` and `voice` channel: one instance serves both (`message.channel` decides)."""

    provider = "twilio"

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        from_: str,
        *,
        public_url: str,
        secret: str,
        base_url: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.from_ = from_
        self.public_url = public_url.rstrip("/")
        self.secret = secret
        self.client = Client(account_sid, auth_token, http_client=_HttpClient(base_url=base_url, timeout=timeout))

    @classmethod
    def from_settings(cls, settings: Settings) -> TwilioChannel | None:
        """The configured channel, or None unless the account SID, auth token and sender are all set."""
        if not (settings.twilio_account_sid and settings.twilio_auth_token and settings.twilio_from):
            return None
        return cls(
            settings.twilio_account_sid,
            settings.twilio_auth_token,
            settings.twilio_from,
            public_url=settings.public_url,
            secret=settings.signing_secret(),
            base_url=settings.twilio_base_url,
        )

    @property
    def status_callback(self) -> str:
        return f"{self.public_url}/twilio/status"

    def twiml_for(self, message: Rendered, key: str) -> str:
        return twiml_for(message, key, public_url=self.public_url, secret=self.secret)

    async def send(self, message: Rendered, key: str) -> Delivery:
        if message.channel not in ("sms", "voice"):
            raise PermanentFailure(f"the Twilio channel cannot send {message.channel!r} messages")
        try:
            sid = await asyncio.to_thread(self._create, message, key)
        except _TWILIO_ERRORS as exc:
            raise _failure(exc, message, self.from_) from None
        except requests.ConnectTimeout:
            raise TransientFailure(
                f"Twilio is unreachable for the {_what(message)}: ConnectTimeout", unsent=True
            ) from None
        except requests.Timeout:
            raise TransientFailure(f"Twilio did not answer the {_what(message)} in time") from None
        except requests.RequestException as exc:
            raise TransientFailure(
                f"Twilio is unreachable for the {_what(message)}: {type(exc).__name__}", unsent=_never_connected(exc)
            ) from None
        return Delivery(provider=self.provider, provider_id=sid)

    def _create(self, message: Rendered, key: str) -> str:
        if message.channel == "sms":
            created: Any = self.client.messages.create(
                to=message.to, from_=self.from_, body=message.body, status_callback=self.status_callback
            )
        else:
            created = self.client.calls.create(
                to=message.to,
                from_=self.from_,
                twiml=self.twiml_for(message, key),
                status_callback=self.status_callback,
            )
        return created.sid


def twiml_for(message: Rendered, key: str, *, public_url: str, secret: str) -> str:
    """The call's TwiML: the `say` text in the customer's language, inside a `<Gather>` when digits are wanted."""
    response = VoiceResponse()
    language = say_language(message.locale)
    if message.gather is None:
        response.say(message.body, language=language)
    else:
        claims = {"c": message.customer_id, "e": message.gather.event, "k": key}
        if message.gather.opt_out:  # these keys opt the customer out of calls instead
            claims["o"] = message.gather.opt_out
        token = secrets.sign(claims, secret)
        gather = response.gather(
            num_digits=message.gather.digits,
            action=f"{public_url.rstrip('/')}/twilio/gather/{token}",
            method="POST",
        )
        gather.say(message.body, language=language)
    return response.to_xml()


def say_language(locale: str | None) -> str:
    """The `<Say language>` for a customer locale: `fa` → `fa-IR`, `en_GB` → `en-GB`, none → `en-US`."""
    parts = [part for part in re.split(r"[-_]", locale or "") if part]
    if not parts:
        return SAY_LANGUAGES["en"]
    language = parts[0].lower()
    region = next((part.upper() for part in parts[1:] if len(part) == 2 and part.isalpha()), None)
    if region is not None:
        return f"{language}-{region}"
    return SAY_LANGUAGES.get(language, language)


def _failure(exc: Exception, message: Rendered, sender: str) -> ChannelError:
    status = getattr(exc, "status", None)
    code = getattr(exc, "code", None)
    detail = _scrub(_detail(exc), message.to, sender)
    text = f"Twilio refused the {_what(message)} (HTTP {status}, error {code}): {detail}"
    if isinstance(code, int) and code >= 10000:
        text += f" (https://www.twilio.com/docs/errors/{code})"
    if not isinstance(status, int) or status == 429 or status == 408 or status >= 500 or code == TOO_MANY_REQUESTS:
        # Twilio's own error answer means no message was created; a gateway's 502/504 may hide one that was
        return TransientFailure(text, unsent=isinstance(status, int) and status not in GATEWAY_ERRORS)
    if code == UNSUBSCRIBED:
        return PermanentFailure(text, opt_out=True)
    if 400 <= status < 500:
        return PermanentFailure(text)
    return TransientFailure(text)  # an unexpected 1xx/3xx: let the activity's bounded retries decide


def _never_connected(exc: requests.RequestException) -> bool:
    """Whether the request failed before a connection to Twilio existed (refused, no route, DNS): nothing sent."""
    reason = exc.args[0] if exc.args else None
    reason = getattr(reason, "reason", reason)  # urllib3's MaxRetryError wraps the cause
    return isinstance(exc, requests.ConnectionError) and isinstance(reason, NewConnectionError)


def _detail(exc: Exception) -> str:
    if hasattr(exc, "title"):  # TwilioServiceException
        return " - ".join(part for part in (exc.title, getattr(exc, "detail", None)) if part)
    text = str(getattr(exc, "msg", "") or "")
    return text.removeprefix("Unable to create record").lstrip(": ") or "no details"


def _scrub(text: str, *numbers: str) -> str:
    for number in numbers:
        if number:
            text = text.replace(number, "<number>")
    return _PHONE_LIKE.sub("<number>", text)


def _what(message: Rendered) -> str:
    return "SMS" if message.channel == "sms" else "call"


class _HttpClient(TwilioHttpClient):
    """twilio's requests-based client with retries off and, given `base_url`, every URL sent there instead.

    `https://api.twilio.com/2010-04-01/Accounts/AC…/Messages.json` becomes
    `{base_url}/2010-04-01/Accounts/AC…/Messages.json` (also for regional or edge hostnames).
    """

    def __init__(self, *, base_url: str | None, timeout: float) -> None:
        super().__init__(timeout=timeout, max_retries=0)
        assert self.session is not None
        for scheme in ("http://", "https://"):  # no retries for any scheme, explicitly
            self.session.mount(scheme, HTTPAdapter(max_retries=0))
        self.base_url = urlsplit(base_url.rstrip("/")) if base_url else None

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        if self.base_url is not None:
            parts = urlsplit(url)
            url = urlunsplit(
                (self.base_url.scheme, self.base_url.netloc, self.base_url.path + parts.path, parts.query, "")
            )
        return super().request(method, url, *args, **kwargs)
