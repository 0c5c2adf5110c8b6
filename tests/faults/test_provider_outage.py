"""Provider outages, for real: a real SMTP server (aiosmtpd on loopback) stopped and started again on the same
port, and the loopback fake of Twilio's REST API answering 500 and then 429, driven through the real twilio
client, with real Temporal.

What must hold, counted at the provider and in the store:
  - every message goes out once the provider is back, exactly once per message (no duplicates);
  - an attempt the provider refused sent nothing, is recorded on its row (`retried`) and
    does not count against frequency caps; the run decides the send again after the retry backoff, so a
    message delivered after an outage respects quiet hours and caps at the moment it really goes out;
  - a permanent refusal (SMTP 5xx, Twilio 21211) once the provider is back is not retried and is recorded;
  - an outage longer than the retry budget fails the step after `SEND_RETRY.maximum_attempts`, as before;
  - a failure after which the message may have gone out (no answer to DATA in time) is retried under the
    same key only, never decided again under another: every copy carries the one Message-ID.

Two Temporal flavours. Outages of seconds run on the dev server in real time (the backoff is the real
`SEND_RETRY`: 2 s, 4 s, 8 s ...). Outages across quiet hours, caps of an hour and the whole retry budget run on
the time-skipping test server: every wait between attempts is a durable workflow timer, and the outage is
switched by the test at instants of the test server's clock (`env.sleep`, `env.get_current_time`). The
test server reports a retry's backoff as time spent queued (`current_attempt_scheduled_time` is when the
attempt failed); the send activity must behave right under both readings.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from journeys.channels import outbox_only
from journeys.channels.base import TransientFailure
from journeys.channels.email import SmtpChannel
from journeys.channels.twilio import TwilioChannel
from journeys.engine.messages import Rendered
from journeys.engine.runs import RunStatus
from journeys.format.customers import Profile
from journeys.runtime.temporal import build_worker
from journeys.services.catalogue import publish
from journeys.services.enrolment import enroll
from journeys.settings import Settings
from journeys.store import Store
from journeys.store.models import MessageRow
from journeys.workflows.journey import SEND_RETRY
from tests.support.fake_twilio import FakeTwilio
from tests.support.polling import eventually

HOST = "127.0.0.1"
SENDER = "Journeys <journeys@example.com>"
pytestmark = pytest.mark.timeout(60)  # each test that needs longer says so


# --- a real SMTP server that can go down and come back on the same port --------------------------------------


@dataclass
class Mailbox:
    """aiosmtpd handler: every message accepted, by recipient and Message-ID; `refuse` answers RCPT with 550."""

    refuse: set[str] = field(default_factory=set)
    received: list[tuple[str, str]] = field(default_factory=list)  # (recipient, Message-ID)
    refused: list[str] = field(default_factory=list)  # recipients answered 550

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:  # noqa: N802
        if address in self.refuse:
            self.refused.append(address)
            return "550 5.1.1 user unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        for recipient in envelope.rcpt_tos:
            self.received.append((recipient, str(message["Message-ID"])))
        return "250 OK"

    def per_recipient(self) -> Counter[str]:
        return Counter(recipient for recipient, _ in self.received)


class SmtpServer:
    """An SMTP server on a fixed loopback port: `stop()` is the outage (connections refused), `start()` the
    recovery (a new server on the same port)."""

    def __init__(self, mailbox: Mailbox) -> None:
        self.mailbox = mailbox
        with socket.socket() as s:
            s.bind((HOST, 0))
            self.port = s.getsockname()[1]
        self.controller: Controller | None = None

    def start(self) -> None:
        assert self.controller is None
        self.controller = Controller(self.mailbox, hostname=HOST, port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def channel(self) -> SmtpChannel:
        return SmtpChannel(
            HOST, self.port, sender=SENDER, public_url="http://127.0.0.1:1", secret="s", start_tls=False, timeout=5
        )


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer(Mailbox(refuse={"nobody@example.com"}))
    yield server
    server.stop()


def twilio_channel(fake: FakeTwilio) -> TwilioChannel:
    return TwilioChannel(
        fake.account_sid, fake.auth_token, "+15005550006", public_url="http://127.0.0.1:1", secret="s",
        base_url=fake.base_url, timeout=5,
    )  # fmt: skip


# --- Temporal, the store, journeys ---------------------------------------------------------------------------


# `dev_env` (the real dev server, in real time) and `env` (the time-skipping test server: hours of backoff and
# quiet hours pass in seconds) come from tests/conftest.py, as do `store` and `settings`.


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    """The test's settings, with a definitions folder of its own that `start` writes journeys into."""
    (tmp_path / "definitions").mkdir()
    return settings.model_copy(update={"definitions": tmp_path / "definitions"})


