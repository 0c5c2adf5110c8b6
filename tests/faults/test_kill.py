"""Faults: a worker SIGKILLed in the middle of a batch of sends, and the Temporal dev server SIGKILLed and
restarted on its database file. Real processes (the `temporal` binary, `journeys worker`, the CLI), a SQLite
store, and a loopback webhook receiver standing in for the provider, counting what it really receives.

What may legitimately repeat is only the one window the README documents: the provider accepted a message
and the worker died before the message row was completed; the retried send then goes out again with the
same idempotency key. Anything else received twice is a bug.

Bounds: a send that was running on the killed worker is retried only when its start-to-close timeout
(`SEND_TIMEOUT`) runs out, so the first test takes that long whenever the kill lands mid-send. The third test
kills the server while `journeys signal` is delivering events it has recorded: the events stay owed, and the
restarted worker's deliverer brings each to its run with no one sending anything again.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from journeys.store import Store
from tests.support.faultjourneys import (
    RECOVERY_S,
    Kill,
    await_go_journey,
    by_message,
    outcomes,
    outside_window,
    wait_all_ended,
    webhook_step,
)
from tests.support.faultkit import Journeys, ReceiverServer, TemporalServer, write_customers
from tests.support.polling import until

pytestmark = pytest.mark.timeout(300)

SENDS = ("s1", "s2", "s3", "s4")


def drip_journey(url: str) -> str:
    """Four webhook sends three seconds apart (durable timers between them)."""
    text = "id: drip\nname: Four webhooks three seconds apart\nsteps:\n"
    for n, step in enumerate(SENDS, start=1):
        text += webhook_step(step, url)
        if n < len(SENDS):
            text += f"  - {{id: w{n}, wait: 3s}}\n"
    return text + "  - {id: done, end: done}\n"


def _setup(tmp_path: Path, journey: str) -> tuple[TemporalServer, Journeys]:
    definitions = tmp_path / "definitions"
    definitions.mkdir()
    journey_id = journey.split("\n", 1)[0].removeprefix("id: ")
    (definitions / f"{journey_id}.yaml").write_text(journey, encoding="utf-8")
    server = TemporalServer(tmp_path)
    return server, Journeys(tmp_path, server, definitions)


def _import(journeys: Journeys, tmp_path: Path, customers: list[str]) -> None:
    imported = journeys.run("customers", "import", str(write_customers(tmp_path / "customers.csv", customers)))
    assert imported.returncode == 0, imported.stderr
    assert f"{len(customers)} imported" in imported.stdout, imported.stdout


def _start(
    server: TemporalServer, journeys: Journeys, tmp_path: Path, journey_id: str, customers: list[str]
) -> subprocess.Popen[bytes]:
    """Start the server and a worker, import the customers and enrol them all; returns the worker."""
    server.start()
    _import(journeys, tmp_path, customers)
    worker = journeys.start_worker()
    enrolled = journeys.json("enroll", journey_id, "--all")
    assert sorted(e["customer"] for e in enrolled["enrolments"] if e["status"] == "started") == sorted(customers)
    return worker


# --- 1. a worker SIGKILLed mid-batch --------------------------------------------------------------


def test_worker_killed_mid_batch_each_message_reaches_the_provider_once_or_inside_the_window(tmp_path: Path) -> None:
    customers = [f"k{n:02d}" for n in range(1, 31)]
    with ReceiverServer() as receiver:
        server, journeys = _setup(tmp_path, drip_journey(receiver.url))
        try:
            first = _start(server, journeys, tmp_path, "drip", customers)

            # mid-batch: the first round of sends is done and the second is going out right now
            until(lambda: receiver.count() >= len(customers) * 3 // 2, 60, "half the second round of sends")
            journeys.kill(first)
            killed_at, posts_before_kill = time.monotonic(), receiver.count()
            journeys.start_worker()
            restarted_at = time.monotonic()

            store = Store.open(journeys.store_url)
            try:
                wait_all_ended(store, customers, RECOVERY_S, journeys)
                ended = outcomes(store, customers)
                rows = {c: store.messages_of(c) for c in customers}
            finally:
                store.close()
        finally:
            journeys.kill_all()
            server.kill()
        posts = receiver.snapshot()

    assert {c: runs for c, runs in ended.items() if runs != [("completed", "done")]} == {}
    # the store: exactly one message row per (customer, step), every one sent, visit 1
    for customer in customers:
        assert sorted((r.step, r.visit, r.status) for r in rows[customer]) == [(s, 1, "sent") for s in SENDS], customer
    keys = {(r.customer_id, r.step): r.key for customer in customers for r in rows[customer]}

    # the provider: every message, each once, or repeated only inside the documented window
    received = by_message(posts)
    assert set(received) == {(c, s) for c in customers for s in SENDS}
    duplicates = {message: group for message, group in received.items() if len(group) > 1}
    outside = outside_window(received, keys, Kill(at=killed_at, retry_from=restarted_at))
    print(
        f"\nworker SIGKILLed after {posts_before_kill} of {len(keys)} sends; {len(posts)} requests received for "
        f"{len(keys)} messages; duplicates inside the window: {len(duplicates) - len(outside)}"
        + "".join(f"\n  duplicate {c}/{s} key {keys[(c, s)]}" for (c, s) in sorted(duplicates))
    )
    assert outside == {}, f"received more than once outside the documented window: {outside}"
    assert all(p.key == keys[(p.customer, p.step)] for p in posts)  # the provider saw the row's key every time


# --- 2. the Temporal server SIGKILLed and restarted -----------------------------------------------


def _signal_all(journeys: Journeys, customers: list[str]) -> dict[str, str]:
    """`journeys signal C go --id go-C` for each customer at once; each must have advanced its run."""
    results = journeys.json_many([["signal", c, "go", "--id", f"go-{c}"] for c in customers])
    for result in results:
        assert [r["effect"] for r in result["runs"]] == ["advanced"], result
    return {r["customer"]: r["event_id"] for r in results}


def _wait_at_hold(store: Store, customers: list[str]) -> None:
    until(
        lambda: all([r.current_step for r in store.runs_of(c)] == ["hold"] for c in customers),
        30,
        "every run to wait at `hold`",
    )


def test_server_killed_and_restarted_runs_resume_and_no_recorded_event_is_lost(tmp_path: Path) -> None:
    before = [f"b{n:02d}" for n in range(1, 7)]  # signalled before the crash
    after = [f"a{n:02d}" for n in range(1, 7)]  # still waiting when the server dies; signalled after the restart
    customers = before + after
    with ReceiverServer() as receiver:
        server, journeys = _setup(tmp_path, await_go_journey(receiver.url))
        try:
            worker = _start(server, journeys, tmp_path, "await-go", customers)
            store = Store.open(journeys.store_url)
            try:
                _wait_at_hold(store, customers)
                signalled = _signal_all(journeys, before)
                server.kill()  # SIGKILL, right after the events were taken in (sends may be under way)
                posts_at_kill = receiver.count()
                server.start()
                worker_survived = worker.poll() is None
                if not worker_survived:
                    worker = journeys.start_worker()

                # the runs resumed where they were: the ones not signalled still wait at `hold`, for `go`
                for status in journeys.json_many([["status", c] for c in after]):
                    (run,) = status["runs"]
                    assert (run["outcome"], run["current_step"], run["waiting_for"]) == ("running", "hold", ["go"])
                signalled |= _signal_all(journeys, after)

                wait_all_ended(store, customers, 60, journeys)
                ended = outcomes(store, customers)
                timelines = {c: [(e.id, e.name) for e in store.events_of(c)] for c in customers}
                rows = {c: store.messages_of(c) for c in customers}
            finally:
                store.close()
        finally:
            journeys.kill_all()
            server.kill()
        posts = receiver.snapshot()

    # every event recorded before (and after) the crash is on the timeline once, and its run took it: done
    assert timelines == {c: [(signalled[c], "go")] for c in customers}
    assert {c: runs for c, runs in ended.items() if runs != [("completed", "done")]} == {}
    assert {c: [(r.step, r.status) for r in rows[c]] for c in customers} == {c: [("notify", "sent")] for c in customers}
    assert {m: len(g) for m, g in by_message(posts).items()} == {(c, "notify"): 1 for c in customers}
    print(
        f"\ndev server SIGKILLed once and restarted on its file (worker survived: {worker_survived}); "
        f"{len(before)} events before ({posts_at_kill} of their posts in at the kill), {len(after)} after; "
        f"{len(posts)} posts for {len(customers)} messages"
    )


class LostEvent(AssertionError):
    """An event on the customer's timeline that its live run never took."""


