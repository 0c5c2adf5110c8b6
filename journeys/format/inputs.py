"""Reading customers files (CSV, JSON, JSON Lines, YAML) and simulation event files, with file:line in every error.

A file that cannot be read as a whole (not UTF-8, broken CSV quoting, not JSON, YAML syntax) raises
`InputError`. A record that can be read but is wrong (a JSON line that does not parse, a duplicate key, a number
JSON does not allow, a record that is not a mapping) comes back as a `Row` holding its problems, so that the
importer can reject that record alone; `read_customers` and `read_events` (the simulator's) raise on the first.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from journeys.errors import DefinitionError, InputError
from journeys.format.customers import PROFILE_KEYS, Customer, Event
from journeys.format.timeparse import parse_duration
from journeys.format.yaml import load_yaml_records, not_utf8

ROW_KEYS = frozenset((*PROFILE_KEYS, "documents"))  # a row's other keys are attributes
MAX_VALUES = 10_000  # values in one record, counting those an alias repeats
MAX_NESTING = 20
MAX_DIGITS = 4_300  # Python's own limit for turning text into a number
_LIST_SPLIT = re.compile(r"[;|,]")
_INT = re.compile(r"^-?(0|[1-9]\d{0,17})$")
_FLOAT = re.compile(r"^-?(0|[1-9]\d*)\.\d+$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")
_JSON_SPACE = re.compile(r"[ \t\n\r]*")
JSON_LINES = (".jsonl", ".ndjson")


@dataclass(frozen=True)
class Row:
    """One record of an input file, where it starts, and what is wrong with it as read (empty: nothing)."""

    data: dict[str, Any]
    line: int
    problems: tuple[str, ...] = ()


def read_text(path: Path) -> str:
    """The file as text: UTF-8, with or without a byte-order mark; anything else is an `InputError`."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line, _, hint = not_utf8(raw, exc)
        raise InputError(f"{path}:{line}: not UTF-8 text{hint}: save the file as UTF-8") from None


def read_rows(path: Path) -> Iterator[Row]:
    """The records of a CSV file (header first), a JSON list, JSON Lines (`.jsonl`) or a YAML list of mappings."""
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml") or suffix not in (".csv", ".json", *JSON_LINES):
        records = _yaml_records(path)
    else:
        text = read_text(path)
        if suffix == ".csv":
            yield from _csv_rows(path, text)
            return
        records = _json_lines(text) if suffix in JSON_LINES else _json_records(path, text)
    for index, (line, record, problems) in enumerate(records):
        if isinstance(record, dict):
            yield Row(record, line, tuple(problems))
        else:
            yield Row({}, line, (*problems, f"record {index + 1} is not a mapping"))


# --- CSV ------------------------------------------------------------------------------------------


