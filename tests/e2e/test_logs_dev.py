"""No personal data in logs: every line a real `journeys dev` wrote during a run with sends that succeed, fail
and are retried with provider errors quoting the recipient, inbound webhooks accepted and refused, at DEBUG level."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from journeys import secrets
from journeys.settings import Settings
from tests.support.devserver import JOURNEYS, Dev, smtp_server
from tests.support.fake_twilio import FakeTwilio
from tests.support.polling import until

PEOPLE = {
    # id: (name, email, phone as written in the CSV, E.164)
    "c1": ("Shirin Zandvakili", "shirin.zandvakili@example.com", "0912 100 0001", "+989121000001"),
    "c2": ("Kourosh Barzegari", "kourosh.barzegari@example.com", "+98 912 100 0002", "+989121000002"),
    "c3": ("Golnaz Tavakkoli", "golnaz.tavakkoli@example.com", "۰۹۱۲۱۰۰۰۰۰۳", "+989121000003"),
    "c4": ("Behrouz Esfandiari", "behrouz.esfandiari@example.com", "(0912) 100-0004", "+989121000004"),
    "c5": ("فرزانه یزدان‌پناه", "farzaneh.yazdanpanah@example.com", "٠٩١٢١٠٠٠٠٠٥", "+989121000005"),
}
BOUNCES = "kourosh.barzegari@example.com"  # 550, quoting the address: a permanent failure
GREYLISTED = "golnaz.tavakkoli@example.com"  # 451 once, quoting the address: retried, then accepted
INVALID_NUMBER = "+989121000004"  # Twilio 21211, which echoes the number: a permanent failure
THROTTLED = "+989121000005"  # Twilio 20429 once: retried, then sent


def phone_forms(e164: str) -> set[str]:
    """A phone number as it could appear: E.164, without +, national, spaced, dashed, Persian and Arabic digits."""
    national = "0" + e164[3:]  # +98 912… → 0912…
    spaced = f"{national[:4]} {national[4:7]} {national[7:]}"
    persian = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
    arabic = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
    forms = {e164, e164[1:], national, national[1:], spaced, spaced.replace(" ", "-"), f"+98 {spaced[1:]}"}
    forms |= {national.translate(persian), national.translate(arabic), e164[3:].translate(persian)}
    return forms


def personal_data() -> set[str]:
    found: set[str] = set()
    for name, email, _, e164 in PEOPLE.values():
        local = email.split("@")[0]
        found |= {name, *name.split(), email, email.upper(), local, email.replace("@", "%40")}
        found |= phone_forms(e164)
    found |= {json.dumps(value)[1:-1] for value in found}  # as JSON with ASCII escapes: \u0641…
    return {value for value in found if len(value) >= 4}


class Mailbox:
    """An SMTP server's handler: one address always refused (550), one deferred once (451), the rest taken."""

    def __init__(self) -> None:
        self.accepted: list[str] = []
        self.deferred = False

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: ANN001, ANN201, N802
        if address == BOUNCES:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown in virtual mailbox table"
        if address == GREYLISTED and not self.deferred:
            self.deferred = True
            return f"451 4.7.1 <{address}>: Recipient address rejected: Greylisted, try again"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, ANN201, N802
        self.accepted.extend(envelope.rcpt_tos)
        return "250 OK"


def daytime_zone() -> str:
    """A time zone where it is now well outside every shipped journey's quiet hours."""
    zones = ["Asia/Tehran", "Europe/London", "America/New_York", "Asia/Tokyo", "America/Los_Angeles"]
    zones += ["Asia/Kolkata", "Pacific/Auckland", "America/Sao_Paulo", "Asia/Dubai", "Pacific/Honolulu"]
    return next(z for z in zones if 10 <= datetime.now(ZoneInfo(z)).hour < 19)


class LoggedDev(Dev):
    """`journeys dev` with its stdout and stderr each written to a file (read whole at the end)."""

    def __init__(self, data: Path) -> None:
        super().__init__(data)
        self.out, self.err = data / "dev.out", data / "dev.err"

    def start(self) -> None:
        with open(self.out, "w") as out, open(self.err, "w") as err:
            self.process = subprocess.Popen(
                [*JOURNEYS, "dev", "--ui-port", str(self.ui_port)], env=self.env, cwd=self.cwd, stdout=out, stderr=err
            )
        until(lambda: "ready" in self.out.read_text() or self.process.poll() is not None, 90, "journeys dev")
        assert self.process.poll() is None, self.out.read_text() + self.err.read_text()


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    mailbox = Mailbox()
    with smtp_server(mailbox) as port:
        yield mailbox, port


