"""Fault: duplicate and reordered input. 1,000 runs wait for the event `go` (25 journeys, each enrolled with
`journeys enroll J --all` for the same 40 customers, so a customer has 25 live runs and one `journeys signal`
delivers to 25 of them at once). Then 50 `journeys signal` processes start together: every customer is
signalled, and four customers by several processes at once with the very same --id (twice for two of them, five
times for two others). The processes race each other to record the event and to deliver it, in whatever order
the machine runs them.

Each journey would show a second taking of the same event: after `go` the run waits again, for 20 s, for a `go`
that arrives after it got there (`since: step`), ending `twice` if one does and `once` if none does. So a run
that took a duplicate of its event ends `twice`, a run that missed it ends `missed` (or is still waiting), and
only a run that took it exactly once ends `once`. Each run's Temporal history must also hold exactly one
accepted `deliver` update, whatever the number of processes that delivered the event to it.

Real processes: the `temporal` dev server, one `journeys worker`, the CLI; the store on SQLite (the default:
one writer at a time) and on PostgreSQL (concurrent transactions, serialised per customer by a row lock). The CLI
costs about a second of CPU per process (imports and the client's connection), so 1,000 runs are reached with
25 `enroll` and 50 `signal` processes rather than one process per run.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowUpdateRPCTimeoutOrCancelledError

from journeys.errors import JourneysError
from journeys.format.customers import Event
from journeys.services import delivery, shared
from journeys.store import Store
from tests.support.faultkit import Journeys, TemporalServer, write_customers
from tests.support.polling import until

pytestmark = pytest.mark.timeout(420)

JOURNEYS = [f"j{n:02d}" for n in range(1, 26)]
CUSTOMERS = [f"c{n:02d}" for n in range(1, 41)]
# how many processes signal each customer, all with the same --id: 36 × 1 + 2 × 2 + 2 × 5 = 50 processes
SENDERS = {c: 1 for c in CUSTOMERS[:36]} | {c: 2 for c in CUSTOMERS[36:38]} | {c: 5 for c in CUSTOMERS[38:]}
AGAIN_S = 20  # how long a run waits for a second `go` after taking the first
ENROL_AT_ONCE = 8  # `journeys enroll` processes running together


def _journey(journey_id: str) -> str:
    return (
        f"id: {journey_id}\nname: Takes go once ({journey_id})\nsteps:\n"
        "  - {id: hold, wait_for: go, timeout: 1h, on_timeout: missed}\n"
        f"  - {{id: again, wait_for: go, since: step, timeout: {AGAIN_S}s, on_timeout: once,"
        " on_event: {go: twice}}\n"
        "  - {id: once, end: once}\n"
        "  - {id: twice, end: twice}\n"
        "  - {id: missed, end: missed}\n"
    )


def _setup(tmp_path: Path) -> tuple[TemporalServer, Journeys]:
    definitions = tmp_path / "definitions"
    definitions.mkdir()
    for journey_id in JOURNEYS:
        (definitions / f"{journey_id}.yaml").write_text(_journey(journey_id), encoding="utf-8")
    server = TemporalServer(tmp_path)
    return server, Journeys(tmp_path, server, definitions)


def _json_in(out: str) -> Any:
    """The JSON document a `--json` command printed (the Temporal client's retry warnings may precede it)."""
    return json.loads(out[out.find("{") :])


async def _deliver_updates(address: str, workflow_ids: list[str]) -> dict[str, list[str]]:
    """Per run, the ids of the `deliver` updates its Temporal history accepted."""
    client = await Client.connect(address)
    gate = asyncio.Semaphore(32)

    async def one(wid: str) -> tuple[str, list[str]]:
        async with gate:
            history = await client.get_workflow_handle(wid).fetch_history()
        accepted = [
            e.workflow_execution_update_accepted_event_attributes.accepted_request
            for e in history.events
            if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
        ]
        return wid, [r.meta.update_id for r in accepted if r.input.name == "deliver"]

    return dict(await asyncio.gather(*(one(w) for w in workflow_ids)))


def _waiting_at(store: Store, step: str) -> int:
    return sum(r.current_step == step for j in JOURNEYS for r in store.live_runs_of_journey(j))


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_same_event_id_sent_concurrently_is_one_event_and_every_run_takes_it_once(
    tmp_path: Path, database: str, request: pytest.FixtureRequest
) -> None:
    server, journeys = _setup(tmp_path)
    if database == "postgresql":
        url = request.getfixturevalue("postgres_url")
        journeys.store_url, journeys.env["JOURNEYS_DATABASE_URL"] = url, url
    processes: list[Any] = []
    try:
        server.start()
        imported = journeys.run("customers", "import", str(write_customers(tmp_path / "customers.csv", CUSTOMERS)))
        assert imported.returncode == 0, imported.stderr
        journeys.start_worker()
        store = Store.open(journeys.store_url)
        try:
            began = time.monotonic()
            for n in range(0, len(JOURNEYS), ENROL_AT_ONCE):
                batch = JOURNEYS[n : n + ENROL_AT_ONCE]
                for result in journeys.json_many([["enroll", j, "--all"] for j in batch], timeout=180):
                    started = sorted(e["customer"] for e in result["enrolments"] if e["status"] == "started")
                    statuses = Counter(e["status"] for e in result["enrolments"])
                    assert started == CUSTOMERS, f"{result['journey']}: {statuses}"
            runs = len(JOURNEYS) * len(CUSTOMERS)
            until(lambda: _waiting_at(store, "hold") == runs, 180, f"all {runs} runs to wait at `hold`", every=1)
            enrolled_s = time.monotonic() - began

            # 50 processes at once; the ones for the same customer send the very same --id
            began = time.monotonic()
            commands = [
                (c, ["signal", c, "go", "--id", f"go-{c}", "--json"]) for c, n in SENDERS.items() for _ in range(n)
            ]
            assert len(commands) == 50
            processes = [(c, journeys.spawn(*command)) for c, command in commands]
            said: list[tuple[str, dict[str, Any]]] = []
            for customer, process in processes:
                out, err = process.communicate(timeout=240)
                assert process.returncode == 0, f"signal {customer} exited {process.returncode}: {err}"
                said.append((customer, _json_in(out)))
            signalled_s = time.monotonic() - began

            def ended() -> bool:
                return sum(len(store.live_runs_of_journey(j)) for j in JOURNEYS) == 0

            until(ended, AGAIN_S + 90, "every run to end", every=1)
            outcomes = Counter(
                (r.outcome, r.end_label) for c in CUSTOMERS for r in store.runs_of(c) if r.journey_id in JOURNEYS
            )
            runs_of = {c: store.runs_of(c) for c in CUSTOMERS}
            steps = Counter(
                tuple(s.step for s in store.steps_of_run(r.workflow_id)) for rs in runs_of.values() for r in rs
            )
            timelines = {c: [(e.id, e.name) for e in store.events_of(c)] for c in CUSTOMERS}
            reports = {j: store.journey_report(j) for j in JOURNEYS}
            status = journeys.json("status", CUSTOMERS[-1])  # a customer five processes signalled at once
            updates = asyncio.run(
                _deliver_updates(server.address, [r.workflow_id for rs in runs_of.values() for r in rs])
            )
        finally:
            store.close()
    finally:
        for _, process in processes:
            journeys.kill(process)
        journeys.kill_all()
        server.kill()

    # the store: one event per customer, recorded by exactly one of the processes that sent it
    assert timelines == {c: [(f"go-{c}", "go")] for c in CUSTOMERS}
    recorded = Counter(c for c, result in said if not result["duplicate"])
    assert recorded == Counter(CUSTOMERS), f"recorded more or less than once: {recorded}"
    assert all(result["event_id"] == f"go-{c}" for c, result in said)

    # the runs: each took the event exactly once, whichever process delivered it first. A process delivering an
    # event id a run has taken is told what that delivery did (the same update on the server), or `ignored`
    wids = {r.workflow_id for rs in runs_of.values() for r in rs}
    assert len(wids) == len(JOURNEYS) * len(CUSTOMERS)
    effects = Counter(r["effect"] for _, result in said for r in result["runs"])
    advanced = {r["workflow_id"] for _, result in said for r in result["runs"] if r["effect"] == "advanced"}
    assert set(effects) <= {"advanced", "ignored"}, effects
    assert advanced == wids, f"{len(wids - advanced)} runs were never reported advanced"
    assert {w: ids for w, ids in updates.items() if ids != [f"deliver:go-{w.split(':')[2]}"]} == {}, (
        "a run accepted the event's delivery more or less than once"
    )
    assert outcomes == {("completed", "once"): len(wids)}, outcomes
    assert steps == {("hold", "again", "once"): len(wids)}, steps
    for journey_id, report in reports.items():
        assert (report.runs, report.live) == (len(CUSTOMERS), 0), journey_id
        assert [(o.outcome, o.end_label, o.count) for o in report.outcomes] == [("completed", "once", len(CUSTOMERS))]
    assert sorted((r["journey"], r["outcome"], r["end_label"]) for r in status["runs"]) == [
        (j, "completed", "once") for j in JOURNEYS
    ]

    duplicates = sum(result["duplicate"] for _, result in said)
    print(
        f"\n{database}: {len(wids)} runs of {len(JOURNEYS)} journeys enrolled and waiting in {enrolled_s:.0f} s; "
        f"50 signal processes ({len(CUSTOMERS)} event ids) in {signalled_s:.0f} s; {duplicates} reported duplicate; "
        f"{sum(effects.values())} deliveries reported ({dict(effects)}); "
        f"outcomes {dict(outcomes)}"
    )


# --- the server gives up on a delivery before the worker took it in (what 50 processes at once provoked) -------


class _BusyHandle:
    """A workflow handle whose first `timeouts` update calls end as a busy server ends them."""

    def __init__(self, timeouts: float) -> None:
        self.timeouts = timeouts
        self.calls: list[tuple[str, str, str | None]] = []

    async def execute_update(self, name: str, event: Event, *, id: str | None, result_type: type) -> str:
        self.calls.append((name, event.id, id))
        if len(self.calls) <= self.timeouts:
            raise WorkflowUpdateRPCTimeoutOrCancelledError()
        return "advanced"


class _Client:
    def __init__(self, handle: _BusyHandle) -> None:
        self.handle = handle

    def get_workflow_handle(self, workflow_id: str) -> _BusyHandle:
        return self.handle


async def test_a_delivery_the_server_gave_up_on_is_asked_again_under_the_same_update_id() -> None:
    """Found by the test above: under load the update call timed out and `journeys signal` died with a traceback.
    Now it asks again, with the same update id, so the server joins the update it may already hold."""
    handle = _BusyHandle(timeouts=2)
    event = Event(id="go-c01", name="go", data={}, at=shared.utc_now())
    effect = await delivery.deliver(_Client(handle), "journey:j01:c01:1", "j01", event)  # type: ignore[arg-type]
    assert (effect.effect, effect.workflow_id) == ("advanced", "journey:j01:c01:1")
    assert handle.calls == [("deliver", "go-c01", "deliver:go-c01")] * 3


async def test_a_delivery_the_server_never_takes_ends_in_one_line_naming_the_id(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(delivery, "DELIVER_PATIENCE", timedelta(0))
    event = Event(id="go-c02", name="go", data={}, at=shared.utc_now())
    with pytest.raises(
        JourneysError, match="the event is recorded and owed: .* as does the same command again with --id go-c02"
    ):
        await delivery.deliver(_Client(_BusyHandle(timeouts=float("inf"))), "w", "j01", event)  # type: ignore[arg-type]