def csv_records(path: Path, text: str) -> Iterator[tuple[int, list[str]]]:
    """(line where the record starts, cells) for each record that has a non-blank cell; bad quoting raises."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    while True:
        start = reader.line_num + 1
        limit = csv.field_size_limit(len(text) + 1)  # a long field is the row's problem, not the parser's
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            if "unexpected end of data" in str(exc):
                raise InputError(f"{path}:{start}: a quoted field starting on this line is never closed") from None
            raise InputError(
                f'{path}:{reader.line_num}: bad CSV quoting ({exc}): write "" for a quote inside a quoted field'
            ) from None
        finally:
            csv.field_size_limit(limit)
        if "".join(cells).strip():  # a cell that is not blank (one C call, not one per cell)
            yield start, cells


def _csv_rows(path: Path, text: str) -> Iterator[Row]:
    records = csv_records(path, text)
    header = next(records, None)
    if header is None:
        raise InputError(f"{path}:1: empty file: expected a header row")
    names = [cell.strip() for cell in header[1]]
    seen: set[str] = set()
    for name in names:
        if name and name in seen:
            raise InputError(f"{path}:{header[0]}: column {name!r} appears twice in the header")
        seen.add(name)
    for line, cells in records:
        if len(cells) > len(names):
            yield Row({}, line, ("more values than header columns",))
            continue
        yield Row({name: cell for name, cell in zip(names, cells, strict=False) if name and cell != ""}, line)


# --- JSON -----------------------------------------------------------------------------------------


class _JsonDecoder(json.JSONDecoder):
    """Standard JSON only, noting per value what Python's decoder would let through or fail on as a whole."""

    def __init__(self) -> None:
        super().__init__(
            object_pairs_hook=self._object,
            parse_constant=self._constant,
            parse_int=self._int,
            parse_float=self._float,
        )
        self.problems: list[str] = []

    def take(self, text: str, index: int) -> tuple[Any, int, list[str]]:
        """The value starting at `index`, where it ends, and its problems."""
        self.problems = []
        value, end = self.raw_decode(text, index)
        return value, end, self.problems

    def _object(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in pairs:
            if key in result:
                self.problems.append(f"{key}: duplicate key (only one value may be given)")
                continue
            result[key] = value
        return result

    def _constant(self, name: str) -> None:
        self.problems.append(f"{name} is not a JSON number")

    def _int(self, text: str) -> int | None:
        if len(text) > MAX_DIGITS:
            self.problems.append(f"a number of {len(text):,} digits is too long")
            return None
        return int(text)

    def _float(self, text: str) -> float | None:
        value = float(text)
        if not math.isfinite(value):
            self.problems.append(f"{text[:20]} is too large a number")
            return None
        return value


def _json_error(path: Path, exc: json.JSONDecodeError) -> InputError:
    return InputError(f"{path}: not valid JSON: {exc}")


def _json_records(path: Path, text: str) -> list[tuple[int, Any, list[str]]]:
    """The items of a JSON list, each with the line it starts on; problems inside an item stay with it."""
    decoder = _JsonDecoder()
    index = _JSON_SPACE.match(text).end()  # type: ignore[union-attr]
    if index == len(text):
        raise InputError(f"{path}:1: empty file: expected a JSON list of records")
    try:
        if text[index] != "[":
            value, end, _ = decoder.take(text, index)
            if _JSON_SPACE.match(text, end).end() != len(text):  # type: ignore[union-attr]
                raise InputError(f"{path}:1: not valid JSON: more than one value (for JSON Lines, name it .jsonl)")
            raise InputError(f"{path}:1: expected a list of records")
        records: list[tuple[int, Any, list[str]]] = []
        index = _JSON_SPACE.match(text, index + 1).end()  # type: ignore[union-attr]
        line, counted = 1, 0
        while index < len(text) and text[index] != "]":
            line, counted = line + text.count("\n", counted, index), index
            value, index, problems = decoder.take(text, index)
            records.append((line, value, problems))
            index = _JSON_SPACE.match(text, index).end()  # type: ignore[union-attr]
            if index < len(text) and text[index] == ",":
                index = _JSON_SPACE.match(text, index + 1).end()  # type: ignore[union-attr]
                if index < len(text) and text[index] == "]":
                    raise json.JSONDecodeError("Expecting value after ','", text, index)
            elif index < len(text) and text[index] != "]":
                raise json.JSONDecodeError("Expecting ',' delimiter", text, index)
        if index >= len(text):
            raise json.JSONDecodeError("Expecting ']' at the end of the list", text, index)
        if _JSON_SPACE.match(text, index + 1).end() != len(text):  # type: ignore[union-attr]
            raise json.JSONDecodeError("Extra data after the list", text, index + 1)
    except json.JSONDecodeError as exc:
        raise _json_error(path, exc) from None
    except RecursionError:
        raise InputError(f"{path}: nested too deeply to be a customers file") from None
    return records


def _json_lines(text: str) -> list[tuple[int, Any, list[str]]]:
    """One JSON value per line (blank lines skipped); a line that does not parse is that record's problem."""
    decoder = _JsonDecoder()
    records: list[tuple[int, Any, list[str]]] = []
    for number, line in enumerate(text.split("\n"), start=1):  # not splitlines(): U+2028 may sit inside a string
        line = line.removesuffix("\r")
        if not line.strip():
            continue
        try:
            value, end, problems = decoder.take(line, _JSON_SPACE.match(line).end())  # type: ignore[union-attr]
            if line[end:].strip():
                raise json.JSONDecodeError("Extra data after the value", line, len(line) - len(line[end:].lstrip()))
        except json.JSONDecodeError as exc:
            records.append((number, {}, [f"not valid JSON: {exc.msg} (column {exc.colno})"]))
        except RecursionError:
            records.append((number, {}, ["nested too deeply"]))
        else:
            records.append((number, value, problems))
    return records


# --- YAML -----------------------------------------------------------------------------------------


def _yaml_records(path: Path) -> list[tuple[int, Any, list[str]]]:
    """The items of a YAML list with their lines; a problem found inside an item (a duplicate key, a bad number)
    stays with that item."""
    try:
        data, positions, problems = load_yaml_records(path)
    except DefinitionError as exc:
        raise InputError(str(exc.problems[0])) from None
    if not isinstance(data, list):
        raise InputError(f"{path}:1: expected a list of records")
    starts = [positions.at((i,))[0] for i in range(len(data))]
    records: list[tuple[int, Any, list[str]]] = [(line, item, []) for line, item in zip(starts, data, strict=True)]
    for problem in problems:
        owner = next((i for i in range(len(starts) - 1, -1, -1) if starts[i] <= problem.line), None)
        if owner is None:
            raise InputError(str(problem))
        at = "" if problem.line == starts[owner] else f"line {problem.line}: "
        records[owner][2].append(at + problem.message)
    return records


# --- customers and events for the simulator -------------------------------------------------------


def simulation_start(value: str | None, name: str = "--start") -> datetime:
    """When a simulation starts: `value` as an ISO 8601 date-time with an offset, or now (None or blank)."""
    if value is None or not value.strip():
        return datetime.now(timezone.utc).replace(microsecond=0)
    try:
        start = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InputError(
            f"{name} {value!r}: expected an ISO 8601 date-time such as 2026-11-23T08:00:00+03:30"
        ) from None
    if start.tzinfo is None:
        raise InputError(f"{name} {value!r}: add a UTC offset, e.g. {value.strip()}+00:00")
    if not 1900 <= start.year <= 9000:  # a simulation and its events must stay within dates Python can hold
        raise InputError(f"{name} {value!r}: expected a date between the years 1900 and 9000")
    return start


def read_customers(path: Path) -> list[Customer]:
    """Customers for simulation: `id` plus profile fields; every other column is an attribute."""
    customers: dict[str, Customer] = {}
    for row in read_rows(path):
        if row.problems:
            raise InputError(f"{path}:{row.line}: {row.problems[0]}")
        customer = customer_from_row(row.data, f"{path}:{row.line}")
        if customer.id in customers:
            raise InputError(f"{path}:{row.line}: id: customer {customer.id!r} appears twice")
        customers[customer.id] = customer
    return list(customers.values())


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    return {dict: "a mapping", list: "a list"}.get(type(value), type(value).__name__)


def check_size(value: Any, where: str) -> None:
    """Refuse a value that holds too many values (YAML aliases can repeat one many times) or nests too deeply."""
    budget, todo = MAX_VALUES, [(value, 0)]
    while todo:
        item, depth = todo.pop()
        budget -= 1
        if budget < 0 or depth > MAX_NESTING:
            raise InputError(f"{where}: value too large or nested too deeply")
        if isinstance(item, dict):
            todo += [(v, depth + 1) for v in item.values()]
        elif isinstance(item, list | tuple):
            todo += [(v, depth + 1) for v in item]


def customer_from_row(data: dict[str, Any], where: str) -> Customer:
    """A `Customer` from one record; strings from CSV become numbers/booleans where they clearly are."""
    check_size(data, where)
    if data.get("id") in (None, ""):
        raise InputError(f"{where}: id: missing")
    for key in ("id", "name", "email", "phone", "locale", "timezone"):
        value = data.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, str | int | float)):
            raise InputError(f"{where}: {key}: expected text, got {_kind(value)}")
    customer_id = str(data["id"]).strip()
    if not customer_id:
        raise InputError(f"{where}: id: missing")
    if _CONTROL.search(customer_id):
        raise InputError(f"{where}: id: contains a control character or line break")
    nested = data.get("attributes")
    if nested is not None and not isinstance(nested, dict):
        raise InputError(f"{where}: attributes: expected a mapping, got {_kind(nested)}")
    attributes = {k: _scalar(v) for k, v in data.items() if k not in ROW_KEYS}
    attributes = {**(nested or {}), **attributes}
    profile = {k: data[k] for k in ROW_KEYS - {"attributes"} if k in data}
    profile["id"] = customer_id
    for key in ("phone", "name", "email", "locale", "timezone"):
        if key in profile and profile[key] is not None:
            profile[key] = str(profile[key])
    if isinstance(profile.get("tags"), str):
        profile["tags"] = [t.strip() for t in _LIST_SPLIT.split(profile["tags"]) if t.strip()]
    documents = profile.get("documents")
    if isinstance(documents, str):
        documents = [d.strip() for d in _LIST_SPLIT.split(documents) if d.strip()]
    if isinstance(documents, list):
        if not all(isinstance(kind, str | int) and not isinstance(kind, bool) for kind in documents):
            raise InputError(f"{where}: documents: expected a list of document kinds")
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
    if isinstance(text, int) and not isinstance(text, bool) and text == 0:
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
        if row.problems:
            raise InputError(f"{where}: {row.problems[0]}")
        data = row.data
        check_size(data, where)
        for key in data:
            if key not in ("customer", "event", "after", "data", "id"):
                raise InputError(f"{where}: unknown key {key!r} (expected customer, event, after, data, id)")
        customer = data.get("customer")
        if customer is None or customer == "":
            raise InputError(f"{where}: customer: missing")
        if isinstance(customer, bool) or not isinstance(customer, str | int):
            raise InputError(f"{where}: customer: expected an id, got {_kind(customer)}")
        customer = str(customer)
        if customer not in customers:
            raise InputError(f"{where}: customer: unknown customer {customer!r}")
        name = data.get("event")
        if not isinstance(name, str) or not name:
            raise InputError(f"{where}: event: missing")
        try:
            at = start + parse_offset(data.get("after", 0))
        except ValueError as exc:
            raise InputError(f"{where}: after: {exc}") from None
        except OverflowError:
            raise InputError(f"{where}: after: too far from the start of the simulation") from None
        payload = data.get("data") or {}
        if not isinstance(payload, dict):
            raise InputError(f"{where}: data: expected a mapping")
        event_id = data.get("id")
        if event_id is not None and (isinstance(event_id, bool) or not isinstance(event_id, str | int)):
            raise InputError(f"{where}: id: expected text, got {_kind(event_id)}")
        event_id = str(event_id or f"sim-{index + 1}")
        planned.append(PlannedEvent(customer, Event(id=event_id, name=name, data=payload, at=at)))
    planned.sort(key=lambda p: p.event.at)
    return planned
