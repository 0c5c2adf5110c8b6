"""No personal data in logs: the redaction processor (every line a real `journeys dev` writes during a run:
tests/e2e/test_logs_dev.py)."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import logging.config
import time
from collections.abc import Callable, Iterator
from types import SimpleNamespace

import pytest
import uvicorn.config

from journeys.channels import Logged
from journeys.channels.base import Delivery, PermanentFailure, TransientFailure
from journeys.engine.messages import Rendered
from journeys.errors import JourneysError
from journeys.runtime.logs import OURS, TEMPORAL, configure_logging, get_logger, redact, redact_text
from journeys.settings import Settings

# --- the redaction processor --------------------------------------------------------------------------

EMAILS = ["sara.karimi@example.com", "Reza+News@Mail.Example.IR", "o'brien@example.co.uk", "info@مثال.ایران"]
PHONES = [
    "+989121000001",
    "+98 912 100 0001",
    "+98-912-100-0001",
    "(+98) 912 100 0001",
    "00989121000001",
    "989121000001",
    "09121000001",
    "9121000001",
    "0912 100 0001",
    "0912-100-0001",
    "(0912) 100-0001",
    "0912.100.0001",
    "۰۹۱۲۱۰۰۰۰۰۱",  # Persian digits
    "۰۹۱۲ ۱۰۰ ۰۰۰۱",
    "+۹۸۹۱۲۱۰۰۰۰۰۱",
    "٠٩١٢١٠٠٠٠٠١",  # Arabic-Indic digits
    "+1 (555) 123-4567",
    "(555) 123-4567",
    "555-123-4567",
    "+15551234567",
    "+44 20 7946 0958",
    "07700 900123",
]
IDS = [
    "c1",
    "cust-000123",
    "W-1",
    "sale-1",
    "1234567",  # a short numeric id
    "modem-swap:c1:3f2a9c1e",
    "550e8400-e29b-41d4-a716-446655440000",
    "SM0123456789abcdef0123456789abcdef",
    "2025-01-02T10:11:12.123456+00:00",
    "2025-01-02 10:11:12",
    "127.0.0.1:7233",
    "took 0.123456789 s",
    "HTTP 429, error 20429",
    "v1.35.0",
]


@pytest.mark.parametrize("address", EMAILS)
def test_email_addresses_are_masked(address: str) -> None:
    for text in (address, f"to {address}.", f"<{address}>", f"To: Someone <{address}>, cc"):
        masked = redact_text(text)
        assert address not in masked and "[email]" in masked, masked
    assert redact_text(address.replace("@", "%40")) == "[email]"  # percent-encoded in a URL


@pytest.mark.parametrize("phone", PHONES)
def test_phone_numbers_are_masked(phone: str) -> None:
    for text in (phone, f"call {phone} now", f"to={phone}&x=1", f"/customers/{phone}", f"'{phone}'"):
        masked = redact_text(text)
        assert "[phone]" in masked, (text, masked)
        assert sum(ch.isdigit() for ch in masked) == sum(ch.isdigit() for ch in text) - sum(
            ch.isdigit() for ch in phone
        ), (text, masked)


def test_two_numbers_side_by_side_are_both_masked() -> None:
    for text in ("09121000001 09121000002", "0912 100 0001 0912 100 0002", "2025-01-02 0912 100 0001"):
        masked = redact_text(text)
        assert "1000001" not in masked and "100 0001" not in masked and "0002" not in masked, masked


@pytest.mark.parametrize("text", IDS)
def test_ids_times_and_numbers_are_left_alone(text: str) -> None:
    assert redact_text(text) == text


def test_nested_values_are_masked_and_the_rest_kept() -> None:
    value = {
        "customer": "c1",
        "attempt": 3,
        "ok": True,
        "ratio": 0.5,
        "none": None,
        "to": ["sara@example.com", ("+989121000001", {"deep": "call 0912 100 0001"})],
        "sara@example.com": "key",
        "object": ValueError("refused sara@example.com"),
    }
    assert redact(value) == {
        "customer": "c1",
        "attempt": 3,
        "ok": True,
        "ratio": 0.5,
        "none": None,
        "to": ["[email]", ["[phone]", {"deep": "call [phone]"}]],
        "[email]": "key",
        "object": "refused [email]",
    }


@contextlib.contextmanager
def restored_logging() -> Iterator[None]:
    """Whatever `configure_logging` changes in this process, put back afterwards."""
    names = ["", *OURS, TEMPORAL]
    saved = [(logging.getLogger(n), logging.getLogger(n).level) for n in names], logging.getLogger().handlers[:]
    try:
        yield
    finally:
        for logger, level in saved[0]:
            logger.setLevel(level)
        logging.getLogger().handlers[:] = saved[1]
        logging.captureWarnings(False)


@pytest.fixture
def captured() -> Iterator[Callable[[], list[dict[str, object]]]]:
    """Logging configured as `journeys dev` does (JSON lines, DEBUG), into a buffer."""
    stream = io.StringIO()
    with restored_logging():
        configure_logging(Settings(log_format="json", log_level="DEBUG"), stream=stream, temporal_core=False)
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]


def test_messages_fields_and_tracebacks_are_masked_for_our_loggers_and_others(
    captured: Callable[[], list[dict[str, object]]],
) -> None:
    ours = get_logger("journeys.test")
    ours.info("send.sent", customer="c1", key="k-1", to="sara@example.com", data={"phone": "+989121000001"})
    try:
        raise RuntimeError("550 5.1.1 <sara@example.com>: no mailbox; number 0912 100 0001")
    except RuntimeError:
        ours.exception("send.error", customer="c1")
        logging.getLogger("temporalio.activity").warning(
            "Completing activity as failed for sara@example.com (%s)", "+98 912 100 0001", exc_info=True
        )
    logging.getLogger("uvicorn.error").error("bad request from %s", "reza@example.com")
    lines = captured()
    text = "\n".join(json.dumps(line, ensure_ascii=False) for line in lines)
    for secret in ("sara@example.com", "reza@example.com", "9121000001", "912 100 0001"):
        assert secret not in text
    first, second, third, fourth = lines
    assert first["event"] == "send.sent" and first["customer"] == "c1" and first["key"] == "k-1"
    assert first["to"] == "[email]" and first["data"] == {"phone": "[phone]"}
    assert first["level"] == "info" and first["logger"] == "journeys.test" and "timestamp" in first
    assert second["event"] == "send.error" and "RuntimeError: 550 5.1.1 <[email]>" in str(second["exception"])
    assert "number [phone]" in str(second["exception"]) and "Traceback" in str(second["exception"])
    assert third["event"] == "Completing activity as failed for [email] ([phone])"
    assert third["logger"] == "temporalio.activity" and "<[email]>" in str(third["exception"])
    assert fourth == {**fourth, "event": "bad request from [email]", "level": "error", "logger": "uvicorn.error"}


def test_a_server_that_configured_logging_first_is_routed_through_the_redaction_too() -> None:
    """uvicorn's own logging config (handlers of its own, no propagation) applied before ours changes nothing."""
    stream = io.StringIO()
    with restored_logging():
        logging.config.dictConfig(uvicorn.config.LOGGING_CONFIG)
        configure_logging(Settings(log_format="json", log_level="DEBUG"), stream=stream, temporal_core=False)
        logging.getLogger("uvicorn.error").debug("request from %s", "reza@example.com")
    (line,) = [json.loads(text) for text in stream.getvalue().splitlines()]
    assert (line["event"], line["logger"], line["level"]) == ("request from [email]", "uvicorn.error", "debug")


