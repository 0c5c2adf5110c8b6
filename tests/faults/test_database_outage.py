"""Fault: the database goes away for a while. A private PostgreSQL cluster is the store; it is stopped the way a
crash stops it (`pg_ctl stop -m immediate`: every backend killed, no checkpoint, crash recovery on the next
start) while runs wait on short timers and for an event, and started again on the same port and data
directory. Real processes: the `temporal` dev server, `journeys worker`, the CLI, and a loopback webhook
receiver standing in for the provider.

During the outage the timers fire and the activity that follows each (reading the customer) fails with
`StoreUnavailable` and is retried (the test counts the failed attempts in the worker's log), nothing is sent,
and `journeys signal` says in one line that the store does not answer, recording nothing.
Once the database is back every run finishes, every message reached the provider exactly once, every step and
event is in the store once, and the signal that failed, run again with the same --id, takes effect once.

The outage begins only when no send is half done (every message row of the first round is complete): a
provider that accepted a message just before the database went away is the window the README documents for
a killed worker, and is tested there (test_kill.py), not here.
"""

from __future__ import annotations

import ast
import json
import re
import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from journeys.store import Store, StoreUnavailable
from journeys.store.testing import PostgresServer
from tests.support.faultjourneys import await_go_journey, webhook_step
from tests.support.faultkit import Journeys, ReceiverServer, TemporalServer, write_customers
from tests.support.polling import until

pytestmark = pytest.mark.timeout(300)

TIMER_S = 15  # long enough for every run to be waiting on it when the database goes; short enough to fire in the outage
RETRIED_WITHIN_S = 60  # after the last timer fired, every activity after a timer has failed twice on the store by then
DRIP = [f"t{n:02d}" for n in range(1, 11)]  # runs on a timer: s1, a TIMER_S wait, s2
AWAIT = [f"e{n:02d}" for n in range(1, 11)]  # runs waiting for `go`, then notify


@pytest.fixture
def pg() -> Iterator[PostgresServer]:
    """A private cluster of our own (the session's shared server must not be taken away from other tests)."""
    reason = PostgresServer.unavailable_reason(private=True)
    if reason is not None:
        pytest.skip(reason)
    server = PostgresServer.start_private()
    yield server
    server.stop()


def _definitions(folder: Path, url: str) -> Path:
    folder.mkdir()
    (folder / "drip.yaml").write_text(
        "id: drip\nname: Two webhooks with a timer between\nsteps:\n"
        + webhook_step("s1", url)
        + f"  - {{id: w1, wait: {TIMER_S}s}}\n"
        + webhook_step("s2", url)
        + "  - {id: done, end: done}\n",
        encoding="utf-8",
    )
    (folder / "await-go.yaml").write_text(await_go_journey(url), encoding="utf-8")
    return folder