async def start(client: Client, store: Store, settings: Settings, journey: str, customers: list[str]) -> list[str]:
    """Write the journey, enrol the customers, return their runs' workflow ids."""
    journey_id = journey.split("\n", 1)[0].removeprefix("id: ")
    path = settings.definitions / f"{journey_id}.yaml"
    path.write_text(journey, encoding="utf-8")
    enrolments = await enroll(client, store, settings, publish(path), customers)
    assert [e.status for e in enrolments] == ["started"] * len(customers)
    return [e.workflow_id for e in enrolments]


def not_sent(rows: list[MessageRow]) -> list[MessageRow]:
    """The attempts the provider refused and the run decided again."""
    return [m for m in rows if m.status == "retried"]


def sent(rows: list[MessageRow]) -> list[MessageRow]:
    return [m for m in rows if m.status == "sent"]


async def result(client: Client, workflow_id: str) -> RunStatus:
    """How the run ended (on the time-skipping server, call it once the test clock is past that end: a handle
    that was not started through `env.client` does not skip time while it waits)."""
    return await client.get_workflow_handle(workflow_id, result_type=RunStatus).result()


async def sleep_until(env: WorkflowEnvironment, at: datetime) -> None:
    """Move the time-skipping server's clock on to `at` (timers due meanwhile fire, in order)."""
    now = await env.get_current_time()
    if at > now:
        await env.sleep(at - now)


# --- channels: what an outage looks like to the activity -------------------------------------------------------


def _rendered(channel: str, to: str) -> Rendered:
    return Rendered(channel=channel, to=to, customer_id="c1", subject="Hi", body="Hello")


async def test_smtp_server_down_is_transient_and_certainly_unsent(smtp: SmtpServer) -> None:
    with pytest.raises(TransientFailure) as refused:
        await smtp.channel().send(_rendered("email", "sara@example.com"), "k#1")
    assert refused.value.unsent  # connection refused: nothing can have been handed over


async def test_silent_smtp_greeting_is_unsent_but_no_answer_to_the_message_is_maybe_sent() -> None:
    with socket.socket() as silent:  # accepts the connection, never greets: nothing was handed over
        silent.bind((HOST, 0))
        silent.listen()
        channel = SmtpChannel(
            HOST, silent.getsockname()[1], sender=SENDER, public_url="http://x", secret="s", start_tls=False, timeout=1
        )
        with pytest.raises(TransientFailure) as not_greeted:
            await channel.send(_rendered("email", "sara@example.com"), "k#1")
    assert not_greeted.value.unsent

    gave_up = threading.Event()

    class Mute(Mailbox):
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
            await asyncio.to_thread(gave_up.wait, 30)  # the message is in; the reply comes only after the client left
            return await super().handle_DATA(server, session, envelope)

    server = SmtpServer(Mute())
    server.start()
    try:
        channel = server.channel()
        channel.timeout = 1
        with pytest.raises(TransientFailure) as timed_out:
            await channel.send(_rendered("email", "sara@example.com"), "k#1")
    finally:
        gave_up.set()
        server.stop()
    assert not timed_out.value.unsent  # it may have been taken: only ever retried under the same key