def test_console_format_is_masked_too() -> None:
    stream = io.StringIO()
    with restored_logging():
        configure_logging(Settings(log_format="console", log_level="INFO"), stream=stream, temporal_core=False)
        get_logger("journeys.test").debug("hidden", customer="c0")
        get_logger("journeys.test").info("event.delivered", customer="c1", note="from sara@example.com")
        try:
            raise ValueError("+989121000001")
        except ValueError:
            logging.getLogger("some.library").exception("failed for %s", "reza@example.com")
    text = stream.getvalue()
    assert "event.delivered" in text and "customer=c1" in text and "[email]" in text and "hidden" not in text
    assert "ValueError: [phone]" in text and "failed for [email]" in text
    assert "sara@" not in text and "reza@" not in text and "9121000001" not in text


def test_libraries_that_dump_payloads_or_requests_stay_above_debug(
    captured: Callable[[], list[dict[str, object]]],
) -> None:
    """At DEBUG the Temporal SDK logs every activation and completion with its payloads (a customer's name in
    clear when payloads are not encrypted), twilio every request, httpx every URL: none of that is enabled."""
    assert logging.getLogger("journeys.http.inbound").isEnabledFor(logging.DEBUG)
    assert logging.getLogger("channels").isEnabledFor(logging.DEBUG)
    assert logging.getLogger("uvicorn.error").isEnabledFor(logging.DEBUG)
    assert not logging.getLogger("temporalio.worker._activity").isEnabledFor(logging.DEBUG)
    assert not logging.getLogger("temporalio.worker._workflow").isEnabledFor(logging.DEBUG)
    assert logging.getLogger("temporalio.worker._worker").isEnabledFor(logging.INFO)
    for name in ("twilio.http_client", "httpx", "httpcore", "urllib3", "aiosmtplib", "sqlalchemy.engine"):
        assert not logging.getLogger(name).isEnabledFor(logging.INFO), name


