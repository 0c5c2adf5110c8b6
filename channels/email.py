"""Email over SMTP: one multipart/alternative message per send, with one-click unsubscribe.

Configured by `JOURNEYS_SMTP_URL`:

    smtp://user:pass@host:587                  STARTTLS when the server offers it (the default, `?starttls=auto`)
    smtp://host:25?starttls=require            refuse to send in clear text; `?starttls=off` never upgrades
    smtps://user:pass@host:465                 implicit TLS
    …?tls_verify=off                           accept any certificate (a local test server; never in production)

User and password are percent-decoded. How SMTP failures map onto the channel errors (`channels.base`):

    5xx to MAIL FROM, RCPT TO or DATA     PermanentFailure  (550 user unknown: retrying cannot help)
    4xx anywhere, timeouts, refused or    TransientFailure  (retried by the activity)
    dropped connections, TLS errors
    AUTH, HELO or STARTTLS problems,      TransientFailure  (the configuration is wrong, not the message:
    530 authentication/TLS required                         retrying gives the operator time to fix it)

A transient failure is `unsent` (the server certainly did not take the message) when the server replied
with a refusal or could not be connected to; a timeout, a dropped connection or a TLS error may come after
the message was handed over, so those are not.

Error messages (and so logs) carry SMTP codes and the server's text with addresses blanked out, never the
recipient's address.
"""

from __future__ import annotations

import email.utils
import hashlib
import re
from email.message import EmailMessage
from email.policy import EmailPolicy
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib

from journeys import secrets
from journeys.channels.base import Delivery, PermanentFailure, TransientFailure
from journeys.engine.messages import Rendered
from journeys.errors import JourneysError
from journeys.settings import Settings

_UNFOLDED = frozenset({"list-unsubscribe"})
_ADDRESS = re.compile(r"[^\s<>()\[\]\"',;:]+@[^\s<>()\[\]\"',;:]+")


class SmtpConfigError(JourneysError):
    """`JOURNEYS_SMTP_URL` cannot be used as it stands."""


class _MailPolicy(EmailPolicy):
    """The SMTP policy, except that List-Unsubscribe is folded between its URIs and never RFC 2047-encoded.

    The email package encodes any word longer than a line, and an unsubscribe URI with its token is one:
    mail clients do not decode that header, so the links must stay literal (RFC 2369).
    """

    def fold(self, name: str, value: str) -> str:
        if name.lower() in _UNFOLDED:
            return _fold_uris(name, str(value), self.linesep)
        return super().fold(name, value)

    def fold_binary(self, name: str, value: str) -> bytes:
        if name.lower() in _UNFOLDED:
            return _fold_uris(name, str(value), self.linesep).encode("ascii")
        return super().fold_binary(name, value)


def _fold_uris(name: str, value: str, linesep: str) -> str:
    parts = re.split(r"(?<=>)\s*,\s*", value.strip())
    return f"{name}: " + f",{linesep} ".join(parts) + linesep


# 7bit: every part goes out quoted-printable or base64, so no server needs 8BITMIME.
POLICY = _MailPolicy(linesep="\r\n", cte_type="7bit")


