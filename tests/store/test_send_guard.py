"""`reserve_send` with a `SendGuard`: what a run decided is checked again as its message is reserved."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from journeys.format.customers import Event
from journeys.store import SendReservation, Store
from journeys.store.records import SendGuard

GOALS = SendGuard(exit_on=("swapped",))


def now() -> datetime:
    return datetime.now(timezone.utc)


def register(store: Store, customer: str) -> str:
    registration = store.register_run(customer, "a", 1, now(), lambda c, past: None)
    assert registration.workflow_id is not None
    return registration.workflow_id


def reservation(wid: str, key: str = "k1") -> SendReservation:
    return SendReservation(
        key=key,
        workflow_id=wid,
        journey_id="a",
        customer_id="ada",
        step="welcome",
        visit=1,
        channel="email",
        recipient="ada@example.com",
        body="Hello Ada",
    )


def test_an_exit_event_recorded_since_the_run_began_skips_the_send(store: Store, ada: str) -> None:
    store.record_event(ada, Event(id="old", name="swapped", at=now() - timedelta(days=400)))  # before the run
    wid = register(store, ada)
    assert store.reserve_send(reservation(wid, "k1"), [], now(), GOALS).status == "reserved"

    store.record_event(ada, Event(id="new", name="swapped", at=now()))
    result = store.reserve_send(reservation(wid, "k2"), [], now(), GOALS)

    assert result.status == "skipped" and result.message is not None
    assert "exit event 'swapped'" in (result.message.error or "")
    assert [(m.key, m.status, m.provider) for m in store.messages_of(ada)] == [
        ("k1", "sending", None),
        ("k2", "skipped", "none"),
    ]
    assert store.reserve_send(reservation(wid, "k2"), [], now(), GOALS).status == "duplicate"


def test_without_a_guard_nothing_is_checked_but_the_key_and_the_caps(store: Store, ada: str) -> None:
    wid = register(store, ada)
    store.record_event(ada, Event(id="new", name="swapped", at=now()))
    store.set_paused("a", True, now())
    assert store.reserve_send(reservation(wid), [], now()).status == "reserved"


def test_record_cancel_ends_a_live_run_and_its_sends(store: Store, ada: str) -> None:
    wid = register(store, ada)
    assert store.record_cancel(wid, now()) is True
    assert store.record_cancel(wid, now()) is False  # once
    assert store.record_cancel("journey:a:nobody:1", now()) is False
    (run,) = store.runs_of(ada)
    assert run.outcome == "cancelled" and run.ended_at is not None and store.live_runs(ada) == []
    result = store.reserve_send(reservation(wid), [], now(), GOALS)
    assert result.status == "skipped" and result.message is not None and "cancelled" in (result.message.error or "")


def test_a_paused_journey_holds_the_send_and_writes_nothing_or_skips_it(store: Store, ada: str) -> None:
    wid = register(store, ada)
    store.set_paused("a", True, now())
    assert store.reserve_send(reservation(wid, "k1"), [], now(), GOALS).status == "held"
    assert store.messages_of(ada) == []
    skipped = store.reserve_send(reservation(wid, "k2"), [], now(), SendGuard(on_pause="skip"))
    assert skipped.status == "skipped" and [m.status for m in store.messages_of(ada)] == ["skipped"]