def _failed_attempts(journeys: Journeys) -> dict[str, dict[str, Any]]:
    """Per run, the activity attempts the workers logged as failed: {workflow id: {types, attempts, errors}}.

    From the workers' logs rather than the server's pending activities: that way it holds for activities and
    local activities alike (a local activity is retried inside the worker, invisible to `describe`)."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(journeys.folder.glob("worker-*.log")):
        for message, exception in _log_records(path.read_text(errors="replace")):
            match = FAILED.search(message)
            if match is None:
                continue
            info = ast.literal_eval(match.group(1))
            last = [x for x in exception.splitlines() if x and not x.startswith((" ", "\t"))][-1:]
            entry = found.setdefault(info["workflow_id"], {"types": set(), "attempts": set(), "errors": set()})
            entry["types"].add(info["activity_type"])
            entry["attempts"].add(info["attempt"])
            entry["errors"].add(last[0] if last else "")
    return found


def _log_records(text: str) -> Iterator[tuple[str, str]]:
    """(message, exception text) of each record of a worker's log: JSON lines, or plain text where a record's
    traceback follows its message line."""
    message, following = "", []  # a plain-text record being read
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        if isinstance(record, dict):
            yield str(record.get("event", "")), str(record.get("exception", ""))
        elif FAILED.search(line):
            if message:
                yield message, "\n".join(following)
            message, following = line, []
        elif message:
            following.append(line)
    if message:
        yield message, "\n".join(following)


FAILED = re.compile(r"Completing activity as failed \((\{.*\})\)")
STORE_ERROR = "journeys.store.errors.StoreUnavailable: the store does not answer"


def _ended(store: Store, customers: list[str]) -> bool:
    return all(runs and all(r.outcome != "running" for r in runs) for runs in map(store.runs_of, customers))


def test_runs_finish_after_postgres_restarts_and_nothing_is_lost_or_sent_twice(
    tmp_path: Path, pg: PostgresServer
) -> None:
    customers = DRIP + AWAIT
    with ReceiverServer() as receiver:
        server = TemporalServer(tmp_path)
        journeys = Journeys(
            tmp_path, server, _definitions(tmp_path / "definitions", receiver.url), store_url=pg.create_database()
        )
        store: Store | None = None
        try:
            server.start()
            imported = journeys.run("customers", "import", str(write_customers(tmp_path / "customers.csv", customers)))
            assert imported.returncode == 0, imported.stderr
            journeys.start_worker()
            for journey, group in (("drip", DRIP), ("await-go", AWAIT)):
                enrolled = journeys.json("enroll", journey, *[a for c in group for a in ("--customer", c)])
                assert sorted(e["customer"] for e in enrolled["enrolments"] if e["status"] == "started") == group

            store = Store.open(journeys.store_url)  # opened before the outage: its pooled connections die in it
            opened = store  # (for the closures below)
            wids = {c: r.workflow_id for c in customers for r in opened.runs_of(c)}

            def quiet_and_waiting() -> bool:
                drip_ready = all(
                    [r.current_step for r in opened.runs_of(c)] == ["w1"]
                    and [(m.step, m.status) for m in opened.messages_of(c)] == [("s1", "sent")]
                    for c in DRIP
                )
                return drip_ready and all([r.current_step for r in opened.runs_of(c)] == ["hold"] for c in AWAIT)

            until(quiet_and_waiting, 60, "every run to wait (drip: s1 sent, at w1; await-go: at hold)", every=0.2)
            timers = [r.until for c in DRIP for r in store.runs_of(c)]
            assert all(timers) and receiver.count() == len(DRIP)
            first_timer, last_timer = min(timers), max(timers)  # type: ignore[type-var]

            # --- the outage ---------------------------------------------------------------------------
            pg.halt("immediate")
            down_at, posts_at_halt = datetime.now(timezone.utc), receiver.count()
            assert down_at < first_timer, f"the database went down {down_at - first_timer} after a timer fired"

            with pytest.raises(StoreUnavailable):  # the test's own store sees it too: no answer, one clear error
                store.customer_ids()

            # `journeys signal` while the database is down: one line, non-zero, no traceback
            began = time.monotonic()
            refused = journeys.run("signal", AWAIT[0], "go", "--id", f"go-{AWAIT[0]}")
            refused_in = time.monotonic() - began
            assert refused.returncode != 0
            assert "Traceback" not in refused.stderr and refused.stdout == ""
            assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr
            assert refused.stderr.startswith("error: the store does not answer"), refused.stderr

            # the timers fire in the outage; the activity after each (reading the customer) fails and is retried

            def retried_on_the_store() -> dict[str, int]:
                """The DRIP runs whose activity after the timer failed on the store and was tried again: their
                latest attempt; empty until that holds for every one of them."""
                failed = _failed_attempts(journeys)
                retried = {
                    c: max(failed[wids[c]]["attempts"])
                    for c in DRIP
                    if wids[c] in failed
                    and failed[wids[c]]["types"] == {"load_customer"}
                    and len(failed[wids[c]]["attempts"]) >= 2
                    and all(error.startswith(STORE_ERROR) for error in failed[wids[c]]["errors"])
                }
                return retried if sorted(retried) == DRIP else {}

            retried = until(
                retried_on_the_store,
                (last_timer - datetime.now(timezone.utc)).total_seconds() + RETRIED_WITHIN_S,
                "every timer's activity to fail (store down) and be retried",
                seen=lambda: _failed_attempts(journeys),
                every=0.5,
            )
            assert receiver.count() == posts_at_halt, "something was sent while the store was down"
            outage_s = (datetime.now(timezone.utc) - down_at).total_seconds()

            pg.resume()
            back_at = time.monotonic()

            # the signal that failed, again with the same --id, and the others: each recorded and taken once
            results = journeys.json_many([["signal", c, "go", "--id", f"go-{c}"] for c in AWAIT])
            for result in results:
                assert result["duplicate"] is False and [r["effect"] for r in result["runs"]] == ["advanced"], result

            until(lambda: _ended(opened, customers), 120, "every run to end after the database came back", every=0.5)
            recovered_s = time.monotonic() - back_at
            again = journeys.json("signal", AWAIT[0], "go", "--id", f"go-{AWAIT[0]}")  # once more, after the end
            outcomes = {c: [(r.outcome, r.end_label) for r in store.runs_of(c)] for c in customers}
            steps = {c: [s.step for s in store.steps_of_run(wids[c])] for c in customers}
            timelines = {c: [(e.id, e.name) for e in store.events_of(c)] for c in customers}
            rows = {c: [(m.step, m.status, m.key) for m in store.messages_of(c)] for c in customers}
        finally:
            if store is not None:
                store.close()
            journeys.kill_all()
            server.kill()
        posts = receiver.snapshot()

    assert again["duplicate"] is True and again["runs"] == []  # the run ended: the same id is the same event
    assert outcomes == {c: [("completed", "done")] for c in customers}
    assert steps == {c: ["s1", "w1", "s2", "done"] for c in DRIP} | {c: ["hold", "notify", "done"] for c in AWAIT}
    assert timelines == {c: [] for c in DRIP} | {c: [(f"go-{c}", "go")] for c in AWAIT}
    expected = {(c, s) for c in DRIP for s in ("s1", "s2")} | {(c, "notify") for c in AWAIT}
    assert {c: [(s, status) for s, status, _ in r] for c, r in rows.items()} == {
        c: [("s1", "sent"), ("s2", "sent")] for c in DRIP
    } | {c: [("notify", "sent")] for c in AWAIT}
    # the provider: every message once, with its row's idempotency key
    received = Counter((p.customer, p.step) for p in posts)
    assert received == Counter(expected), {m: n for m, n in received.items() if n != 1}
    keys = {(c, s): key for c, r in rows.items() for s, _, key in r}
    assert all(p.key == keys[(p.customer, p.step)] for p in posts)
    print(
        f"\nPostgreSQL down {outage_s:.1f} s (immediate stop); {len(DRIP)} timers fired in it, their activities "
        f"retried up to attempt {max(retried.values())}; signal refused in {refused_in:.1f} s; all "
        f"{len(customers)} runs ended {recovered_s:.1f} s after the restart; {len(posts)} posts for "
        f"{len(expected)} messages"
    )


def test_a_store_opened_before_the_outage_answers_at_once_after_it(pg: PostgresServer) -> None:
    """The engine's pooled connections all die with the server. Nobody uses the store during a first outage:
    the first call after the restart must not fail on a dead pooled connection (the pool pings it first). In a
    second outage a call fails with the store's own one-line error, and the next call after the restart works."""
    from journeys.format.customers import Profile

    store = Store.open(pg.create_database())
    try:
        store.upsert_customers([Profile(id=f"p{n}", name=f"P {n}", email=f"p{n}@example.com") for n in range(3)])
        _hold_connections(store, 3)  # several connections in the pool, all of them about to die
        pg.halt("immediate")
        pg.resume()
        assert store.customer_ids() == ["p0", "p1", "p2"]  # on a pooled connection that died: pinged, replaced
        assert [store.customer(f"p{n}") is not None for n in range(3)] == [True] * 3

        _hold_connections(store, 3)
        pg.halt("fast")
        with pytest.raises(StoreUnavailable, match="^the store does not answer .*Connection refused"):
            store.customer_ids()
        pg.resume()
        assert store.customer_ids() == ["p0", "p1", "p2"]
    finally:
        store.close()


def _hold_connections(store: Store, count: int) -> None:
    """Check `count` connections out at once and back in, so the pool keeps that many open."""
    connections: list[Any] = [store.engine.connect() for _ in range(count)]
    for connection in connections:
        connection.close()
    assert store.engine.pool.checkedin() >= count  # type: ignore[attr-defined]
