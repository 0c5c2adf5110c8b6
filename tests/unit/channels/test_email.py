"""The SMTP channel against a real SMTP server (aiosmtpd) on loopback: what arrives, and how refusals map."""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
import shutil
import socket
import ssl
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from journeys import secrets
from journeys.channels.base import Delivery, PermanentFailure, TransientFailure
from journeys.channels.email import SmtpChannel, SmtpConfigError
from journeys.engine.messages import Rendered, email_html
from journeys.settings import Settings

SECRET = "test-secret"
PUBLIC_URL = "http://journeys.test:8080"
SENDER = "Journeys <news@example.org>"
PERSIAN_SUBJECT = "تعویض رایگان مودم وایمکس به TD-LTE — همین امروز ثبت‌نام کنید"
PERSIAN_SENDER = "همراه‌نت <no-reply@example.ir>"
USER, PASSWORD = "mailer", "p@ss word:1"


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes

    @property
    def message(self) -> EmailMessage:
        return email.message_from_bytes(self.raw, policy=email.policy.default)  # type: ignore[return-value]


@dataclass
class Recorder:
    """An aiosmtpd handler that keeps every message and answers RCPT or DATA as told for some recipients."""

    rcpt_replies: dict[str, str] = field(default_factory=dict)
    data_replies: dict[str, str] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]) -> str:
        if address in self.rcpt_replies:
            return self.rcpt_replies[address].format(address=address)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        for address in envelope.rcpt_tos:
            if address in self.data_replies:
                return self.data_replies[address].format(address=address)
        raw = envelope.original_content or envelope.content
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), raw))
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def start_server() -> Iterator[Callable[..., tuple[Recorder, int]]]:
    """Starts an aiosmtpd server on loopback (keyword arguments go to its Controller); stopped after the test."""
    controllers: list[Controller] = []

    def start(recorder: Recorder | None = None, **kwargs: Any) -> tuple[Recorder, int]:
        recorder = recorder or Recorder()
        port = free_port()
        controller = Controller(recorder, hostname="127.0.0.1", port=port, **kwargs)
        controller.start()
        controllers.append(controller)
        return recorder, port

    yield start
    for controller in controllers:
        controller.stop()


@pytest.fixture(scope="session")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A throwaway certificate and key for 127.0.0.1 (made with the openssl command)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("no openssl command to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"]
        + ["-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"]
        + ["-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    return cert, key


def server_tls(self_signed: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*self_signed)
    return context


def channel(port: int, *, url: str | None = None, sender: str = SENDER, timeout: float = 5.0) -> SmtpChannel:
    return SmtpChannel.from_url(
        url or f"smtp://127.0.0.1:{port}", sender=sender, public_url=PUBLIC_URL, secret=SECRET, timeout=timeout
    )


def english(to: str = "ann@example.com", customer_id: str = "c-1") -> Rendered:
    return Rendered(
        channel="email",
        to=to,
        customer_id=customer_id,
        subject="Your new modem",
        body="Hello Ann,\n\nRegister for your free modem.",
        html=email_html("<p>Hello Ann,</p><p>Register for your free modem.</p>", "en"),
        locale="en",
    )


def persian(to: str = "reza@example.ir", customer_id: str = "c-fa") -> Rendered:
    return Rendered(
        channel="email",
        to=to,
        customer_id=customer_id,
        subject=PERSIAN_SUBJECT,
        body="رضا جان سلام،\n\nبرای مودم رایگان ثبت‌نام کنید.",
        html=email_html("<p>رضا جان سلام،</p><p>برای مودم رایگان ثبت‌نام کنید.</p>", "fa"),
        locale="fa",
    )


def unsubscribe_links(raw: bytes) -> list[str]:
    header = email.message_from_bytes(raw, policy=email.policy.compat32)["List-Unsubscribe"]  # undecoded
    return re.findall(r"<([^>]+)>", header)


async def test_smtp_channel_sends_multipart_alternative(start_server: Callable[..., tuple[Recorder, int]]) -> None:
    server, port = start_server()

    delivery = await channel(port).send(english(), "journey:modem-swap:c-1:1#0")

    [received] = server.received
    assert received.mail_from == "news@example.org"
    assert received.rcpt_tos == ["ann@example.com"]
    message = received.message
    assert message.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in message.iter_parts()] == ["text/plain", "text/html"]
    text, html = (part.get_content().replace("\r\n", "\n") for part in message.iter_parts())
    assert text.strip() == "Hello Ann,\n\nRegister for your free modem."
    assert "<p>Register for your free modem.</p>" in html
    assert message["To"] == "ann@example.com"
    assert message["From"].addresses[0].display_name == "Journeys"
    assert message["Date"].datetime is not None
    assert delivery == Delivery(provider="smtp", provider_id=message["Message-ID"])


