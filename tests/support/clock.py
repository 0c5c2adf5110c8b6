"""Time zones for tests that run at any hour against journeys with quiet hours."""

from __future__ import annotations

from datetime import datetime, timezone


def midday_zone() -> str:
    """A zone where it is about noon now: quiet hours (the modem swap's 21:00-09:00, in the customer's time) then
    hold none of a test's messages, whenever the suite runs."""
    offset = (12 - datetime.now(timezone.utc).hour + 12) % 24 - 12  # hours east of UTC, -12..11
    return f"Etc/GMT{-offset:+d}"  # the Etc zones' signs are inverted: Etc/GMT-3 is UTC+3
