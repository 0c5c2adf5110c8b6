"""A customer whose personal data the security tests look for where it must not be."""

from __future__ import annotations

from datetime import datetime, timezone

from journeys.format.customers import Profile

EMAIL, PHONE, FIRST, LAST = "parisa@example.com", "+989121234567", "Parisa", "Tehrani"
PERSONAL = [EMAIL, PHONE, FIRST, LAST]


def noon_zone() -> str:
    """A fixed-offset zone where it is about noon now (`Etc/GMT-3` is UTC+3): far from any quiet hours."""
    offset = 12 - datetime.now(timezone.utc).hour
    return "Etc/UTC" if offset == 0 else f"Etc/GMT{-offset:+d}"


def parisa(cid: str = "c1") -> Profile:
    """Parisa, on the modem-swap journey's plan, where a message to her goes out now."""
    return Profile(
        id=cid,
        name=f"{FIRST} {LAST}",
        email=EMAIL,
        phone=PHONE,
        locale="en",
        timezone=noon_zone(),
        attributes={"plan": "wimax", "wimax_id": "W-1"},
    )