OUTAGE_S = 15  # longer than the Temporal client's own retries of a call in flight (about 10 s)


def test_events_in_flight_when_server_and_worker_die_reach_their_runs(tmp_path: Path) -> None:
    """The machine dies (worker, then server) while `journeys signal` is delivering events it has recorded; the
    server comes back after OUTAGE_S. Whatever the commands said, no one sends anything again: the recorded
    events are owed to the runs, and the deliverer beside the restarted worker brings every one to its run."""
    customers = [f"f{n:02d}" for n in range(1, 5)]
    pending: dict[str, subprocess.Popen[str]] = {}
    with ReceiverServer() as receiver:
        server, journeys = _setup(tmp_path, await_go_journey(receiver.url))
        try:
            worker = _start(server, journeys, tmp_path, "await-go", customers)
            store = Store.open(journeys.store_url)
            try:
                _wait_at_hold(store, customers)
                journeys.kill(worker)  # no worker: each signal's update waits to be taken in, after recording
                pending |= {c: journeys.spawn("signal", c, "go", "--id", f"go-{c}", "--json") for c in customers}
                until(lambda: all(store.events_of(c) for c in customers), 60, "every event to be recorded")
                assert all(p.poll() is None for p in pending.values()), "a signal ended before the crash"
                server.kill()
                time.sleep(OUTAGE_S)
                server.start()
                journeys.start_worker()
                said = {}
                for customer, process in pending.items():
                    out, err = process.communicate(timeout=150)
                    said[customer] = (process.returncode, _effects(out), err.strip().splitlines()[-1:])
                try:
                    wait_all_ended(store, customers, 30, journeys)
                except AssertionError:
                    lost = {
                        c: {"timeline": [e.id for e in store.events_of(c)], "said": said[c]}
                        for c in customers
                        if any(r.outcome == "running" for r in store.runs_of(c))
                    }
                    raise LostEvent(
                        f"recorded events their live runs never took (after a {OUTAGE_S} s outage): {lost}"
                    ) from None
                ended = outcomes(store, customers)
            finally:
                store.close()
        finally:
            journeys.kill_all()
            for process in pending.values():
                journeys.kill(process)
            server.kill()
        posts = receiver.snapshot()

    assert {c: runs for c, runs in ended.items() if runs != [("completed", "done")]} == {}
    assert {m: len(g) for m, g in by_message(posts).items()} == {(c, "notify"): 1 for c in customers}


def _json_in(out: str) -> dict[str, object]:
    """The JSON document a `--json` command printed (the Temporal client's retry warnings may precede it)."""
    start = out.find("{\n")
    return json.loads(out[start:]) if start >= 0 else {}


def _effects(out: str) -> list[str]:
    return [r["effect"] for r in _json_in(out).get("runs", [])]  # type: ignore[union-attr]
