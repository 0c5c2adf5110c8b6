"""`/console/simulate`: a journey of the definitions folder on sample customers and events, as `journeys
simulate` runs it (in-process, simulated time, nothing sent), with the files read by the same readers, so a
bad row is named the same way: `customers:3: email: ...`."""

from __future__ import annotations

import asyncio
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from journeys.engine.messages import MessageSource
from journeys.errors import JourneysError
from journeys.format.inputs import read_customers, read_events, simulation_start
from journeys.format.models import Journey
from journeys.http.console.auth import Person, actor, viewer
from journeys.http.console.views import page
from journeys.services.catalogue import definitions
from journeys.settings import Settings
from journeys.simulate.inprocess import Simulation, simulate_together
from journeys.templates import TemplateFiles

router = APIRouter()
FORMATS = ("yaml", "csv", "json")
MAX_DAYS = 3650


def _catalogue(settings: Settings) -> dict[str, tuple[Path, Journey]]:
    return {journey.id: (path, journey) for path, journey in definitions(settings).items()}


async def _text(typed: str, upload: UploadFile | None, what: str) -> tuple[str, str | None]:
    """The file's text (an upload wins over the text typed) and the format its name says, if it was uploaded."""
    if upload is None or not upload.filename:
        return typed, None
    raw = await upload.read()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise JourneysError(f"{what}: not UTF-8 text: save the file as UTF-8") from None
    suffix = Path(upload.filename).suffix.lower().lstrip(".")
    return text, {"yml": "yaml", "jsonl": "json"}.get(suffix, suffix)


def run_simulation(
    path: Path, journey: Journey, customers: str, fmt: str, events: str, start: datetime, days: int
) -> Simulation:
    """What `journeys simulate FILE --customers ... --events ...` does, on the texts given; errors name the
    files `customers` and `events` and the line."""
    with tempfile.TemporaryDirectory(prefix="journeys-simulate-") as folder:
        customers_file = Path(folder) / f"customers.{fmt}"
        customers_file.write_text(customers, encoding="utf-8")
        events_file = Path(folder) / "events.yaml"
        events_file.write_text(events, encoding="utf-8")
        try:
            people = read_customers(customers_file)
            planned = read_events(events_file, start, {c.id for c in people}) if events.strip() else []
        except JourneysError as exc:
            raise JourneysError(str(exc).replace(f"{folder}/", "")) from None
    if not people:
        raise JourneysError("customers: none given")
    source = MessageSource(TemplateFiles(path.parent / "templates"))
    (result,) = simulate_together([(journey, source)], people, planned, start, days)
    return result


@router.get("/simulate", response_class=HTMLResponse)
async def simulate_page(request: Request, person: Annotated[Person, Depends(viewer())]) -> Response:
    settings: Settings = request.app.state.settings
    catalogue = await asyncio.to_thread(_catalogue, settings)
    return _form(request, person, catalogue, {}, None, None, 200)


def _form(
    request: Request,
    person: Person,
    catalogue: dict[str, tuple[Path, Journey]],
    given: dict[str, Any],
    result: Simulation | None,
    error: str | None,
    status: int,
) -> Response:
    journeys = sorted((journey for _, journey in catalogue.values()), key=lambda j: j.id)
    return page(
        request,
        "simulate.html",
        f"Simulation of {result.journey}" if result else "Simulate a journey",
        person,
        status,
        journeys=journeys,
        formats=FORMATS,
        given=given,
        result=result,
        error=error,
    )


@router.post("/simulate", response_class=HTMLResponse)
async def simulate(
    request: Request,
    person: Annotated[Person, Depends(actor("viewer"))],
    journey: Annotated[str, Form()] = "",
    customers: Annotated[str, Form(max_length=1024 * 1024)] = "",
    customers_format: Annotated[str, Form()] = "yaml",
    customers_file: UploadFile | None = None,
    events: Annotated[str, Form(max_length=1024 * 1024)] = "",
    events_file: UploadFile | None = None,
    days: Annotated[str, Form()] = "30",
    start: Annotated[str, Form()] = "",
) -> Response:
    settings: Settings = request.app.state.settings
    catalogue = await asyncio.to_thread(_catalogue, settings)
    given = {"journey": journey, "customers": customers, "customers_format": customers_format, "events": events}
    given |= {"days": days, "start": start}
    try:
        if journey not in catalogue:
            raise JourneysError(f"journey: choose one of {', '.join(sorted(catalogue)) or 'none'}")
        people, uploaded = await _text(customers, customers_file, "customers")
        planned, _ = await _text(events, events_file, "events")
        fmt = uploaded or customers_format
        if fmt not in FORMATS:
            raise JourneysError(f"customers: a {fmt!r} file; expected CSV, YAML or JSON")
        began = simulation_start(start, "start")
        length = _days(days)
        path, definition = catalogue[journey]
        result = await asyncio.to_thread(run_simulation, path, definition, people, fmt, planned, began, length)
    except JourneysError as exc:
        return _form(request, person, catalogue, given, None, " ".join(str(exc).split()), 422)
    return _form(request, person, catalogue, given, result, None, 200)


def _days(text: str) -> int:
    try:
        days = int(text)
    except ValueError:
        raise JourneysError(f"days {text!r}: a whole number from 0 to {MAX_DAYS}") from None
    if not 0 <= days <= MAX_DAYS:
        raise JourneysError(f"days {text!r}: a whole number from 0 to {MAX_DAYS}")
    return days