async def test_smtp_channel_persian_message_round_trips(start_server: Callable[..., tuple[Recorder, int]]) -> None:
    server, port = start_server()

    await channel(port, sender=PERSIAN_SENDER).send(persian(), "k")

    [received] = server.received
    received.raw.decode("ascii")  # 7-bit clean: no server needs 8BITMIME or SMTPUTF8
    assert b"=?utf-8?" in received.raw  # the subject and display name are RFC 2047 encoded words
    message = received.message
    assert message["Subject"] == PERSIAN_SUBJECT
    assert message["From"].addresses[0].display_name == "همراه‌نت"
    assert message["From"].addresses[0].addr_spec == "no-reply@example.ir"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "برای مودم رایگان ثبت‌نام کنید." in text
    assert 'dir="rtl"' in html and 'lang="fa"' in html
    assert "برای مودم رایگان ثبت‌نام کنید." in html


async def test_smtp_channel_message_id_is_stable_per_key(start_server: Callable[..., tuple[Recorder, int]]) -> None:
    server, port = start_server()
    smtp = channel(port)

    first = await smtp.send(english(), "journey:modem-swap:c-1:1#3")
    again = await smtp.send(english(), "journey:modem-swap:c-1:1#3")
    other = await smtp.send(english(), "journey:modem-swap:c-1:1#4")

    ids = [received.message["Message-ID"] for received in server.received]
    assert ids == [first.provider_id, again.provider_id, other.provider_id]
    assert ids[0] == ids[1] != ids[2]
    assert re.fullmatch(r"<[0-9a-f]{32}@example\.org>", ids[0])
    assert "modem-swap" not in ids[0]


async def test_smtp_channel_one_click_unsubscribe_links_carry_the_customer(
    start_server: Callable[..., tuple[Recorder, int]],
) -> None:
    server, port = start_server()

    await channel(port).send(english(customer_id="customer-000042"), "k")

    [received] = server.received
    assert b"List-Unsubscribe: <mailto:" in received.raw  # literal URIs, not RFC 2047 encoded
    mailto, https = unsubscribe_links(received.raw)
    mail_token = re.fullmatch(r"mailto:unsubscribe@example\.org\?subject=unsubscribe-(\S+)", mailto).group(1)
    link_token = re.fullmatch(re.escape(PUBLIC_URL) + r"/unsubscribe/(\S+)", https).group(1)
    assert mail_token == link_token
    assert secrets.verify(link_token, SECRET) == {"c": "customer-000042", "ch": "email"}
    assert secrets.verify(link_token, "another-secret") is None
    assert received.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert all(len(line) <= 998 for line in received.raw.split(b"\r\n"))


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
async def test_smtp_channel_authenticates_with_url_credentials(
    start_server: Callable[..., tuple[Recorder, int]],
) -> None:
    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and auth_data == (USER.encode(), PASSWORD.encode())
        return AuthResult(success=ok, handled=False)  # handled=False: the server answers 535

    server, port = start_server(authenticator=authenticator, auth_required=True, auth_require_tls=False)
    good = f"smtp://{USER}:p%40ss%20word%3A1@127.0.0.1:{port}?starttls=off"

    await channel(port, url=good).send(english(), "k")

    assert len(server.received) == 1
    with pytest.raises(TransientFailure, match="535"):
        await channel(port, url=f"smtp://{USER}:wrong@127.0.0.1:{port}").send(english(), "k")
    with pytest.raises(TransientFailure, match="530"):  # no credentials configured: fix the config, then retry
        await channel(port).send(english(), "k")
    assert len(server.received) == 1


@pytest.mark.parametrize(
    ("stage", "reply", "failure"),
    [
        ("rcpt", "550 5.1.1 <{address}>: User unknown", PermanentFailure),
        ("rcpt", "451 4.3.0 <{address}>: Try again later", TransientFailure),
        ("data", "554 5.6.0 Message for <{address}> rejected", PermanentFailure),
        ("data", "452 4.3.1 Insufficient system storage", TransientFailure),
    ],
)
async def test_smtp_channel_classifies_refusals(
    start_server: Callable[..., tuple[Recorder, int]], stage: str, reply: str, failure: type[Exception]
) -> None:
    refused = "bounce.me@example.com"
    recorder = Recorder(**{f"{stage}_replies": {refused: reply}})
    server, port = start_server(recorder)

    with pytest.raises(failure) as caught:
        await channel(port).send(english(to=refused), "k")

    assert reply[:3] in str(caught.value)
    assert "bounce.me" not in str(caught.value) and "example.com" not in str(caught.value)
    assert server.received == []
    await channel(port).send(english(to="ann@example.com"), "k")  # others still go through
    assert len(server.received) == 1


async def test_smtp_channel_unknown_user_is_not_opt_out(start_server: Callable[..., tuple[Recorder, int]]) -> None:
    _, port = start_server(Recorder(rcpt_replies={"gone@example.com": "550 5.1.1 User unknown"}))

    with pytest.raises(PermanentFailure) as caught:
        await channel(port).send(english(to="gone@example.com"), "k")

    assert caught.value.opt_out is False
    assert "User unknown" in str(caught.value)


async def test_smtp_channel_server_down_is_transient() -> None:
    port = free_port()  # nothing listens there

    with pytest.raises(TransientFailure) as caught:
        await channel(port).send(english(to="ann@example.com"), "k")

    assert "ann@example.com" not in str(caught.value)


