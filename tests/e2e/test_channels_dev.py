"""Real channels end to end on the embedded default: `journeys dev` sends email to a real SMTP server and
SMS and a voice call through the real twilio client to a loopback fake of Twilio; the fake posts the status
callback and the pressed digits back to the inbound server, and the run advances on the digits."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.devserver import Dev, smtp_server
from tests.support.fake_twilio import FakeTwilio
from tests.support.polling import until

JOURNEY = """
id: survey-call
name: Survey call
steps:
  - {id: hello, send: email, message: {subject: "سلام {{ customer.name }}", text: "Hello {{ customer.name }}"}}
  - {id: heads_up, send: sms, message: {text: "We will call you shortly, {{ customer.name }}"}}
  - id: call
    send: voice
    message: {say: "How did we do? Press 1 to 5.", gather: {digits: 1, event: rated}}
  - {id: answer, wait_for: rated, timeout: 1d, on_timeout: silent}
  - id: read
    branch: [{when: "event.data.digits | int >= 4", goto: happy}]
    else: unhappy
  - {id: happy, end: happy}
  - {id: unhappy, end: unhappy}
  - {id: silent, end: silent}
"""


class Mailbox:
    def __init__(self) -> None:
        self.envelopes: list[object] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:  # noqa: N802
        self.envelopes.append(envelope)
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    mailbox = Mailbox()
    with smtp_server(mailbox) as port:
        yield mailbox, port


def test_email_sms_and_voice_go_out_and_pressed_digits_move_the_run(tmp_path: Path, smtp: tuple[Mailbox, int]) -> None:
    mailbox, smtp_port = smtp
    definitions = tmp_path / "definitions"
    definitions.mkdir()
    (definitions / "survey_call.yaml").write_text(JOURNEY, encoding="utf-8")
    with FakeTwilio() as twilio:
        dev = Dev(tmp_path)
        dev.env["JOURNEYS_DEFINITIONS"] = str(definitions)
        dev.use_providers(smtp_port, twilio)
        dev.start()
        try:
            customers = tmp_path / "customers.yaml"
            customers.write_text(
                "- {id: c1, name: Sara, email: sara@example.com, phone: '+989121000001', locale: fa}\n",
                encoding="utf-8",
            )
            assert dev.run("customers", "import", str(customers)).returncode == 0
            (enrolment,) = dev.json("enroll", "survey-call", "--customer", "c1")["enrolments"]
            assert enrolment["status"] == "started"

            until(lambda: len(twilio.calls) == 1, 30, "the voice call")
            assert len(mailbox.envelopes) == 1 and len(twilio.messages) == 1
            (sms,) = twilio.messages
            twilio.post_status(sms.sid, "delivered")
            (call,) = twilio.calls
            twilio.press(call.sid, "5")

            def ended() -> bool:
                return dev.json("status", "c1")["runs"][0]["outcome"] == "completed"

            until(ended, 30, "the run to complete", seen=lambda: dev.json("status", "c1")["runs"])
            run = dev.json("status", "c1")["runs"][0]
            assert run["end_label"] == "happy"
            statuses = {m["channel"]: m["status"] for m in run["messages"]}
            assert statuses["email"] == "sent" and statuses["voice"] == "sent"
            assert statuses["sms"] == "delivered"  # the status callback reached the message row
        finally:
            assert dev.stop() == 0