class _Failing:
    provider = "smtp"

    def __init__(self, error: Exception | None) -> None:
        self.error = error

    async def send(self, message: Rendered, key: str) -> Delivery:
        if self.error is not None:
            raise self.error
        return Delivery(provider=self.provider, provider_id="<0123abcd@example.com>")


async def test_every_send_is_logged_once_with_ids_and_no_recipient(
    captured: Callable[[], list[dict[str, object]]],
) -> None:
    message = Rendered(channel="email", to="sara@example.com", subject="Hi Sara", body="Dear Sara", customer_id="c1")
    assert (await Logged(_Failing(None)).send(message, "k-1")).provider == "smtp"
    with pytest.raises(PermanentFailure):
        await Logged(_Failing(PermanentFailure("recipient refused: 550 <[address]>"))).send(message, "k-2")
    with pytest.raises(TransientFailure):
        await Logged(_Failing(TransientFailure("SMTP server timed out"))).send(message, "k-3")
    sent, failed, retrying = captured()
    common = {"customer": "c1", "channel": "email", "provider": "smtp", "attempt": 1}
    assert sent == {**sent, **common, "event": "send.sent", "key": "k-1", "provider_id": None, "level": "info"}
    assert failed == {**failed, **common, "event": "send.failed", "key": "k-2", "level": "warning"}
    assert failed["error"] == "recipient refused: 550 <[address]>" and failed["opt_out"] is False
    assert retrying == {**retrying, **common, "event": "send.retrying", "key": "k-3", "error": "SMTP server timed out"}
    assert "Sara" not in json.dumps([sent, failed, retrying]) and "sara@" not in json.dumps([sent, failed, retrying])


def test_a_bad_level_or_format_is_one_clear_error() -> None:
    with pytest.raises(JourneysError, match="JOURNEYS_LOG_LEVEL"):
        configure_logging(SimpleNamespace(log_level="LOUD", log_format="json"), temporal_core=False)  # type: ignore[arg-type]
    with pytest.raises(JourneysError, match="JOURNEYS_LOG_FORMAT"):
        configure_logging(SimpleNamespace(log_level="info", log_format="xml"), temporal_core=False)  # type: ignore[arg-type]


def test_redaction_is_cheap() -> None:
    """One log event's worth of redaction (a dozen short values) costs microseconds, not milliseconds."""
    event = {
        "event": "send.sent",
        "customer": "cust-000123",
        "key": "modem-swap:cust-000123:invite:1",
        "channel": "email",
        "provider": "smtp",
        "attempt": 1,
        "logger": "channels",
        "level": "info",
        "timestamp": "2025-01-02T10:11:12.123456Z",
    }
    rounds = 2000
    start = time.perf_counter()
    for _ in range(rounds):
        redact(event)
    per_event = (time.perf_counter() - start) / rounds
    assert per_event < 200e-6, f"{per_event * 1e6:.1f} µs per event"
