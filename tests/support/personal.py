"""A customer whose personal data the security tests look for where it must not be."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from sqlalchemy import Engine, MetaData, select

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


def stored_values(engine: Engine) -> dict[str, list[str]]:
    """Every value of every column of every table of the database, as text (JSON for non-text), by table."""
    metadata = MetaData()
    metadata.reflect(engine)
    found: dict[str, list[str]] = {}
    with engine.connect() as connection:
        for table in metadata.sorted_tables:
            found[table.name] = [
                value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
                for row in connection.execute(select(table))
                for value in row
            ]
    return found


def found_in(values: dict[str, list[str]], needles: list[str]) -> list[tuple[str, str]]:
    """(table, value) for each value holding one of `needles`, case-insensitive."""
    lowered = [n.lower() for n in needles]
    return [(t, v) for t, vs in values.items() for v in vs if any(n in v.lower() for n in lowered)]