async def test_smtp_channel_silent_server_is_transient() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # accepts the connection, never greets
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        with pytest.raises(TransientFailure, match="timed out"):
            await channel(port, timeout=0.5).send(english(), "k")
    finally:
        server.close()


async def test_smtp_channel_server_hanging_up_is_transient() -> None:
    async def rude(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 hello\r\n")
        await writer.drain()
        await reader.readline()
        writer.close()  # hangs up after EHLO

    server = await asyncio.start_server(rude, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        with pytest.raises(TransientFailure):
            await channel(port).send(english(), "k")
    finally:
        server.close()


async def test_smtp_channel_starttls_with_self_signed_certificate(
    start_server: Callable[..., tuple[Recorder, int]], self_signed: tuple[Path, Path]
) -> None:
    server, port = start_server(tls_context=server_tls(self_signed), require_starttls=True)

    await channel(port, url=f"smtp://127.0.0.1:{port}?starttls=require&tls_verify=off").send(persian(), "k")
    await channel(port, url=f"smtp://127.0.0.1:{port}?tls_verify=off").send(persian(), "k")  # auto upgrades

    assert [received.message["Subject"] for received in server.received] == [PERSIAN_SUBJECT] * 2
    with pytest.raises(TransientFailure):  # the certificate is not trusted unless told otherwise
        await channel(port, url=f"smtp://127.0.0.1:{port}?starttls=require").send(persian(), "k")
    with pytest.raises(TransientFailure, match="530"):  # the server requires TLS; the URL forbids it
        await channel(port, url=f"smtp://127.0.0.1:{port}?starttls=off").send(persian(), "k")
    assert len(server.received) == 2


async def test_smtp_channel_implicit_tls(
    start_server: Callable[..., tuple[Recorder, int]], self_signed: tuple[Path, Path]
) -> None:
    server, port = start_server(ssl_context=server_tls(self_signed))

    await channel(port, url=f"smtps://127.0.0.1:{port}?tls_verify=off").send(english(), "k")

    assert len(server.received) == 1


def test_smtp_channel_from_settings_reads_the_url(tmp_path: Path) -> None:
    settings = Settings(
        smtp_url="smtps://me%40example.org:s%2Fcr%23t@mail.example.org:2465?tls_verify=off",
        email_from="همراه‌نت <no-reply@Example.IR>",
        public_url="https://journeys.example.org/",
        secret="s",
        data_dir=tmp_path,
    )

    smtp = SmtpChannel.from_settings(settings)

    assert smtp is not None
    assert (smtp.host, smtp.port, smtp.username, smtp.password) == (
        "mail.example.org",
        2465,
        "me@example.org",
        "s/cr#t",
    )
    assert (smtp.use_tls, smtp.start_tls, smtp.validate_certs) == (True, False, False)
    assert (smtp.envelope_from, smtp.domain, smtp.public_url) == (
        "no-reply@Example.IR",
        "example.ir",
        "https://journeys.example.org",
    )
    assert SmtpChannel.from_settings(Settings(smtp_url=None, data_dir=tmp_path)) is None


@pytest.mark.parametrize(
    ("url", "start_tls"),
    [("smtp://h", None), ("smtp://h?starttls=require", True), ("smtp://h?starttls=off", False)],
)
def test_smtp_channel_from_url_starttls_modes(url: str, start_tls: bool | None) -> None:
    smtp = SmtpChannel.from_url(url, sender=SENDER, public_url=PUBLIC_URL, secret=SECRET)

    assert (smtp.host, smtp.port, smtp.username, smtp.use_tls, smtp.start_tls) == ("h", None, None, False, start_tls)


@pytest.mark.parametrize(
    "url",
    [
        "http://h",
        "smtp://",
        "smtp://h?starttls=maybe",
        "smtp://h?tls_verify=no",
        "smtps://h?starttls=require",
        "smtp://h:port",
    ],
)
def test_smtp_channel_from_url_rejects_bad_urls(url: str) -> None:
    with pytest.raises(SmtpConfigError):
        SmtpChannel.from_url(url, sender=SENDER, public_url=PUBLIC_URL, secret=SECRET)


def test_smtp_channel_rejects_a_sender_without_address() -> None:
    with pytest.raises(SmtpConfigError):
        SmtpChannel("h", sender="Journeys", public_url=PUBLIC_URL, secret=SECRET)


@pytest.mark.parametrize("to", ["zorro@example.com\nBcc: xerxes@example.com", "zorro xerxes@example.com"])
async def test_smtp_channel_malformed_address_is_permanent(
    start_server: Callable[..., tuple[Recorder, int]], to: str
) -> None:
    server, port = start_server()

    with pytest.raises(PermanentFailure) as caught:
        await channel(port).send(english(to=to), "k")

    assert "zorro" not in str(caught.value) and "xerxes" not in str(caught.value)
    assert server.received == []


async def test_smtp_channel_subject_line_breaks_are_folded(start_server: Callable[..., tuple[Recorder, int]]) -> None:
    server, port = start_server()

    await channel(port).send(english().model_copy(update={"subject": "Your new\nmodem"}), "k")

    assert server.received[0].message["Subject"] == "Your new modem"
