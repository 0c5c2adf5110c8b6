"""Reading customers files (CSV, YAML, JSON) and simulation event files, with file:line in every error."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from journeys.errors import DefinitionError, InputError
from journeys.interpreter import Customer, Event
from journeys.loader import Positions, load_yaml
from journeys.timeparse import parse_duration

PROFILE_FIELDS = ("id", "name", "email", "phone", "locale", "timezone", "tags", "documents")
_LIST_SPLIT = re.compile(r"[;|,]")
_INT = re.compile(r"^-?(0|[1-9]\d{0,17})$")
_FLOAT = re.compile(r"^-?(0|[1-9]\d*)\.\d+$")


@dataclass(frozen=True)
class Row:
    """One record of an input file and where it stands."""

    data: dict[str, Any]
    line: int


def read_rows(path: Path) -> Iterator[Row]:
    """The records of a CSV file (header first) or of a YAML/JSON list of mappings."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None
    if path.suffix.lower() == ".csv":
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n") + 1
            raise InputError(f"{path}:{line}: not UTF-8 text (save the file as UTF-8)") from None
        reader = csv.DictReader(io.StringIO(text, newline=""))
        if not reader.fieldnames:
            raise InputError(f"{path}:1: empty file: expected a header row")
        for record in reader:
            if None in record:
                raise InputError(f"{path}:{reader.line_num}: more values than header columns")
            yield Row({k.strip(): v for k, v in record.items() if k and v not in (None, "")}, reader.line_num)
        return
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(raw.decode("utf-8-sig"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputError(f"{path}: not valid JSON: {exc}") from None
        positions = None
    else:
        try:
            data, positions = load_yaml(path)
        except DefinitionError as exc:
            raise InputError(str(exc.problems[0])) from None
    if not isinstance(data, list):
        raise InputError(f"{path}:1: expected a list of records")
    for i, record in enumerate(data):
        line = _line(positions, (i,))
        if not isinstance(record, dict):
            raise InputError(f"{path}:{line}: record {i + 1} is not a mapping")
        yield Row(record, line)


def _line(positions: Positions | None, path: tuple[Any, ...]) -> int:
    return positions.at(path)[0] if positions is not None else 1


def read_customers(path: Path) -> list[Customer]:
    """Customers for simulation: `id` plus profile fields; every other column is an attribute."""
    customers: dict[str, Customer] = {}
    for row in read_rows(path):
        customer = customer_from_row(row.data, f"{path}:{row.line}")
        if customer.id in customers:
            raise InputError(f"{path}:{row.line}: id: customer {customer.id!r} appears twice")
        customers[customer.id] = customer
    return list(customers.values())


def customer_from_row(data: dict[str, Any], where: str) -> Customer:
    """A `Customer` from one record; strings from CSV become numbers/booleans where they clearly are."""
    if data.get("id") in (None, ""):
        raise InputError(f"{where}: id: missing")
    attributes = {k: _scalar(v) for k, v in data.items() if k not in PROFILE_FIELDS}
    if isinstance(data.get("attributes"), dict):
        attributes = {**attributes.pop("attributes"), **attributes}
    profile = {k: data[k] for k in PROFILE_FIELDS if k in data}
    profile["id"] = str(profile["id"])
    for key in ("phone", "name", "email", "locale", "timezone"):
        if key in profile and profile[key] is not None:
            profile[key] = str(profile[key])
    if isinstance(profile.get("tags"), str):
        profile["tags"] = [t.strip() for t in _LIST_SPLIT.split(profile["tags"]) if t.strip()]
    documents = profile.get("documents")
    if isinstance(documents, str):
        documents = [d.strip() for d in _LIST_SPLIT.split(documents) if d.strip()]
    if isinstance(documents, list):
        profile["documents"] = {str(kind): {"kind": str(kind)} for kind in documents}
    try:
        return Customer.model_validate({**profile, "attributes": attributes})
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(p) for p in error["loc"])
        raise InputError(f"{where}: {field}: {error['msg']}") from None


def _scalar(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    if _INT.match(text):
        return int(text)
    if _FLOAT.match(text):
        return float(text)
    return value


def parse_offset(text: Any) -> timedelta:
    """`3d`, `-30d`, `0`: an offset from the simulation's start."""
    if isinstance(text, int) and text == 0:
        return timedelta(0)
    if not isinstance(text, str):
        raise ValueError(f"bad offset {text!r}: expected a duration such as 2d or -30d")
    text = text.strip()
    if text in ("0", "0s"):
        return timedelta(0)
    sign = -1 if text.startswith("-") else 1
    return sign * parse_duration(text.lstrip("+-"))


@dataclass(frozen=True)
class PlannedEvent:
    customer: str
    event: Event


def read_events(path: Path, start: datetime, customers: set[str]) -> list[PlannedEvent]:
    """Simulation events: `{customer, event, after, data, id}` records, in time order (stable)."""
    planned: list[PlannedEvent] = []
    for index, row in enumerate(read_rows(path)):
        where = f"{path}:{row.line}"
        data = row.data
        for key in data:
            if key not in ("customer", "event", "after", "data", "id"):
                raise InputError(f"{where}: unknown key {key!r} (expected customer, event, after, data, id)")
        customer = str(data.get("customer", ""))
        if not customer:
            raise InputError(f"{where}: customer: missing")
        if customer not in customers:
            raise InputError(f"{where}: customer: unknown customer {customer!r}")
        name = data.get("event")
        if not isinstance(name, str) or not name:
            raise InputError(f"{where}: event: missing")
        try:
            offset = parse_offset(data.get("after", 0))
        except ValueError as exc:
            raise InputError(f"{where}: after: {exc}") from None
        payload = data.get("data") or {}
        if not isinstance(payload, dict):
            raise InputError(f"{where}: data: expected a mapping")
        event_id = str(data.get("id") or f"sim-{index + 1}")
        planned.append(PlannedEvent(customer, Event(id=event_id, name=name, data=payload, at=start + offset)))
    planned.sort(key=lambda p: p.event.at)
    return planned
