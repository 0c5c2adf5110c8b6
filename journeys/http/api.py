"""The HTTP API, version 1: the systems where sales, deliveries and uploads happen tell journeys at once.

Every route takes a bearer key (`journeys.http.auth`) and answers JSON; errors are `{"error": "one line"}`
(`journeys.http.errors`). The routes are thin: the services do the work, as they do for the CLI.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from journeys.http.auth import Caller, requires
from journeys.http.errors import ApiError
from journeys.services.catalogue import definitions
from journeys.settings import Settings
from journeys.store import Store

ERRORS = {
    status: {"model": ApiError, "description": description}
    for status, description in (
        (400, "malformed JSON, or a body that is not what the route takes"),
        (401, "no API key, or an unknown or revoked one"),
        (403, "the key's scope does not allow this"),
        (413, "a body over 1 MB"),
        (422, "a field that is wrong, named"),
        (429, "over the key's rate: see Retry-After"),
        (503, "the store does not answer"),
    )
}

router = APIRouter(prefix="/v1", responses=ERRORS)  # type: ignore[arg-type]


class JourneySummary(BaseModel):
    id: str
    name: str
    version: int
    paused: bool
    live_runs: int


@router.get("/journeys", response_model=list[JourneySummary], summary="The journeys in the definitions folder")
async def journeys(request: Request, caller: Annotated[Caller, Depends(requires("read"))]) -> list[JourneySummary]:
    settings: Settings = request.app.state.settings
    store: Store = request.app.state.store
    catalogue = await asyncio.to_thread(definitions, settings)
    live, paused = await asyncio.to_thread(store.journeys_overview)
    return [
        JourneySummary(id=j.id, name=j.name, version=j.version, paused=j.id in paused, live_runs=live.get(j.id, 0))
        for j in catalogue.values()
    ]