@pytest.mark.parametrize(
    ("error", "status", "unsent"),
    [(500, 500, True), (503, 503, True), (20429, 429, True), (502, 502, False), (504, 504, False)],
)
async def test_twilio_error_answers_are_transient_and_unsent_unless_from_a_gateway(
    error: int, status: int, unsent: bool
) -> None:
    with FakeTwilio() as fake:
        fake.outage(error)
        with pytest.raises(TransientFailure) as refused:
            await twilio_channel(fake).send(_rendered("sms", "+989121000001"), "k#1")
        assert refused.value.unsent is unsent  # Twilio's own error answer: no message was created
        assert [r.status for r in fake.requests] == [status]


async def test_twilio_unreachable_is_unsent_and_a_read_timeout_is_not() -> None:
    with socket.socket() as s:
        s.bind((HOST, 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    nowhere = TwilioChannel("AC" + "0" * 32, "t", "+15005550006", public_url="http://x", secret="s",
                            base_url=f"http://{HOST}:{port}", timeout=2)  # fmt: skip
    with pytest.raises(TransientFailure) as refused:
        await nowhere.send(_rendered("sms", "+989121000001"), "k#1")
    assert refused.value.unsent
    with FakeTwilio() as fake:
        fake.delay("+989121000001", 3)
        slow = TwilioChannel(fake.account_sid, fake.auth_token, "+15005550006", public_url="http://x", secret="s",
                             base_url=fake.base_url, timeout=1)  # fmt: skip
        with pytest.raises(TransientFailure) as timed_out:
            await slow.send(_rendered("sms", "+989121000001"), "k#1")
        assert not timed_out.value.unsent


# --- outages of seconds, on the dev server in real time --------------------------------------------------------

WELCOME = """id: welcome
name: Welcome email, once
limits: [{channel: email, max: 1, per: 1d}]
steps:
  - id: hello
    send: email
    on_failure: end
    message: {subject: "Welcome {{ customer.name }}", text: "Hello {{ customer.name }}"}
  - {id: again, send: email, on_cap: skip, message: {subject: "Again", text: "a second email the cap must stop"}}
  - {id: done, end: done}
"""


@pytest.mark.timeout(240)
async def test_email_sent_after_smtp_server_recovers(
    dev_env: WorkflowEnvironment, store: Store, settings: Settings, smtp: SmtpServer
) -> None:
    """The SMTP server stops; five welcome emails are refused three times each (connection refused), then the
    server starts again on the same port: each goes out once, the cap of one email a day stops the second
    email, and the address the server refuses for good (550) is refused once, not retried."""
    customers = [f"c{n}" for n in range(1, 6)]
    store.upsert_customers(
        [Profile(id=c, name=f"Customer {c}", email=f"{c}@example.com") for c in ["c0", *customers]]
        + [Profile(id="gone", name="Gone", email="nobody@example.com")]  # refused for good (550)
    )
    everyone = [*customers, "gone"]
    channel = smtp.channel()
    smtp.start()
    async with build_worker(dev_env.client, settings, store, {**outbox_only(), "email": channel}):
        (before,) = await start(dev_env.client, store, settings, WELCOME, ["c0"])
        assert (await result(dev_env.client, before)).outcome == "completed"  # the server works ...
        smtp.stop()  # ... until it goes down
        down = time.monotonic()
        runs = await start(dev_env.client, store, settings, WELCOME, everyone)
        # three attempts refused for everyone (at about 0, 2 and 6 s: SEND_RETRY's backoff), then it comes back
        await eventually(
            lambda: all(len(not_sent(store.messages_of(c))) >= 3 for c in everyone),
            90,
            "3 refusals each",
            lambda: {c: [m.status for m in store.messages_of(c)] for c in everyone},
        )
        smtp.start()  # back, on the same port
        outage = time.monotonic() - down
        statuses = [await result(dev_env.client, run) for run in runs]

    mailbox = smtp.mailbox
    assert [s.outcome for s in statuses] == ["completed"] * len(customers) + ["failed"]
    assert mailbox.per_recipient() == Counter({f"{c}@example.com": 1 for c in ["c0", *customers]})  # once each
    assert mailbox.refused == ["nobody@example.com"]  # the permanent refusal once the server is back: not retried
    refusals = 0
    for customer in customers:
        rows = store.messages_of(customer)
        (delivered,) = sent(rows)
        assert delivered.step == "hello"
        assert (delivered.recipient, channel.message_id(delivered.key)) in mailbox.received  # the row that went out
        attempts = not_sent(rows)
        assert len(attempts) >= 3 and all("SMTP server unavailable" in (m.error or "") for m in attempts)
        assert {m.step for m in attempts} == {"hello"}
        assert len(rows) == len(attempts) + 1  # the second email was skipped by the cap: no row, nothing sent
        refusals += len(attempts)
    gone = store.messages_of("gone")
    assert [m.status for m in gone] == ["retried"] * (len(gone) - 1) + ["failed"]  # refused while down, then 550
    assert "550" in (gone[-1].error or "")
    assert all(m.status != "sending" for c in everyone for m in store.messages_of(c))
    print(f"\nSMTP down {outage:.1f} s; {len(customers)} emails each delivered once; {refusals} refused attempts")


TEXT = """id: code-ready
name: One SMS
limits: [{channel: sms, max: 1, per: 1d}]
steps:
  - {id: text, send: sms, message: {text: "Your code is ready, {{ customer.name }}"}}
  - {id: again, send: sms, on_cap: skip, message: {text: "a second SMS the cap must stop"}}
  - {id: done, end: done}
"""


@pytest.mark.timeout(240)
async def test_sms_sent_after_twilio_recovers_from_500s_then_429s(
    dev_env: WorkflowEnvironment, store: Store, settings: Settings
) -> None:
    """Twilio answers every request 500, then 429 (20429), then recovers: each SMS is sent once, the cap of one
    SMS a day stops the second, and an invalid number (21211) is refused once per step, never retried."""
    phones = {f"c{n}": f"+98912100000{n}" for n in range(1, 5)}
    invalid = "+15005550001"  # Twilio's 21211 once it is back: permanent
    store.upsert_customers(
        [Profile(id=c, name=f"Customer {c}", phone=p) for c, p in phones.items()]
        + [Profile(id="bad", name="Bad number", phone=invalid)]
    )
    everyone = [*phones, "bad"]
    numbers = [*phones.values(), invalid]

    def seen() -> dict[str, list[int]]:
        return {n: [r.status for r in fake.requests if r.form["To"] == n] for n in numbers}

    def answers(status: int) -> Callable[[], bool]:
        return lambda: all(
            sum(1 for r in fake.requests if r.form["To"] == n and r.status == status) >= 2 for n in numbers
        )

    with FakeTwilio() as fake:
        fake.fail(invalid, 21211)
        fake.outage(500)  # Twilio is down ...
        async with build_worker(dev_env.client, settings, store, {**outbox_only(), "sms": twilio_channel(fake)}):
            runs = await start(dev_env.client, store, settings, TEXT, everyone)
            down = time.monotonic()
            await eventually(answers(500), 90, "two 500s for every number", seen)
            fake.outage(20429)  # ... then throttles every request ...
            await eventually(answers(429), 90, "two 429s for every number", seen)
            fake.outage(None)  # ... then is back
            outage = time.monotonic() - down
            statuses = [await result(dev_env.client, run) for run in runs]
        requests = list(fake.requests)
        messages = list(fake.messages)

    assert {s.outcome for s in statuses} == {"completed"}
    assert Counter(m.form["To"] for m in messages) == Counter(phones.values())  # one SMS each, the cap held
    assert all(m.form["Body"].startswith("Your code is ready") for m in messages)
    for number in numbers:
        got = [r.status for r in requests if r.form["To"] == number]
        answered = 201 if number != invalid else 400
        # refused while Twilio was down, then throttled, then one answer; nothing after it
        assert got[-1] == answered and got.count(answered) == (1 if number != invalid else 2), got
        assert set(got) == {500, 429, answered} and got.index(429) > got.index(500)
    # the invalid number: each of the two steps refused once with 21211 after the outage, never retried
    assert [r.form["Body"][:4] for r in requests if r.form["To"] == invalid and r.status == 400] == ["Your", "a se"]
    refusals = 0
    for customer in everyone:
        rows = store.messages_of(customer)
        attempts = not_sent(rows)
        assert {m.step for m in attempts} == {"text"} and len(attempts) >= 4
        assert all("HTTP 500" in (m.error or "") or "HTTP 429" in (m.error or "") for m in attempts)
        refusals += len(attempts)
        final = [m for m in rows if m not in attempts]
        if customer == "bad":
            assert [(m.step, m.status) for m in final] == [("text", "failed"), ("again", "failed")]
            assert all("21211" in (m.error or "") for m in final)
        else:
            assert [(m.step, m.status) for m in final] == [("text", "sent")]
            assert final[0].provider_id in {m.sid for m in messages if m.form["To"] == phones[customer]}
    print(
        f"\nTwilio down {outage:.1f} s (500, then 429); {len(phones)} SMS each sent once; {refusals} refused attempts"
    )


# --- outages across quiet hours and cap windows, on the time-skipping server -----------------------------------


def clock(at: datetime) -> str:
    return at.strftime("%H:%M")


def receipt_journey(extra: str) -> str:
    return f"""id: receipt
name: Receipt email
timezone: UTC
{extra}
steps:
  - {{id: receipt, send: email, on_failure: end, message: {{subject: "Your receipt", text: "Thank you"}}}}
  - {{id: done, end: done}}
"""


@pytest.mark.timeout(120)
async def test_email_refused_into_quiet_hours_goes_out_when_they_end_not_at_recovery(
    env: WorkflowEnvironment, store: Store, settings: Settings, smtp: SmtpServer
) -> None:
    """The receipt is decided ten minutes before quiet hours, with SMTP down; the outage runs into quiet hours
    and SMTP comes back in the middle of them. The receipt goes out when quiet hours end, not at recovery."""
    t0 = await env.get_current_time()
    quiet_start = (t0 + timedelta(minutes=10)).replace(second=0, microsecond=0)  # 9 to 10 minutes from now
    quiet_end = quiet_start + timedelta(hours=2)
    journey = receipt_journey(f'quiet_hours: {{start: "{clock(quiet_start)}", end: "{clock(quiet_end)}"}}')
    store.upsert_customers([Profile(id="c1", name="Sara", email="sara@example.com")])
    async with build_worker(env.client, settings, store, {**outbox_only(), "email": smtp.channel()}):
        (run,) = await start(env.client, store, settings, journey, ["c1"])  # decided before quiet hours: SMTP down
        await env.sleep(timedelta(minutes=30))  # the outage runs on into quiet hours
        recovery = await env.get_current_time()
        assert quiet_start <= recovery < quiet_end
        smtp.start()  # back, in the middle of quiet hours
        await env.sleep(timedelta(minutes=60))
        assert smtp.mailbox.received == []  # nothing went out at recovery, nor in the hour after it
        await sleep_until(env, quiet_end + timedelta(minutes=1))
        status = await result(env.client, run)

    assert status.outcome == "completed"
    assert smtp.mailbox.per_recipient() == Counter({"sara@example.com": 1})
    rows = store.messages_of("c1")
    attempts = not_sent(rows)
    (delivered,) = sent(rows)
    assert len(rows) == len(attempts) + 1
    assert all(m.created_at < quiet_start for m in attempts)  # every refused attempt was decided outside quiet hours
    assert quiet_end <= delivered.created_at < quiet_end + timedelta(minutes=1)  # decided, and sent, when they ended
    # attempts at 0, 2, 6, 14, 30, 62, 126, 254 and 510 s; the decision after 1022 s fell inside quiet hours
    assert len(attempts) == 9
    print(
        f"\nSMTP down {recovery - t0} by the test clock, into quiet hours at {clock(quiet_start)}; back at "
        f"{clock(recovery)}; sent at {clock(delivered.created_at)}, once; {len(attempts)} refused attempts"
    )


CAP = "limits: [{channel: any, max: 1, per: 1h}]"  # one message an hour, any channel, for both journeys
PROMO = """id: promo
name: Promotion by SMS
limits: [{channel: any, max: 1, per: 1h}]
steps:
  - {id: offer, send: sms, message: {text: "20% off today"}}
  - {id: done, end: done}
"""


@pytest.mark.timeout(120)
async def test_email_refused_while_another_journey_sends_waits_for_the_cap_after_recovery(
    env: WorkflowEnvironment, store: Store, settings: Settings, smtp: SmtpServer
) -> None:
    """At most one message an hour, any channel. The receipt email is refused for an hour; meanwhile an SMS
    of another journey goes out; SMTP comes back two minutes later. Sent then, the receipt would be the
    second message within the hour: it goes out an hour after the SMS instead."""
    store.upsert_customers([Profile(id="c1", name="Sara", email="sara@example.com", phone="+989121000001")])
    t0 = await env.get_current_time()
    with FakeTwilio() as fake:
        channels = {**outbox_only(), "email": smtp.channel(), "sms": twilio_channel(fake)}
        async with build_worker(env.client, settings, store, channels):
            (receipt,) = await start(env.client, store, settings, receipt_journey(CAP), ["c1"])  # SMTP down
            await sleep_until(env, t0 + timedelta(minutes=61))
            (promo,) = await start(env.client, store, settings, PROMO, ["c1"])
            assert (await result(env.client, promo)).outcome == "completed"
            (sms,) = sent([m for m in store.messages_of("c1") if m.channel == "sms"])
            await sleep_until(env, t0 + timedelta(minutes=63))
            smtp.start()  # back; the last email went out never, the last SMS two minutes ago
            await sleep_until(env, sms.created_at + timedelta(minutes=59))
            assert smtp.mailbox.received == []  # not at recovery: the hour since the SMS is not over
            await sleep_until(env, sms.created_at + timedelta(minutes=61))
            assert (await result(env.client, receipt)).outcome == "completed"
        assert len(fake.messages) == 1

    assert smtp.mailbox.per_recipient() == Counter({"sara@example.com": 1})
    rows = store.messages_of("c1")
    (email_sent,) = sent([m for m in rows if m.channel == "email"])
    attempts = not_sent(rows)
    assert len(rows) == len(attempts) + 2 and all(m.created_at < sms.created_at for m in attempts)
    assert sms.created_at + timedelta(hours=1) <= email_sent.created_at < sms.created_at + timedelta(minutes=61)
    print(
        f"\nSMTP down 63 min by the test clock; SMS at +{sms.created_at - t0}, email at +{email_sent.created_at - t0}"
        f" (cap 1/h held); {len(attempts)} refused attempts; 1 email, 1 SMS received"
    )


@pytest.mark.timeout(120)
async def test_smtp_down_longer_than_the_retry_budget_fails_the_step_after_the_last_attempt(
    env: WorkflowEnvironment, store: Store, settings: Settings, smtp: SmtpServer
) -> None:
    """SMTP never comes back: the receipt is tried 20 times over the backoffs of SEND_RETRY (as when the activity
    retried it), then the step fails and `on_failure: end` ends the run."""
    store.upsert_customers([Profile(id="c1", name="Sara", email="sara@example.com")])
    t0 = await env.get_current_time()
    # the backoffs between SEND_RETRY's 20 attempts: 2 s, 4 s, ... 512 s, then 600 s ten times (1 h 57 min)
    backoffs = [SEND_RETRY.initial_interval * SEND_RETRY.backoff_coefficient**n for n in range(19)]
    budget = sum((min(b, SEND_RETRY.maximum_interval or b) for b in backoffs), timedelta(0))
    async with build_worker(env.client, settings, store, {**outbox_only(), "email": smtp.channel()}):
        (run,) = await start(env.client, store, settings, receipt_journey(""), ["c1"])  # SMTP down, for good
        await sleep_until(env, t0 + budget - timedelta(minutes=1))
        assert (await env.client.get_workflow_handle(run).query("status", result_type=RunStatus)).outcome == "running"
        await sleep_until(env, t0 + budget + timedelta(minutes=1))
        status = await result(env.client, run)

    assert (status.outcome, status.current_step) == ("failed", None)  # on_failure: end
    rows = store.messages_of("c1")
    assert len(rows) == SEND_RETRY.maximum_attempts == 20
    assert len(not_sent(rows)) == 19 and rows[-1].status == "failed"
    assert (rows[-1].error or "").startswith("not sent after 20 attempts: SMTP server unavailable")
    assert t0 + budget <= rows[-1].created_at < t0 + budget + timedelta(seconds=30)
    assert smtp.mailbox.received == []
    print(f"\nSMTP down for good: 20 attempts over {rows[-1].created_at - t0} by the test clock, then the step failed")


class Mute(Mailbox):
    """Takes the message, then answers DATA only after `delay` seconds for the first `times` messages: the
    client has given up by then, not knowing the message went in (the ambiguous case of every provider)."""

    def __init__(self, delay: float, times: int) -> None:
        super().__init__()
        self.delay, self.times = delay, times

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        answer = await super().handle_DATA(server, session, envelope)
        if len(self.received) <= self.times:
            await asyncio.sleep(self.delay)
        return answer


@pytest.mark.timeout(120)
async def test_email_that_may_have_gone_out_is_retried_under_its_key_only(
    env: WorkflowEnvironment, store: Store, settings: Settings
) -> None:
    """SMTP times out waiting for the answer to the message eight times (it took the message each time), then
    answers. Retries later than a minute after they were scheduled (the backoff passes 1 min at the 7th) must
    not decide the send again under a new key: every copy the server got carries the one Message-ID."""
    server = SmtpServer(Mute(delay=2, times=8))
    server.start()
    store.upsert_customers([Profile(id="c1", name="Sara", email="sara@example.com")])
    channel = server.channel()
    channel.timeout = 1
    try:
        async with build_worker(env.client, settings, store, {**outbox_only(), "email": channel}):
            (run,) = await start(env.client, store, settings, receipt_journey(""), ["c1"])
            t0 = await env.get_current_time()
            for _ in range(60):  # the test clock on, a minute at a time, until the run ends
                await env.sleep(timedelta(minutes=1))
                status = await env.client.get_workflow_handle(run).query("status", result_type=RunStatus)
                if status.outcome != "running":
                    break
            took = await env.get_current_time() - t0
    finally:
        server.stop()

    assert status.outcome == "completed"
    (row,) = store.messages_of("c1")  # one send, one key: never decided again while it may have gone out
    assert (row.key, row.status) == (f"{run}#1", "sent")
    ids = {message_id for _, message_id in server.mailbox.received}
    assert ids == {channel.message_id(row.key)}  # 9 copies, one Message-ID: the receiving side drops 8
    assert len(server.mailbox.received) == 9
    print(f"\nSMTP answered too late 8 times ({took} by the test clock): 9 copies, 1 Message-ID, 1 row")
