"""Enrolment decides and registers a run in one transaction under the customer's lock, so an event recorded
at the same moment is either seen by the decision or finds the run live (never neither)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

from journeys.engine.interpreter import PastRun
from journeys.engine.runs import Progress
from journeys.format.customers import Customer, Event, Profile
from journeys.store import Store

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc)


def unless_swapped(customer: Customer, past: list[PastRun]) -> str | None:
    return "swapped" if "swapped" in customer.events else None


def test_a_new_run_is_registered_with_the_snapshot_the_decision_saw(store: Store, ada: str) -> None:
    store.record_event(ada, Event(id="e1", name="registered", at=T0))
    registration = store.register_run(ada, "j", 3, T0 + timedelta(minutes=1), unless_swapped)
    assert (registration.status, registration.workflow_id, registration.entry) == ("new", "journey:j:ada:1", 1)
    assert registration.snapshot is not None and set(registration.snapshot.customer.events) == {"registered"}
    (run,) = store.live_runs(ada, "j")
    assert (run.workflow_id, run.version, run.entry) == ("journey:j:ada:1", 3, 1)


def test_a_refused_or_unknown_customer_registers_nothing(store: Store, ada: str) -> None:
    store.record_event(ada, Event(id="e1", name="swapped", at=T0))
    refused = store.register_run(ada, "j", 1, T0, unless_swapped)
    assert (refused.status, refused.reason) == ("refused", "swapped")
    assert store.register_run("nobody", "j", 1, T0, unless_swapped).status == "unknown"
    assert store.runs_of(ada) == []


def test_a_live_run_is_unstarted_until_it_first_reports(store: Store, ada: str) -> None:
    """An enrolment interrupted between registering and starting leaves a live row that never reported:
    the next enrolment is told so (and starts it; Temporal refuses to start one twice)."""
    first = store.register_run(ada, "j", 1, T0, unless_swapped)
    again = store.register_run(ada, "j", 1, T0 + timedelta(minutes=1), unless_swapped)
    assert (again.status, again.workflow_id, again.unstarted, again.registered_at) == (
        "live",
        first.workflow_id,
        True,
        T0,
    )
    assert first.workflow_id is not None
    store.record_progress(
        Progress(
            workflow_id=first.workflow_id,
            journey_id="j",
            version=1,
            customer_id=ada,
            entry=1,
            started_at=T0,
            current_step="wait",
            waiting_for=["registered"],
        )
    )
    reported = store.register_run(ada, "j", 1, T0 + timedelta(minutes=2), unless_swapped)
    assert (reported.status, reported.unstarted) == ("live", False)


def test_an_event_racing_enrolment_is_seen_by_the_decision_or_finds_the_run(store: Store) -> None:
    """What `signal` does (record the event, then look for live runs) against what `enroll` does, at once,
    for 200 customers: for each, the refusal saw the event or the event's lookup found the run."""
    ids = [f"c{n}" for n in range(200)]
    store.upsert_customers([Profile(id=cid) for cid in ids])

    def enrol(cid: str) -> str:
        return store.register_run(cid, "j", 1, T0, unless_swapped).status

    def swap(cid: str) -> bool:
        store.record_event(cid, Event(id=f"swap-{cid}", name="swapped", at=T0))
        return bool(store.live_runs(cid, "j"))

    with ThreadPoolExecutor(max_workers=8) as pool:
        enrolled = [pool.submit(enrol, cid) for cid in ids]
        found = [pool.submit(swap, cid) for cid in ids]
        outcomes = [(e.result(), f.result()) for e, f in zip(enrolled, found, strict=True)]
    assert all(outcome in {("refused", False), ("new", True)} for outcome in outcomes), outcomes
