"""What the importers share (`journeys customers import`, `journeys events import`): a file's records with the
line each starts on, the checks every value goes through, problems as one printable line, the progress bar.

A file that cannot be read as a whole (not UTF-8, broken CSV quoting, a header without a required column)
raises `InputError` before any record is yielded; a record that is wrong carries its problems instead.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from journeys.errors import InputError
from journeys.format.inputs import csv_records, read_rows, read_text

if TYPE_CHECKING:
    from rich.console import Console

MAX_FIELD = 10_000  # characters in one value
MAX_ID = 255
MAX_NESTING = 20  # depth of a YAML/JSON value
MAX_NODES = 10_000  # values inside one YAML/JSON value (aliases can multiply them)
BAD_TEXT = re.compile(r"[\x00\ud800-\udfff]")  # NUL and lone surrogates: neither database takes them
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


class Bad(Exception):
    """One field of a record is wrong: `field: message`."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")


@dataclass
class Row:
    line: int
    data: dict[str, Any]
    from_csv: bool = False  # values are text: numbers and booleans are recognised where a value may be one
    problems: list[str] = field(default_factory=list)  # found while reading, before validation


@dataclass(frozen=True)
class Columns:
    """The keys an importer knows (matched whatever their case), those a CSV header must name, and the hint its
    error gives (`id, name, email, phone, ...`)."""

    known: frozenset[str]
    required: tuple[str, ...]
    hint: str

    def key(self, name: Any) -> str:
        text = str(name).strip()
        return text.lower() if text.lower() in self.known else text


def read_records(path: Path, columns: Columns) -> tuple[int, Iterator[Row]]:
    """How many records the file holds, and the records; whole-file errors are raised before any is yielded.
    The suffix picks the format: `.csv`, `.json`, `.jsonl`/`.ndjson`, else YAML."""
    if path.suffix.lower() != ".csv":
        rows = [
            Row(row.line, {columns.key(k): v for k, v in row.data.items()}, problems=list(row.problems))
            for row in read_rows(path)
        ]
        return len(rows), iter(rows)
    text = read_text(path)
    records = csv_records(path, text)
    header = next(records, None)
    if header is None:
        raise InputError(f"{path}:1: empty file: expected a header row naming the columns ({columns.hint})")
    names = _header(path, header[1], columns)
    total = sum(1 for _ in csv_records(path, text)) - 1  # a first pass: bad quoting fails before any write
    rows = (_csv_row(line, cells, names) for line, cells in records)
    return total, rows


def _header(path: Path, cells: list[str], columns: Columns) -> list[str]:
    names = [columns.key(cell) for cell in cells]
    seen: set[str] = set()
    for name in names:
        if name and name in seen:
            raise InputError(f"{path}:1: column {name!r} appears twice in the header")
        seen.add(name)
    for required in columns.required:
        if required not in seen:
            separator = next(
                (f" (the columns seem to be separated by {c!r}: use commas)" for c in ";\t" if c in cells[0]), ""
            )
            raise InputError(f"{path}:1: no {required} column{separator}: the header must name one ({columns.hint})")
    return names


def _csv_row(line: int, cells: list[str], names: list[str]) -> Row:
    row = Row(line, {}, from_csv=True)
    for index, cell in enumerate(cells):
        if not cell.strip():
            continue
        if index >= len(names):
            row.problems.append(f"row has {len(cells)} values but the header has {len(names)} columns")
            break
        if not names[index]:
            row.problems.append(f"column {index + 1} has a value but no name in the header")
            continue
        row.data[names[index]] = cell
    return row


def printable(text: str) -> str:
    """A problem as one line: control characters from the file (in an attribute's name, say) written as escapes."""
    return _UNPRINTABLE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


@contextmanager
def progress(console: Console | None, total: int, label: str) -> Iterator[Callable[[int], None]]:
    """A transient progress bar on `console` (none without one); the callable advances it by n records."""
    if console is None:
        yield lambda _n: None
        return
    from rich.progress import Progress

    with Progress(console=console, transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)


# --- values -------------------------------------------------------------------------------------


def as_text(name: str, value: Any) -> str:
    """A value as stripped text."""
    if type(value) is str:  # what a CSV cell always is: the checks below, cheaply
        stripped = value.strip()
    elif isinstance(value, bool) or not isinstance(value, str | int | float):
        raise Bad(name, f"expected text, got {kind(value)}")
    else:
        stripped = str(value).strip()
    if len(stripped) > MAX_FIELD:
        raise Bad(name, f"longer than {MAX_FIELD:,} characters")
    return stripped


def identifier(name: str, value: Any) -> str:
    """An id (of a customer, an event): text, not empty, short, on one line."""
    if value is None or value == "":
        raise Bad(name, "missing")
    found = as_text(name, value)
    if not found:
        raise Bad(name, "missing")
    if len(found) > MAX_ID:
        raise Bad(name, f"longer than {MAX_ID} characters")
    if CONTROL.search(found) or BAD_TEXT.search(found):
        raise Bad(name, "contains a control character or line break")
    return found


def id_of(data: dict[str, Any], key: str = "id") -> str | None:
    """`data[key]` as an id when it can be one (for finding repeats before the record is validated)."""
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    found = str(value).strip()
    return found or None


def plain_key(key: Any, field: str = "attributes") -> str:
    """A key of a mapping value (an attribute's name, a key of event data), checked as `field`."""
    name = str(key)
    if not name.strip():
        raise Bad(field, "an attribute has an empty name")
    if len(name) > MAX_FIELD or BAD_TEXT.search(name):
        raise Bad(field, "an attribute name is too long or holds a NUL character")
    return name


def plain(value: Any, where: str, depth: int, budget: list[int]) -> Any:
    """`value` as plain JSON data (YAML gives dates and its own container types), checked for size."""
    budget[0] -= 1
    if budget[0] < 0 or depth > MAX_NESTING:
        raise Bad(where, "value too large or nested too deeply")
    if type(value) is str:  # the most common value first (the same checks as for a str below)
        if len(value) > MAX_FIELD:
            raise Bad(where, f"longer than {MAX_FIELD:,} characters")
        if BAD_TEXT.search(value):
            raise Bad(where, "contains a NUL character or invalid text")
        return value
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise Bad(where, "not a finite number")
        return float(value)
    if isinstance(value, str):
        if len(value) > MAX_FIELD:
            raise Bad(where, f"longer than {MAX_FIELD:,} characters")
        if BAD_TEXT.search(value):
            raise Bad(where, "contains a NUL character or invalid text")
        return str(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, dict):
        return {plain_key(k): plain(v, f"{where}.{k}", depth + 1, budget) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v, f"{where}[{i}]", depth + 1, budget) for i, v in enumerate(value)]
    raise Bad(where, f"unsupported value ({kind(value)})")


def plain_mapping(value: dict[Any, Any], field: str, prefix: str = "") -> dict[str, Any]:
    """A mapping (a customer's attributes, an event's data) as plain JSON data, its keys checked as `field`, all
    its values within one budget of MAX_NODES; a bad value is named `prefix` + its key."""
    budget = [MAX_NODES]
    return {plain_key(key, field): plain(item, f"{prefix}{key}", 0, budget) for key, item in value.items()}


def kind(value: Any) -> str:
    names = {bool: "a boolean", dict: "a mapping", list: "a list", type(None): "nothing"}
    for found, name in names.items():
        if isinstance(value, found):
            return name
    return type(value).__name__
