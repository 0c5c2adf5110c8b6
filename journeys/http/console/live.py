"""What the console's pages re-read while they are open: a journey's counts on its map (`/counts`, JSON) and a
customer's timeline (`/timeline`, an HTML fragment). Both are made from what the pages themselves show: the
journey's report (`journeys report`) and the customer's story (`journeys status`)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse

from journeys.format.journey_map import COMPLETED, EXITED, HOLDOUT, START
from journeys.http.console.auth import Person, viewer
from journeys.http.console.views import fragment
from journeys.services import reporting
from journeys.services.status import status
from journeys.settings import Settings
from journeys.store import JourneyReport, Store

router = APIRouter()
# the map's nodes for how runs ended, by outcome (a run ended by an `end` step is counted at that step)
ENDINGS = {"completed": COMPLETED, "exited": EXITED, "holdout": HOLDOUT}


def counts(report: JourneyReport) -> dict[str, Any]:
    """Runs at each node of the map now, runs that arrived there, and runs that took each path."""
    steps = {s.step: {"now": s.now, "arrived": s.arrived} for s in report.steps}
    for outcome in report.outcomes:
        node = ENDINGS.get(outcome.outcome)
        if node is not None and not (outcome.outcome == "completed" and outcome.end_label):
            steps.setdefault(node, {"now": 0, "arrived": 0})["arrived"] += outcome.count
    paths = [{"source": p.from_step or START, "target": p.step, "took": p.count} for p in report.paths]
    # an exit leaves from wherever the run was: the map draws it as one path from the start (the step log,
    # which the paths above come from, has no entry for it)
    exited = sum(o.count for o in report.outcomes if o.outcome == "exited")
    if exited:
        paths.append({"source": START, "target": EXITED, "took": exited})
    return {"journey": report.journey, "runs": report.runs, "live": report.live, "steps": steps, "paths": paths}


async def journey_report(request: Request, journey_id: str) -> JourneyReport:
    settings: Settings = request.app.state.settings
    store: Store = request.app.state.store
    return await asyncio.to_thread(reporting.journey_report, settings, store, journey_id)


@router.get("/journeys/{journey_id}/counts")
async def journey_counts(
    request: Request, journey_id: str, person: Annotated[Person, Depends(viewer())]
) -> JSONResponse:
    return JSONResponse(counts(await journey_report(request, journey_id)), headers={"Cache-Control": "no-store"})


def timeline(story: dict[str, Any]) -> list[dict[str, Any]]:
    """The customer's events, steps, messages and audit entries in one list, newest first."""
    entries = [{"kind": "event", "at": e["at"], **e} for e in story["events"]]
    for run in story["runs"]:
        journey = run["journey"]
        entries += [{"kind": "step", "journey": journey, **s} for s in run["steps"]]
        entries += [{"kind": "message", "journey": journey, **m} for m in run["messages"]]
        entries += [{"kind": "audit", "journey": journey, **a} for a in run["audit"]]
    entries += [{"kind": "audit", "journey": None, **a} for a in story["audit"]]
    order = {"audit": 0, "message": 1, "step": 2, "event": 3}  # at the same instant: the cause below its effect
    return sorted(entries, key=lambda e: (e["at"], order[e["kind"]]), reverse=True)


async def story_of(request: Request, customer_id: str) -> dict[str, Any]:
    store: Store = request.app.state.store
    client = await request.app.state.inbound.client_or_none()
    return await status(client, store, customer_id)


@router.get("/customers/{customer_id}/timeline", response_class=HTMLResponse)
async def customer_timeline(
    request: Request, customer_id: str, person: Annotated[Person, Depends(viewer())]
) -> HTMLResponse:
    story = await story_of(request, customer_id)
    return fragment("_timeline.html", entries=timeline(story))


@router.get("/customers/{customer_id}/runs", response_class=HTMLResponse)
async def customer_runs(
    request: Request, customer_id: str, person: Annotated[Person, Depends(viewer())]
) -> HTMLResponse:
    return fragment("_runs.html", story=await story_of(request, customer_id))
