"""Importing events (`journeys events import F`): each good line has the effect of `journeys signal`.

Every line is read and checked first (fields, then the customers, in one store query); a bad line is reported
as `file:line: field: message` and skipped, the good lines still take effect. A line without `id` gets one
derived from what it says (customer, event, `at`, data), so importing the same file again changes nothing.
One customer's events are recorded and delivered in file order, one after the other; different customers'
go concurrently, up to PARALLEL at once. The import stops at the first failure of Temporal or the store:
lines in flight are reported, the rest are not taken, and running the same import again finishes them
(their ids make that safe: a recorded event is delivered again, and a run takes an event id once).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field
from temporalio.client import Client

from journeys.engine.interpreter import Event
from journeys.errors import InputError, JourneysError
from journeys.services.catalogue import find_journey, publish
from journeys.services.delivery import NotDelivered, SignalResult, record, take_in
from journeys.services.import_file import (
    Bad,
    Columns,
    Row,
    as_text,
    identifier,
    kind,
    plain_mapping,
    printable,
    progress,
    read_records,
)
from journeys.services.shared import PARALLEL, utc_now
from journeys.settings import Settings
from journeys.store import NewEvent, Store, UnknownCustomer

if TYPE_CHECKING:
    from rich.console import Console

FIELDS = ("customer", "event", "id", "at", "data")
COLUMNS = Columns(known=frozenset(FIELDS), required=("customer", "event"), hint=", ".join(FIELDS))
SUFFIXES = (".csv", ".jsonl", ".ndjson")
EFFECTS = ("advanced", "exited", "ignored", "started", "skipped")
SOURCE = "import"  # the door these events came in by, kept on the timeline


class EventsReport(BaseModel):
    """What an events import did (`journeys events import --json`)."""

    file: str
    lines: int = 0  # records read
    recorded: int = 0  # new events put on customers' timelines
    duplicates: int = 0  # events whose id was recorded before (or earlier in the file): nothing new
    rejected: int = 0  # bad lines: nothing done with them
    undelivered: int = 0  # taken, but Temporal or the store failed before their effect was done
    not_taken: int = 0  # good lines left alone after such a failure
    effects: dict[str, int] = Field(default_factory=lambda: dict.fromkeys(EFFECTS, 0))  # on runs, by effect
    problems: list[str] = Field(default_factory=list)

    @property
    def complete(self) -> bool:
        """Every line was good and took its whole effect."""
        return not (self.rejected or self.undelivered or self.not_taken)


@dataclass(frozen=True)
class Line:
    """A good line: the event it records for a customer (its `at` None: stamped when it is taken)."""

    line: int
    customer: str
    event_id: str
    name: str
    data: dict[str, Any]
    at: datetime | None


def read_events(path: Path) -> tuple[EventsReport, list[Line]]:
    """Every line of an events file checked on its own: the good ones, and a report counting and naming the bad
    (a repeated id is counted as a duplicate). Raises `InputError` when the file cannot be read as a whole."""
    if path.suffix.lower() not in SUFFIXES:
        raise InputError(f"{path}: expected a .csv or .jsonl file of events (customer, event, id, at, data)")
    _, rows = read_records(path, COLUMNS)
    report = EventsReport(file=str(path))
    good: list[Line] = []
    first: dict[str, int] = {}
    for row in rows:
        report.lines += 1
        line, problems = _line(row)
        if line is None:
            report.rejected += 1
            report.problems.extend(printable(f"{path}:{row.line}: {p}") for p in problems)
        elif first.setdefault(line.event_id, row.line) != row.line:
            report.duplicates += 1
        else:
            good.append(line)
    return report, good


async def import_events(
    client: Client,
    store: Store,
    settings: Settings,
    path: Path,
    journey_id: str | None = None,
    console: Console | None = None,
    *,
    parallel: int = PARALLEL,
) -> EventsReport:
    """Record every good line's event and give it the effect of `signal`: delivered to the customer's live runs
    (only `journey_id`'s when given), starting the journeys it triggers. Events come in with source `import`."""
    if journey_id is not None:  # an unknown journey is a mistake, told before anything is done; a file name is its id
        journey_id = publish(find_journey(settings, journey_id)).journey.id
    report, lines = read_events(path)
    known = await asyncio.to_thread(store.known_customers, {line.customer for line in lines})
    chains: dict[str, list[Line]] = {}
    for line in lines:
        if line.customer in known:
            chains.setdefault(line.customer, []).append(line)
        else:
            report.rejected += 1
            report.problems.append(_unknown(path, line))
    importer = _Importer(client, store, settings, path, journey_id, report, parallel)
    with progress(console, report.lines, "importing events") as advance:
        advance(report.lines - sum(len(chain) for chain in chains.values()))
        await asyncio.gather(*(importer.chain(chain, advance) for chain in chains.values()))
    return importer.done()


class _Importer:
    def __init__(
        self,
        client: Client,
        store: Store,
        settings: Settings,
        path: Path,
        journey_id: str | None,
        report: EventsReport,
        parallel: int,
    ) -> None:
        self.client, self.store, self.settings = client, store, settings
        self.path, self.journey_id, self.report = path, journey_id, report
        self.gate = asyncio.Semaphore(parallel)
        self.failed = False
        self.first_untaken: int | None = None

    async def chain(self, lines: list[Line], advance: Any) -> None:
        """One customer's lines, in file order; after a failure, none is taken any more."""
        for index, line in enumerate(lines):
            async with self.gate:
                if self.failed:
                    self._leave(lines[index:])
                    advance(len(lines) - index)
                    return
                await self.take(line)
            advance(1)

    async def take(self, line: Line) -> None:
        """Record and deliver one line; a failure of Temporal or the store stops the import."""
        event = Event(id=line.event_id, name=line.name, data=line.data, at=line.at or utc_now())
        where = f"{self.path}:{line.line}"
        try:
            recorded = await record(self.store, line.customer, event, SOURCE, self.journey_id)
        except UnknownCustomer:  # erased since the lines were checked
            self.report.rejected += 1
            self.report.problems.append(_unknown(self.path, line))
            return
        except JourneysError as exc:
            self._fail(f"{where}: perhaps not recorded ({exc}): run the same import again, the line keeps its id")
            return
        (runs,) = await take_in(
            self.client, self.store, self.settings, [NewEvent(line.customer, event, SOURCE, self.journey_id)]
        )
        if isinstance(runs, Exception):
            reason = runs.reason if isinstance(runs, NotDelivered) else str(runs) or type(runs).__name__
            self._fail(
                f"{where}: recorded as event {event.id} but not delivered ({reason}): journeys delivers it once "
                "Temporal answers (a worker must be running), as does the same import again (its id makes that safe)"
            )
            return
        self._count(
            SignalResult(event_id=event.id, customer=line.customer, event=event.name, duplicate=not recorded, runs=runs)
        )

    def _fail(self, problem: str) -> None:
        self.failed = True
        self.report.undelivered += 1
        self.report.problems.append(printable(problem))

    def _leave(self, lines: list[Line]) -> None:
        self.report.not_taken += len(lines)
        if lines and (self.first_untaken is None or lines[0].line < self.first_untaken):
            self.first_untaken = lines[0].line

    def _count(self, result: SignalResult) -> None:
        if result.duplicate:
            self.report.duplicates += 1
        else:
            self.report.recorded += 1
        for run in result.runs:
            self.report.effects[run.effect] = self.report.effects.get(run.effect, 0) + 1

    def done(self) -> EventsReport:
        report = self.report
        report.problems.sort(key=lambda problem: _line_number(self.path, problem))
        if report.not_taken:
            report.problems.append(
                f"{self.path}: {report.not_taken} good line(s) not taken after that failure (the first at line "
                f"{self.first_untaken}): run the same import again to take them"
            )
        return report


def _line_number(path: Path, problem: str) -> int:
    """The line a problem (`file:line: ...`) is about, to report them in file order."""
    number = problem.removeprefix(printable(f"{path}:")).partition(":")[0]
    return int(number) if number.isdigit() else 0


def _unknown(path: Path, line: Line) -> str:
    return printable(f"{path}:{line.line}: customer: no customer {line.customer!r} in the store")


# --- checking a line ------------------------------------------------------------------------------


def _line(row: Row) -> tuple[Line | None, list[str]]:
    """The row as a `Line`, or None with a `field: message` for each bad field."""
    problems = list(row.problems)
    if not row.data and problems:  # a JSON line that does not parse, not a mapping: only that to say
        return None, problems
    values: dict[str, Any] = {}
    checks = {
        "customer": lambda: identifier("customer", row.data.get("customer")),
        "event": lambda: identifier("event", row.data.get("event")),
        "id": lambda: identifier("id", row.data["id"]) if row.data.get("id") is not None else None,
        "at": lambda: _at(row.data["at"]) if row.data.get("at") is not None else None,
        "data": lambda: _data(row.data.get("data"), from_csv=row.from_csv),
    }
    for name, check in checks.items():
        try:
            values[name] = check()
        except Bad as exc:
            problems.append(str(exc))
    problems += [f"{key}: unknown field (expected {COLUMNS.hint})" for key in row.data if key not in FIELDS]
    if problems:
        return None, problems
    event_id = values["id"] or derived_id(values["customer"], values["event"], values["at"], values["data"])
    return Line(row.line, values["customer"], event_id, values["event"], values["data"], values["at"]), []


def derived_id(customer: str, name: str, at: datetime | None, data: dict[str, Any]) -> str:
    """The id of a line without one: a hash of what it says, so the same line imported again is the same event
    (and two lines saying exactly the same, without an `at`, are one event)."""
    said = [customer, name, at.isoformat() if at else None, data]
    text = json.dumps(said, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return "import-" + hashlib.sha256(text.encode()).hexdigest()[:32]


def _at(value: Any) -> datetime:
    """An ISO 8601 date-time with its offset (`2026-11-23T08:00:00+03:30`, `...Z`), in UTC."""
    written = as_text("at", value)
    try:
        at = datetime.fromisoformat(written)
    except ValueError:
        raise Bad("at", f"not an ISO 8601 date-time: {written[:40]!r}") from None
    if at.tzinfo is None:
        raise Bad("at", "no offset: write it as 2026-11-23T08:00:00+03:30 (or Z for UTC)")
    return at.astimezone(timezone.utc)


def _data(value: Any, *, from_csv: bool) -> dict[str, Any]:
    """The event's data: a mapping (in CSV, the text of a JSON object) of plain values."""
    if value is None or value == "":
        return {}
    if from_csv:
        try:
            value = json.loads(as_text("data", value))
        except ValueError as exc:
            raise Bad("data", f"not a JSON object ({exc})") from None
    if not isinstance(value, dict):
        raise Bad("data", f'expected a JSON object such as {{"ref": "R-1"}}, got {kind(value)}')
    return plain_mapping(value, "data", "data.")
