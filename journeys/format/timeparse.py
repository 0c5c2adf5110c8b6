"""Durations (`1d12h`), wall-clock times (`21:00`) and IANA zones, parsed once at load."""

from __future__ import annotations

import re
from datetime import time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_UNITS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}
_DURATION = re.compile(r"^(?:\d+[wdhms])+$")
_PART = re.compile(r"(\d+)([wdhms])")
_CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")

MAX_DURATION = timedelta(days=3650)  # as long as a run may live; longer would overflow dates
DURATION_PATTERN = r"^([0-9]+[wdhms])+$"
CLOCK_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"


def parse_duration(text: str) -> timedelta:
    """Parse `30s`, `15m`, `2h`, `3d`, `1w` or a combination such as `1d12h`; must be positive."""
    if not isinstance(text, str) or not _DURATION.match(text.strip()):
        raise ValueError(
            f"bad duration {text!r}: expected a whole number with a unit (s, m, h, d, w), e.g. 3d or 1d12h"
        )
    parts = _PART.findall(text.strip())
    if any(len(n) > 12 for n, _ in parts):  # int() of thousands of digits is slow, and no such wait makes sense
        raise ValueError(f"bad duration {text[:40]!r}: at most {MAX_DURATION.days}d")
    seconds = sum(int(n) * _UNITS[u] for n, u in parts)
    if seconds <= 0:
        raise ValueError(f"bad duration {text!r}: must be positive")
    if seconds > MAX_DURATION.total_seconds():
        raise ValueError(f"bad duration {text!r}: at most {MAX_DURATION.days}d")
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """The shortest spelling of a duration, the inverse of `parse_duration`."""
    seconds = int(value.total_seconds())
    parts = []
    for unit in ("d", "h", "m", "s"):
        amount, seconds = divmod(seconds, _UNITS[unit])
        if amount:
            parts.append(f"{amount}{unit}")
    return "".join(parts) or "0s"


def parse_clock(text: str) -> time:
    """Parse a 24-hour `HH:MM` wall-clock time."""
    match = _CLOCK.match(text.strip()) if isinstance(text, str) else None
    if not match:
        raise ValueError(f"bad time {text!r}: expected HH:MM on a 24-hour clock, e.g. 09:00")
    return time(int(match.group(1)), int(match.group(2)))


def is_clock(text: str) -> bool:
    return isinstance(text, str) and bool(_CLOCK.match(text.strip()))


def parse_zone(name: str) -> ZoneInfo:
    """Look up an IANA time zone such as `Asia/Tehran`."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError, OSError):  # OSError: a folder ('Asia'), a name too long
        shown = name if not isinstance(name, str) or len(name) <= 60 else name[:60] + "…"
        raise ValueError(f"unknown time zone {shown!r}: expected an IANA name such as Asia/Tehran") from None
