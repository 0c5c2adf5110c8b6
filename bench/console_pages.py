"""The web console's journey page with many live runs: the server's time to answer
`GET /console/journeys/modem-swap` (signed in; the map with each step's counts, the report's tables, the live
runs per version), against the same journey's data read as `journeys report --json` reads it
(`reporting.journey_report`, dumped to JSON), in the same run on the same store.

The page reads the store only (the report's counts and the live runs' versions), never Temporal, so the store
is filled directly: N live runs of the modem swap, registered as enrolment registers them, spread over a few
waiting steps, each with the step log its path through the journey would have written. The app is served in
this process over ASGI (httpx), so the time is the server's: routing, session, queries, the map and the page.
"""

from __future__ import annotations

import asyncio
import re
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
from sqlmodel import Session
from temporalio.client import Client

from bench.console import say
from bench.report import Figure, against
from journeys.errors import TemporalUnavailable
from journeys.format.customers import Profile
from journeys.http.app import create_app
from journeys.services import reporting
from journeys.settings import Settings
from journeys.store import StepLogRow, Store
from journeys.store.runs import new_run

DEFINITIONS = Path(__file__).resolve().parents[1] / "definitions"
JOURNEY = "modem-swap"
TARGET_MS = 300.0
SAMPLES = 15  # timed requests (and as many reports), after WARM_UP of each
WARM_UP = 3
# where the live runs wait, one in each `len(PATHS)`, and the steps each took to get there
PATHS = [
    ["invite", "await_registration"],
    ["invite", "await_registration"],
    ["invite", "await_registration", "remind", "remind_wait"],
    ["invite", "await_registration", "await_delivery"],
    ["invite", "await_registration", "await_delivery", "check_id", "ask_id", "await_id"],
]
PASSWORD = "bench console password"
_CSRF = re.compile(r'name="csrf" value="([^"]*)"')


def run(quick: bool) -> list[Figure]:
    return asyncio.run(measure(1_000 if quick else 10_000))


def fill(store: Store, runs: int) -> None:
    """`runs` customers, each with a live modem-swap run at the end of one of PATHS, and its step log."""
    store.upsert_customers(
        Profile(id=f"c{n}", name=f"Customer {n}", email=f"c{n}@example.com", locale="en", attributes={"plan": "wimax"})
        for n in range(runs)
    )
    began = datetime.now(timezone.utc) - timedelta(days=3)
    with Session(store.engine) as session:
        for n in range(runs):
            path, wid, at = PATHS[n % len(PATHS)], f"{JOURNEY}:c{n}:1", began + timedelta(seconds=n)
            row = new_run(wid, JOURNEY, 3, f"c{n}", 1, at)
            row.current_step, row.updated_at = path[-1], at + timedelta(minutes=len(path))
            session.add(row)
            session.add_all(
                StepLogRow(
                    workflow_id=wid,
                    journey_id=JOURNEY,
                    version=3,
                    step=step,
                    from_step=path[i - 1] if i else None,
                    at=at + timedelta(minutes=i),
                    seq=i,
                )
                for i, step in enumerate(path)
            )
        session.commit()


async def _no_temporal() -> Client:
    raise TemporalUnavailable("the journey page does not need Temporal")


async def signed_in(http: httpx.AsyncClient, name: str) -> None:
    """Through the sign-in form, as a browser does."""
    form = await http.get("/console/sign-in")
    token = _CSRF.search(form.text)
    assert token is not None, "the sign-in page has no CSRF token"
    answer = await http.post("/console/sign-in", data={"username": name, "password": PASSWORD, "csrf": token[1]})
    assert answer.status_code == 303, f"signing in answered {answer.status_code}"


async def timed(what: Callable[[], Awaitable[object]]) -> list[float]:
    """Milliseconds of each of SAMPLES calls of `what`, after WARM_UP untimed ones."""
    for _ in range(WARM_UP):
        await what()
    times = []
    for _ in range(SAMPLES):
        began = time.perf_counter()
        await what()
        times.append((time.perf_counter() - began) * 1000)
    return times


async def measure(runs: int) -> list[Figure]:
    with tempfile.TemporaryDirectory(prefix="journeys-bench-console-") as folder:
        settings = Settings(
            data_dir=Path(folder), definitions=DEFINITIONS, database_url=f"sqlite:///{Path(folder) / 'journeys.db'}"
        )
        store = Store.open(settings.store_url)
        try:
            say(f"console: {runs:,} live runs of {JOURNEY} in the store")
            await asyncio.to_thread(fill, store, runs)
            store.add_user("bench", "viewer", PASSWORD, by="bench")
            app = create_app(settings, store, _no_temporal)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://journeys.test") as http:
                await signed_in(http, "bench")

                async def page() -> None:
                    answer = await http.get(f"/console/journeys/{JOURNEY}")
                    assert answer.status_code == 200 and f'data-now="{runs // len(PATHS) * 2}"' in answer.text

                async def report() -> None:
                    found = await asyncio.to_thread(reporting.journey_report, settings, store, JOURNEY)
                    assert found.live == runs
                    found.model_dump_json()

                page_ms = statistics.median(await timed(page))
                report_ms = statistics.median(await timed(report))
        finally:
            store.close()
    return [
        against(
            f"console_journey_page_{runs}_live_runs_p50_ms",
            page_ms,
            report_ms,
            "ms",
            target=f"< {TARGET_MS:g} ms at 10,000; baseline: journeys report --json's data",
            met=page_ms < TARGET_MS,
        )
    ]
