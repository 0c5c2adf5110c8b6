"""The web console on live runs (the time-skipping server and a worker behind the app): the customer's story
in one list newest first, the runs at a step, the map's counts equal to `journeys report`'s, and support's,
marketers' and admins' actions done by the services the CLI uses, audited under the signed-in name."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from temporalio.client import Client

from journeys.format.journey_map import EXITED, START
from journeys.services.catalogue import publish
from journeys.services.control import settle
from journeys.services.delivery import signal
from journeys.services.enrolment import enroll
from journeys.services.reporting import journey_report
from journeys.settings import Settings
from journeys.store import ROLES, Store
from tests.support import ROOT
from tests.support.console import PASSWORD, console_client, csrf_of, post_form, post_on_customer, sign_in
from tests.temporal.test_live_control import customer

MODEM_SWAP = ROOT / "definitions" / "modem_swap.yaml"


@pytest.fixture
async def http(client: Client, settings: Settings, store: Store) -> AsyncIterator[httpx.AsyncClient]:
    for role in ROLES:
        store.add_user(f"{role}-1", role, PASSWORD, by="test")

    async def connected() -> Client:
        return client

    async with console_client(settings, store, connected) as browser:
        yield browser


async def _waiting(client: Client, store: Store, settings: Settings, cid: str) -> str:
    """A run of the modem swap that sent its invitation and waits for the registration."""
    store.upsert_customers([customer(cid)])
    (run,) = await enroll(client, store, settings, publish(MODEM_SWAP), [cid])
    assert run.workflow_id is not None
    await settle(client, run.workflow_id)
    return run.workflow_id


def _kinds_and_times(html: str) -> list[tuple[str, str]]:
    return re.findall(r'<li data-kind="(\w+)" data-at="([^"]+)"', html)


async def test_the_customer_page_tells_events_steps_messages_and_audit_in_one_list_newest_first(
    http: httpx.AsyncClient, client: Client, store: Store, settings: Settings
) -> None:
    wid = await _waiting(client, store, settings, "c1")
    await sign_in(http, "support-1")

    answer = await post_on_customer(http, "c1", "events", {"event": "registered", "reason": "by phone"})
    await settle(client, wid)
    page = await http.get("/console/customers/c1")

    assert answer.status_code == 303
    entries = _kinds_and_times(page.text)
    assert {kind for kind, _ in entries} == {"event", "step", "message", "audit"}
    times = [at for _, at in entries]
    assert times == sorted(times, reverse=True)
    assert "await_delivery" in page.text and "by phone" in page.text
    fragment = await http.get("/console/customers/c1/timeline")
    assert _kinds_and_times(fragment.text) == entries
    runs = await http.get("/console/customers/c1/runs")  # what the page's script reads again after a form
    assert f'data-run="{wid}"' in runs.text and "at <a" in runs.text and "await_delivery" in runs.text


async def test_cancel_and_move_from_the_console_are_audited_under_the_signed_in_name(
    http: httpx.AsyncClient, client: Client, store: Store, settings: Settings
) -> None:
    moved_wid = await _waiting(client, store, settings, "c2")
    await sign_in(http, "support-1")

    moved = await post_on_customer(
        http, "c2", "move", {"journey": "modem-swap", "step": "await_delivery", "reason": "registered in the shop"}
    )
    cancelled = await post_on_customer(http, "c2", "cancel", {"journey": "modem-swap", "reason": "moved away"})

    assert moved.status_code == 303 and cancelled.status_code == 303
    audits = [(a.kind, a.by, a.reason) for a in store.audits_of(moved_wid)]
    assert audits == [("move", "support-1", "registered in the shop"), ("cancel", "support-1", "moved away")]
    assert store.runs_of("c2")[0].outcome == "cancelled"


async def test_a_move_to_a_step_the_journey_lacks_is_one_line_and_changes_nothing(
    http: httpx.AsyncClient, client: Client, store: Store, settings: Settings
) -> None:
    wid = await _waiting(client, store, settings, "c3")
    await sign_in(http, "support-1")

    answer = await post_on_customer(http, "c3", "move", {"journey": "modem-swap", "step": "nowhere", "reason": "typo"})

    assert answer.status_code == 422 and "no step" in answer.text and "Traceback" not in answer.text
    assert store.audits_of(wid) == []


async def test_the_step_page_lists_the_runs_there_with_what_they_wait_for(
    http: httpx.AsyncClient, client: Client, store: Store, settings: Settings
) -> None:
    for cid in ("c4", "c5"):
        await _waiting(client, store, settings, cid)
    await sign_in(http, "viewer-1")

    page = await http.get("/console/journeys/modem-swap/steps/await_registration")
    elsewhere = await http.get("/console/journeys/modem-swap/steps/settle")

    rows = re.findall(r'<tr data-run="([^"]+)">\s*<td><a href="/console/customers/(\w+)"', page.text)
    assert sorted(cid for _, cid in rows) == ["c4", "c5"]
    assert "registered" in page.text and "UTC" in page.text
    assert "No run is at this step now." in elsewhere.text


async def test_the_map_counts_equal_the_report(
    http: httpx.AsyncClient, client: Client, store: Store, settings: Settings
) -> None:
    for cid in ("c6", "c7", "c8"):
        await _waiting(client, store, settings, cid)
    await signal(client, store, settings, "c8", "swapped", {})
    await sign_in(http, "viewer-1")

    counts = (await http.get("/console/journeys/modem-swap/counts")).json()
    page = await http.get("/console/journeys/modem-swap")
    report = journey_report(settings, store, "modem-swap")

    assert {k: v for k, v in counts["steps"].items() if not k.startswith("(")} == {
        s.step: {"now": s.now, "arrived": s.arrived} for s in report.steps
    }
    assert counts["paths"] == [
        *({"source": p.from_step or START, "target": p.step, "took": p.count} for p in report.paths),
        {"source": START, "target": EXITED, "took": 1},  # c8 swapped: the exit path counts it, as the node does
    ]
    assert counts["steps"]["(exited)"] == {"now": 0, "arrived": 1}
    assert counts["steps"]["await_registration"] == {"now": 2, "arrived": 3}
    assert re.search(r'data-step="await_registration" data-now="2" data-arrived="3"', page.text)
    assert re.search(r'data-source="invite" data-target="await_registration" data-took="3"', page.text)
    assert re.search(r'data-source="\(start\)" data-target="\(exited\)" data-took="1"', page.text)


async def test_a_marketer_pauses_resumes_and_enrols_from_the_journey_page(
    http: httpx.AsyncClient, client: Client, store: Store, settings: Settings
) -> None:
    store.upsert_customers([customer("c8")])
    await sign_in(http, "marketer-1")
    page = "/console/journeys/modem-swap"

    paused = await post_form(http, page, f"{page}/pause", {})
    refused = await post_form(http, page, f"{page}/enrol", {"customers": "c8"})
    resumed = await post_form(http, page, f"{page}/resume", {})
    enrolled = await post_form(http, page, f"{page}/enrol", {"customers": "c8"})

    assert paused.status_code == 303 and resumed.status_code == 303
    assert refused.status_code == 422 and "paused" in refused.text
    assert enrolled.status_code == 303 and "c8%3A%20started" in enrolled.headers["location"]
    assert not store.is_paused("modem-swap") and [r.journey_id for r in store.runs_of("c8")] == ["modem-swap"]


async def test_an_admin_erases_a_customer_with_a_reason_under_their_name(
    http: httpx.AsyncClient, client: Client, store: Store, settings: Settings
) -> None:
    store.upsert_customers([customer("c9")])  # with no run: the test server cannot delete workflow histories
    await sign_in(http, "admin-1")

    token = csrf_of((await http.get("/console/customers/c9")).text)
    answer = await http.post("/console/customers/c9/erase", data={"reason": "asked to be forgotten", "csrf": token})

    assert answer.status_code == 303 and answer.headers["location"].startswith("/console/?said=")
    assert store.customer_row("c9") is None
    (erasure,) = store.customer_audits_of("c9")
    assert (erasure.by, erasure.reason) == ("admin-1", "asked to be forgotten")