def test_a_full_run_of_journeys_dev_logs_no_email_phone_or_name(tmp_path: Path, smtp: tuple[Mailbox, int]) -> None:
    mailbox, smtp_port = smtp
    zone = daytime_zone()
    customers = tmp_path / "customers.csv"
    rows = [f"{c},{name},{email},{phone},fa,{zone},wimax,W-{c}" for c, (name, email, phone, _) in PEOPLE.items()]
    header = "id,name,email,phone,locale,timezone,plan,wimax_id\n"
    customers.write_text(header + "\n".join(rows) + "\n", encoding="utf-8")
    with FakeTwilio() as twilio:
        twilio.fail(INVALID_NUMBER, 21211)
        twilio.fail(THROTTLED, 20429, times=1)
        dev = LoggedDev(tmp_path)
        dev.env.update({"JOURNEYS_LOG_LEVEL": "DEBUG", "JOURNEYS_LOG_FORMAT": "json"})
        dev.use_providers(smtp_port, twilio)
        dev.start()
        try:
            imported = dev.run("customers", "import", str(customers), "--region", "IR")
            assert imported.returncode == 0 and "5 imported" in imported.stdout, imported.stdout + imported.stderr
            # email: the modem-swap invitation to everyone (one refused, one deferred then sent)
            assert len(dev.json("enroll", "modem-swap", "--all")["enrolments"]) == 5
            # SMS: complaint acknowledgements (one number invalid, one throttled then sent)
            for cid in ("c1", "c4", "c5"):
                dev.json("signal", cid, "complaint_filed", "--data", "ref=T-1", "--data", f"by={PEOPLE[cid][1]}")
            dev.json("signal", "c1", "registered", "--data", f"phone={PEOPLE['c1'][3]}")

            errors_seen: dict[tuple[str, str], object] = {}

            def statuses() -> dict[tuple[str, str], str]:
                found = {}
                for cid in PEOPLE:
                    for run in dev.json("status", cid)["runs"]:
                        for message in run["messages"]:
                            found[(cid, message["channel"])] = message["status"]
                            errors_seen[(cid, message["channel"])] = message.get("error")
                return found

            expected = {
                **{(cid, "email"): "sent" for cid in PEOPLE if cid != "c2"},
                ("c2", "email"): "failed",
                ("c1", "sms"): "sent",
                ("c4", "sms"): "failed",
                ("c5", "sms"): "sent",
            }
            until(
                lambda: statuses() == expected,
                90,
                "every message to reach its status",
                seen=lambda: (statuses(), errors_seen, dev.err.read_text()[-3000:]),
            )
            assert sorted(mailbox.accepted) == sorted(PEOPLE[c][1] for c in PEOPLE if c != "c2")

            # inbound: a status callback, a reply quoting name and address, a STOP, an unsubscribe, a forgery
            (sms,) = [m for m in twilio.messages if m.form["To"] == PEOPLE["c1"][3]]
            assert twilio.post_status(sms.sid, "delivered").status_code == 200
            inbound = f"http://127.0.0.1:{dev.serve_port}"
            reply = f"5, thanks! {PEOPLE['c1'][0]}, {PEOPLE['c1'][1]}, call me on {PEOPLE['c1'][2]}"
            for sid, phone, text in (("SMreply1", PEOPLE["c1"][3], reply), ("SMstop1", PEOPLE["c2"][3], "STOP")):
                params = {"MessageSid": sid, "From": phone, "To": "+15005550006", "Body": text}
                headers = {"X-Twilio-Signature": twilio.signature(f"{inbound}/twilio/sms", params)}
                assert httpx.post(f"{inbound}/twilio/sms", data=params, headers=headers).status_code == 200
            forged = {"MessageSid": "SMforged", "From": PEOPLE["c3"][3], "Body": "STOP"}
            assert httpx.post(f"{inbound}/twilio/sms", data=forged).status_code == 403
            secret = Settings(data_dir=tmp_path).signing_secret()
            token = secrets.sign({"c": "c3", "ch": "email"}, secret)
            assert httpx.post(f"{inbound}/unsubscribe/{token}").status_code == 200
            assert httpx.post(f"{inbound}/unsubscribe/not-a-token").status_code == 403
        finally:
            assert dev.stop() == 0

    out, err = dev.out.read_text(encoding="utf-8"), dev.err.read_text(encoding="utf-8")
    logs = out + err
    leaks = sorted(value for value in personal_data() if value.lower() in logs.lower())
    assert not leaks, f"personal data in the logs: {leaks}\n{logs[-5000:]}"

    # stderr: our JSON lines, and the Temporal dev server's own (`time=… level=ERROR …`) when it is slow
    events = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert len(events) > 20

    def find(event: str, **fields: object) -> list[dict[str, object]]:
        return [e for e in events if e.get("event") == event and all(e.get(k) == v for k, v in fields.items())]

    assert find("worker.started", task_queue="journeys")
    assert find("send.sent", channel="email", provider="smtp", customer="c1")
    assert find("send.sent", channel="sms", provider="twilio", customer="c5")
    (refused,) = find("send.failed", channel="email", provider="smtp", customer="c2")
    assert "550" in str(refused["error"]) and "[address]" in str(refused["error"]) and refused["key"]
    (invalid,) = find("send.failed", channel="sms", provider="twilio", customer="c4")
    assert "21211" in str(invalid["error"])
    (greylisted,) = find("send.retrying", channel="email", customer="c3")
    assert greylisted["attempt"] == 1 and "451" in str(greylisted["error"])
    assert find("send.sent", channel="email", customer="c3")  # tried again, then taken
    assert find("send.retrying", channel="sms", customer="c5", attempt=1)
    assert find("inbound.accepted", route="/twilio/status", sid=sms.sid, status="delivered", result="updated")
    assert find("inbound.accepted", route="/twilio/sms", sid="SMreply1", customers=1, result="text")
    assert find("inbound.accepted", route="/twilio/sms", sid="SMstop1", customers=1, result="opted_out")
    assert find("inbound.accepted", route="/unsubscribe/{token}", customer="c3", channel="email", already=False)
    assert find("event.delivered", customer="c1", name="sms_received")
    assert find("event.delivered", customer="c2", name="opted_out")
    assert find("event.delivered", customer="c3", name="opted_out")
    assert find("inbound.rejected", route="/twilio/sms", reason="signature")
    assert find("inbound.rejected", route="/unsubscribe/{token}", reason="token")
    assert all({"timestamp", "level", "logger", "event"} <= set(e) for e in events)
    assert any(e["logger"].startswith("temporalio") for e in events)  # the SDK's own lines, through the same chain