class SmtpChannel:
    """Delivers email through one SMTP server (`aiosmtplib`), one connection per message."""

    provider = "smtp"

    def __init__(
        self,
        host: str,
        port: int | None = None,
        *,
        sender: str,
        public_url: str,
        secret: str,
        username: str | None = None,
        password: str | None = None,
        use_tls: bool = False,
        start_tls: bool | None = None,
        validate_certs: bool = True,
        timeout: float = 30.0,
    ) -> None:
        """`start_tls`: None upgrades when the server offers STARTTLS, True requires it, False never upgrades.

        `port` None is the usual one: 465 with `use_tls`, 587 with `start_tls=True`, else 25.
        """
        if use_tls and start_tls:
            raise SmtpConfigError("implicit TLS (smtps) and STARTTLS exclude each other")
        self.host = host
        self.port = port
        self.sender = sender
        self.public_url = public_url.rstrip("/")
        self.secret = secret
        self.username = username
        self.password = password
        self.use_tls = use_tls
        self.start_tls = False if use_tls else start_tls
        self.validate_certs = validate_certs
        self.timeout = timeout
        self.envelope_from, self.domain = _sender_parts(sender)

    @classmethod
    def from_url(cls, url: str, *, sender: str, public_url: str, secret: str, timeout: float = 30.0) -> SmtpChannel:
        """A channel for `smtp://user:pass@host:port?starttls=auto|require|off&tls_verify=on|off` or `smtps://…`."""
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise SmtpConfigError("the SMTP URL must look like smtp://user:pass@host:port or smtps://…")
        query = {key: values[-1].lower() for key, values in parse_qs(parts.query).items()}
        starttls = {"auto": None, "require": True, "off": False}
        if query.get("starttls", "auto") not in starttls:
            raise SmtpConfigError("starttls in the SMTP URL must be require, auto or off")
        if query.get("tls_verify", "on") not in ("on", "off"):
            raise SmtpConfigError("tls_verify in the SMTP URL must be on or off")
        try:
            port = parts.port
        except ValueError:
            raise SmtpConfigError("the port in the SMTP URL is not a number") from None
        use_tls = parts.scheme == "smtps"
        if use_tls and query.get("starttls") == "require":
            raise SmtpConfigError("smtps:// is implicit TLS: starttls=require does not apply")
        return cls(
            parts.hostname,
            port,
            sender=sender,
            public_url=public_url,
            secret=secret,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password is not None else None,
            use_tls=use_tls,
            start_tls=starttls[query.get("starttls", "auto")],
            validate_certs=query.get("tls_verify", "on") == "on",
            timeout=timeout,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpChannel | None:
        """The configured channel, or None when `smtp_url` is unset (email then goes to the outbox)."""
        if not settings.smtp_url:
            return None
        return cls.from_url(
            settings.smtp_url,
            sender=settings.email_from,
            public_url=settings.public_url,
            secret=settings.signing_secret(),
        )

    def message_id(self, key: str) -> str:
        """The Message-ID of the send with this idempotency key: the same on every retry."""
        return f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@{self.domain}>"

    def unsubscribe_token(self, customer_id: str) -> str:
        return secrets.sign({"c": customer_id, "ch": "email"}, self.secret)

    def build(self, message: Rendered, key: str) -> EmailMessage:
        """The MIME message for one send: text and HTML alternatives, RFC 8058 one-click unsubscribe."""
        mail = EmailMessage(policy=POLICY)
        mail["Subject"] = " ".join((message.subject or "").split())  # a header is one line
        mail["From"] = self.sender
        mail["To"] = message.to
        mail["Date"] = email.utils.formatdate(usegmt=True)
        mail["Message-ID"] = self.message_id(key)
        token = self.unsubscribe_token(message.customer_id)
        mail["List-Unsubscribe"] = (
            f"<mailto:unsubscribe@{self.domain}?subject=unsubscribe-{token}>, <{self.public_url}/unsubscribe/{token}>"
        )
        mail["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        mail.set_content(message.body, charset="utf-8")
        if message.html is not None:
            mail.add_alternative(message.html, subtype="html", charset="utf-8")
        return mail

    async def send(self, message: Rendered, key: str) -> Delivery:
        try:
            mail = self.build(message, key)
            raw = mail.as_bytes(policy=POLICY)
        except ValueError:  # a line break or worse in the address; the error would quote it
            raise PermanentFailure("the recipient's address cannot be put in a message") from None
        message_id = mail["Message-ID"]
        options: dict[str, Any] = {
            "sender": self.envelope_from,
            "recipients": [_envelope_address(message.to)],
            "hostname": self.host,
            "port": self.port,
            "username": self.username,
            "password": self.password,
            "use_tls": self.use_tls,
            "start_tls": self.start_tls,
            "validate_certs": self.validate_certs,
            "timeout": self.timeout,
        }
        try:
            await aiosmtplib.send(raw, **options)
        except (aiosmtplib.SMTPException, OSError, ValueError) as exc:
            raise classify(exc) from None  # logged by `channels.Logged`, with the key
        return Delivery(provider=self.provider, provider_id=message_id)


def classify(exc: BaseException) -> PermanentFailure | TransientFailure:
    """The channel error for what `aiosmtplib.send` raised; its message never holds an address."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        refusals = [_reply(r.code, r.message) for r in exc.recipients]
        text = f"recipient refused: {'; '.join(refusals)}"
        if exc.recipients and all(r.code >= 500 for r in exc.recipients):
            return PermanentFailure(text)
        return TransientFailure(text, unsent=True)
    if isinstance(exc, aiosmtplib.SMTPRecipientRefused | aiosmtplib.SMTPSenderRefused | aiosmtplib.SMTPDataError):
        what = {
            aiosmtplib.SMTPRecipientRefused: "recipient refused",
            aiosmtplib.SMTPSenderRefused: "sender refused",
            aiosmtplib.SMTPDataError: "message refused",
        }[type(exc)]
        text = f"{what}: {_reply(exc.code, exc.message)}"
        if exc.code == 530:  # authentication or TLS required (RFC 4954, 3207): the configuration, not the message
            return TransientFailure(
                f"SMTP server wants authentication or TLS first: {_reply(exc.code, exc.message)}", unsent=True
            )
        return PermanentFailure(text) if exc.code >= 500 else TransientFailure(text, unsent=True)
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        return TransientFailure(f"SMTP authentication failed: {_reply(exc.code, exc.message)}", unsent=True)
    if isinstance(exc, aiosmtplib.SMTPConnectTimeoutError):  # never connected: nothing was handed over
        return TransientFailure("SMTP server unavailable: connecting timed out", unsent=True)
    if isinstance(exc, aiosmtplib.SMTPTimeoutError | TimeoutError):
        return TransientFailure("SMTP server timed out")
    if isinstance(exc, aiosmtplib.SMTPResponseException):  # 421 and the like, to the greeting, HELO, ...
        return TransientFailure(f"SMTP server refused: {_reply(exc.code, exc.message)}", unsent=True)
    if isinstance(exc, aiosmtplib.SMTPConnectError | aiosmtplib.SMTPNotSupported | ConnectionRefusedError):
        # nobody listening, or a server that cannot do what the URL asks (STARTTLS): before any message
        return TransientFailure(f"SMTP server unavailable: {_redact(_message(exc))}", unsent=True)
    if isinstance(exc, aiosmtplib.SMTPException | OSError):
        # not connected, disconnected, TLS failures, STARTTLS/AUTH not offered: the server or its configuration
        return TransientFailure(f"SMTP server unavailable: {_redact(_message(exc))}")
    return PermanentFailure("the recipient's address cannot be sent to")  # ValueError: a malformed address


def _reply(code: int, text: str) -> str:
    return f"{code} {_redact(text)}".strip()


def _message(exc: BaseException) -> str:
    return str(getattr(exc, "message", "") or exc) or type(exc).__name__


def _redact(text: str) -> str:
    return _ADDRESS.sub("[address]", " ".join(text.split()))


def _envelope_address(value: str) -> str:
    _, addr = email.utils.parseaddr(value)
    return addr or value


def _sender_parts(sender: str) -> tuple[str, str]:
    """The envelope address and the (ASCII) domain of `email_from`, which may carry a display name."""
    _, addr = email.utils.parseaddr(sender)
    if "@" not in addr:
        raise SmtpConfigError("email_from must be an address, optionally with a display name: Name <a@b.c>")
    domain = addr.rpartition("@")[2]
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        raise SmtpConfigError("the domain of email_from is not a valid domain name") from None
    return addr, domain.lower()
