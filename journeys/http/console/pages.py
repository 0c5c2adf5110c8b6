"""The console's pages: the journeys and the customer search, a journey with its map and report, the runs at
one step, a customer's story, and signing in and out. Each reads what the CLI's commands read (`report`,
`status`), through the same services."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from datetime import datetime, time, timezone
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from journeys.errors import JourneysError
from journeys.format.journey_map import journey_map
from journeys.format.map_layout import map_svg
from journeys.format.models import SLUG_PATTERN, Journey
from journeys.http.console.auth import (
    Person,
    check_csrf,
    csrf_token,
    end_session,
    keep_session,
    new_session,
    safe_next,
    session_of,
    viewer,
)
from journeys.http.console.live import counts, journey_report, story_of, timeline
from journeys.http.console.views import page, state
from journeys.services import reporting
from journeys.services.catalogue import definitions
from journeys.store import JourneyReport
from journeys.store.conversion import HOLDOUT

router = APIRouter()


class Missing(Exception):
    """404: no such journey, step or customer (the message says which, in one line)."""

    def __init__(self, message: str) -> None:
        self.message = message


def conversion_rate(report: JourneyReport) -> float | None:
    """Runs that converted over runs enrolled, the holdout left out (None before anyone was enrolled)."""
    cohorts = [c for name, c in report.conversion.cohorts.items() if name != HOLDOUT]
    enrolled = sum(c.enrolled for c in cohorts)
    return sum(c.converted for c in cohorts) / enrolled if enrolled else None


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, person: Annotated[Person, Depends(viewer())], q: str = "") -> Response:
    settings, store = state(request)
    catalogue = await asyncio.to_thread(definitions, settings)
    live, paused = await asyncio.to_thread(store.journeys_overview)
    midnight = datetime.combine(datetime.now(timezone.utc).date(), time(), timezone.utc)
    today = await asyncio.to_thread(store.messages_since, midnight)
    reports = await asyncio.gather(*(journey_report(request, j.id) for j in catalogue.values()))
    rows = [
        {
            "journey": j,
            "paused": j.id in paused,
            "live": live.get(j.id, 0),
            "today": today.get(j.id, 0),
            "conversion": conversion_rate(report),
        }
        for j, report in zip(catalogue.values(), reports, strict=True)
    ]
    found = await asyncio.to_thread(store.find_customers, q) if q.strip() else None
    return page(request, "home.html", "Journeys", person, rows=rows, q=q, found=found)


def journey_id_checked(journey_id: str) -> str:
    """A journey id as journeys name them, never a file path (the catalogue takes those too)."""
    if not re.fullmatch(SLUG_PATTERN, journey_id):
        raise Missing(f"no journey {journey_id!r}")
    return journey_id


async def _journey(request: Request, journey_id: str) -> tuple[Journey, JourneyReport]:
    settings, store = state(request)
    journey_id = journey_id_checked(journey_id)
    try:
        published = await asyncio.to_thread(reporting.published_journey, settings, store, journey_id)
    except JourneysError:
        raise Missing(f"no journey {journey_id!r}") from None
    return published.journey, await journey_report(request, journey_id)


@router.get("/journeys/{journey_id}", response_class=HTMLResponse)
async def journey_page(request: Request, journey_id: str, person: Annotated[Person, Depends(viewer())]) -> Response:
    _, store = state(request)
    journey, report = await _journey(request, journey_id)
    numbers = counts(report)
    steps = numbers["steps"]
    svg = map_svg(
        journey_map(journey),
        {key: value["now"] for key, value in steps.items()},
        {key: value["arrived"] for key, value in steps.items()},
        {(p["source"], p["target"]): p["took"] for p in numbers["paths"]},
    )
    live_by_version = Counter(r.version for r in await asyncio.to_thread(store.live_runs_of_journey, journey.id))
    return page(
        request,
        "journey.html",
        f"{journey.name} ({journey.id})",
        person,
        journey=journey,
        report=report,
        map=svg,
        paused=await asyncio.to_thread(store.is_paused, journey.id),
        versions=sorted({*report.versions, *live_by_version}),
        live_by_version=live_by_version,
        said=request.query_params.get("said"),
    )


@router.get("/journeys/{journey_id}/steps/{step}", response_class=HTMLResponse)
async def step_page(
    request: Request, journey_id: str, step: str, person: Annotated[Person, Depends(viewer())]
) -> Response:
    _, store = state(request)
    journey, _ = await _journey(request, journey_id)
    if step not in {s.id for s in journey.steps}:
        raise Missing(f"journey {journey_id!r} has no step {step!r}")
    runs = await asyncio.to_thread(store.runs_at_step, journey.id, step)
    return page(request, "step.html", f"{journey.name}: runs at {step}", person, journey=journey, step=step, runs=runs)


@router.get("/customers/{customer_id}", response_class=HTMLResponse)
async def customer_page(request: Request, customer_id: str, person: Annotated[Person, Depends(viewer())]) -> Response:
    settings, _ = state(request)
    try:
        story = await story_of(request, customer_id)
    except JourneysError as exc:
        raise Missing(str(exc)) from None
    catalogue = {j.id: j for j in (await asyncio.to_thread(definitions, settings)).values()}
    live = [r for r in story["runs"] if r["outcome"] == "running"]
    steps = {r["journey"]: [s.id for s in catalogue[r["journey"]].steps] for r in live if r["journey"] in catalogue}
    name = story["customer"].get("name") or customer_id
    return page(
        request,
        "customer.html",
        f"{name}: customer {customer_id}",
        person,
        story=story,
        entries=timeline(story),
        live=live,
        steps=steps,
        status_line=request.query_params.get("said"),  # where the page's script says what a form did, too
    )


# --- signing in and out ---------------------------------------------------------------------------------


@router.get("/sign-in", response_class=HTMLResponse)
async def sign_in_page(request: Request, next: str = "/console/") -> Response:
    return _sign_in_form(request, safe_next(next), None, 200)


def _sign_in_form(request: Request, next_path: str, error: str | None, status: int) -> Response:
    """The form, with a session of its own (no user yet) whose token the form carries."""
    session = new_session(request, None)
    csrf = csrf_token(request, session)
    response = page(request, "sign_in.html", "Sign in", None, status, next=next_path, error=error, csrf=csrf)
    keep_session(request, response, session)
    return response


@router.post("/sign-in")
async def sign_in(
    request: Request,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/console/",
) -> Response:
    check_csrf(request, session_of(request), csrf)
    _, store = state(request)
    user = await asyncio.to_thread(store.signed_in, username.strip(), password) if username and password else None
    if user is None:
        return _sign_in_form(request, safe_next(next), "unknown name or wrong password", 401)
    response = RedirectResponse(safe_next(next), 303)
    keep_session(request, response, new_session(request, user.name))
    return response


@router.post("/sign-out")
async def sign_out(request: Request, csrf: Annotated[str, Form()] = "") -> Response:
    check_csrf(request, session_of(request), csrf)
    response = RedirectResponse("/console/sign-in", 303)
    end_session(response)
    return response
