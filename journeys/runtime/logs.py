"""Structured logs for the long-running processes (`journeys dev`, `journeys worker`, `journeys serve`).

`configure_logging(settings)` is called once at their start. Every log line, ours (`get_logger`, structlog)
and every library's (the Temporal SDK and its core, uvicorn, ...: stdlib logging), goes through one
`structlog.stdlib.ProcessorFormatter` on stderr:

    exception and stack as plain text → redact every value → level, logger, ISO time (UTC) → JSON or console

`JOURNEYS_LOG_FORMAT` is `json` (one object per line), `console` (aligned key=value) or `auto` (console on a
terminal, else JSON); `JOURNEYS_LOG_LEVEL` (default INFO) applies to our loggers and uvicorn's, and to the
Temporal SDK's down to INFO (its DEBUG lines dump payloads). Other libraries log at WARNING and above
whatever the level: their DEBUG and INFO lines carry request URLs and bodies (twilio, httpx), which can hold
personal data no pattern recognises.

Redaction masks email addresses (`[email]`, also percent-encoded) and phone numbers (`[phone]`: E.164, with
00, national formats with spaces, dashes, dots or brackets, bare runs of ten digits or more (nine with a
leading 0), in ASCII, Persian or Arabic-Indic digits) in the message, in every string value (nested ones and
dict keys too, other objects as their `str`), and in exception and stack text. Dates, times, IP addresses,
decimals, UUIDs and ids with letters are left alone. Names cannot be recognised by pattern: our own log
calls carry customer ids, event names, keys and provider codes, never profile fields or message text.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TextIO

import structlog

from journeys.errors import JourneysError

if TYPE_CHECKING:
    from journeys.settings import Settings

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
FORMATS = ("auto", "console", "json")
# loggers that follow JOURNEYS_LOG_LEVEL; the Temporal SDK's at INFO at least (at DEBUG it dumps activations and
# completions with their payloads: personal data, where they are not encrypted); every other library's at
# WARNING at least
OURS = ("journeys", "channels", "activities", "workflows", "worker", "uvicorn")
UVICORN_CHILDREN = ("uvicorn.error", "uvicorn.access")
TEMPORAL = "temporalio"

# --- redaction -----------------------------------------------------------------------------------------

_LOCAL = r"[\w.!#$%&*+^~\-]+"
_EMAIL = re.compile(rf"{_LOCAL}(?:'{_LOCAL})*(?:@|%40)[\w\-]+(?:\.[\w\-]+)*")  # o'brien@…, not a leading quote
# a phone-number candidate: 7 to 41 digits (any script) in groups joined by at most 3 of space . - ( ) each,
# maybe after + or (+; never starting inside a word, a number, an address or a dotted/dashed token
_PHONE = re.compile(r"(?<![\w@+.\-])(?:\+|\(\+?)?\d(?:[ \u00a0.\-()]{0,3}\d){6,40}(?![\w@])")
_DATE = re.compile(r"\d{4}[-.]\d{1,2}[-.]\d{1,2}(?!\d)|\d{1,2}[-.]\d{1,2}[-.]\d{4}(?!\d)")
_IPV4 = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")
_SEPARATORS = frozenset(" \u00a0.-()")
EMAIL_MASK, PHONE_MASK = "[email]", "[phone]"
_META = frozenset({"_record", "_from_structlog"})  # ProcessorFormatter's own, removed before rendering


def _phone(match: re.Match[str]) -> str:
    text = match.group()
    if text.startswith("(") and ")" not in text:  # an opening bracket around the number: (+98 912 100 0001)
        return "(" + _phone_text(text[1:])
    return _phone_text(text)


def _phone_text(text: str) -> str:
    date = _DATE.match(text)
    if date:  # 2025-01-02 10:11 is a time; 2025-01-02 0912 100 0001 is a time and a phone
        return text[: date.end()] + _PHONE.sub(_phone, text[date.end() :])
    digits = sum(ch.isdigit() for ch in text)
    separated = any(ch in _SEPARATORS for ch in text)
    if digits < 7:
        return text
    if text[0] in "+(" or text.startswith("00"):
        return PHONE_MASK
    if not separated:  # a bare run of digits: a number written without +, or a numeric id
        return PHONE_MASK if 10 <= digits <= 15 or (digits == 9 and int(text[0]) == 0) else text
    if _IPV4.fullmatch(text) or (text.count(".") == 1 and not any(ch in " \u00a0-()" for ch in text)):
        return text  # 127.0.0.1, 0.123456789
    return PHONE_MASK  # seven or more digits in groups: (555) 123-4567, 0912 100 0001, two numbers in a row


def redact_text(text: str) -> str:
    """`text` with email addresses and phone numbers masked."""
    if "@" in text or "%40" in text:
        text = _EMAIL.sub(EMAIL_MASK, text)
    return _PHONE.sub(_phone, text)


def redact(value: Any) -> Any:
    """`value` with every string in it redacted: nested dicts (keys too), lists, tuples, sets; numbers, bools
    and None as they are; any other object as its redacted `str`."""
    if isinstance(value, str):
        return redact_text(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, dict):
        return {redact(k): redact(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [redact(v) for v in value]
    return redact_text(str(value))


def redact_event(logger: Any, method_name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """The structlog processor: every value of the event dict redacted (message, fields, exception text)."""
    for key, value in event_dict.items():
        if key not in _META:
            event_dict[key] = redact(value)
    return event_dict


# --- loggers and configuration --------------------------------------------------------------------------


def get_logger(name: str) -> Any:
    """A structlog logger that hands its events to stdlib logging (`logging.getLogger(name)`), where
    `configure_logging`'s formatter renders them; level checks happen first, so a dropped call is cheap.
    Without `configure_logging` (tests, the CLI) the events still reach stdlib logging and `caplog`."""
    return structlog.wrap_logger(
        logging.getLogger(name),
        processors=[
            structlog.stdlib.filter_by_level,
            structlog.contextvars.merge_contextvars,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


class _Handler(logging.StreamHandler):  # type: ignore[type-arg]
    """Ours: replaced, not added to, when logging is configured again."""


def configure_logging(settings: Settings, *, stream: TextIO | None = None, temporal_core: bool = True) -> None:
    """Route every log line of this process through the redacting formatter, to `stream` (stderr).

    `temporal_core`: also forward the Temporal SDK core's own (Rust) log lines, which otherwise go straight
    to stderr in their own format; this sets the default `temporalio` runtime, so call it before connecting."""
    level = str(settings.log_level).upper()
    if level not in LEVELS:
        raise JourneysError(f"JOURNEYS_LOG_LEVEL must be one of {', '.join(LEVELS)}, not {settings.log_level!r}")
    chosen = str(settings.log_format).lower()
    if chosen not in FORMATS:
        raise JourneysError(f"JOURNEYS_LOG_FORMAT must be one of {', '.join(FORMATS)}, not {settings.log_format!r}")
    stream = stream or sys.stderr
    if chosen == "auto":
        chosen = "console" if stream.isatty() else "json"
    renderer: Callable[..., Any]
    if chosen == "json":
        renderer = structlog.processors.JSONRenderer(ensure_ascii=False, default=str)
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=stream.isatty(), sort_keys=False)
    formatter = structlog.stdlib.ProcessorFormatter(
        processors=[
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,  # plain text, never locals (rich and dict tracebacks show them)
            redact_event,
            structlog.stdlib.add_log_level,  # added after redaction: nothing to mask in them
            structlog.stdlib.add_logger_name,  # from the record, before its removal
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            renderer,
        ],
    )
    handler = _Handler(stream)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [h for h in root.handlers if not isinstance(h, _Handler)] + [handler]
    numeric = logging.getLevelName(level)
    root.setLevel(max(numeric, logging.WARNING))
    for name in OURS:
        logging.getLogger(name).setLevel(numeric)
    for name in (*OURS, *UVICORN_CHILDREN):  # a server configured before us may have given them handlers of their own
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate, logger.disabled = True, False
    for name in UVICORN_CHILDREN:
        logging.getLogger(name).setLevel(logging.NOTSET)  # the "uvicorn" level above decides
    logging.getLogger(TEMPORAL).setLevel(max(numeric, logging.INFO))
    logging.captureWarnings(True)
    if temporal_core:
        _forward_temporal_core(level)


def _forward_temporal_core(level: str) -> None:
    """The SDK core's log lines into the `temporalio.core` logger (and so through the same formatter)."""
    from temporalio.runtime import LogForwardingConfig, LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter

    core = {"DEBUG": "INFO", "INFO": "WARN", "WARNING": "WARN", "ERROR": "ERROR"}[level]
    logging_config = LoggingConfig(
        filter=TelemetryFilter(core_level=core, other_level="ERROR"),
        forwarding=LogForwardingConfig(logger=logging.getLogger("temporalio.core"), append_target_to_name=False),
    )
    Runtime.set_default(Runtime(telemetry=TelemetryConfig(logging=logging_config)), error_if_already_set=False)
