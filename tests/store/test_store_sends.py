from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from threading import Barrier

import pytest

from journeys.engine.interpreter import SentMessage
from journeys.format.customers import Profile
from journeys.format.models import Limit
from journeys.store import SendReservation, Store, UnknownCustomer, UnknownMessage

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc)
ONE_EMAIL_A_DAY = [Limit(channel="email", max=1, per=timedelta(days=1))]


def reservation(
    key: str, customer: str = "ada", channel: str = "email", workflow: str = "journey:a:ada:1"
) -> SendReservation:
    return SendReservation(
        key=key,
        workflow_id=workflow,
        journey_id=workflow.split(":")[1],
        customer_id=customer,
        step="welcome",
        visit=1,
        channel=channel,
        recipient="ada@example.com",
        subject="Hello",
        body="Hello Ada",
        payload={"template": "welcome"},
        provider="outbox",
    )


def test_reserve_send_writes_a_sending_row(store: Store, ada: str) -> None:
    result = store.reserve_send(reservation("k1"), ONE_EMAIL_A_DAY, T0)

    assert result.status == "reserved" and result.message is not None
    (row,) = store.messages_of(ada)
    assert (row.key, row.status, row.created_at, row.body, row.payload) == (
        "k1",
        "sending",
        T0,
        "Hello Ada",
        {"template": "welcome"},
    )


def test_reserve_send_refuses_a_second_send_with_the_same_key(store: Store, ada: str) -> None:
    store.reserve_send(reservation("k1"), [], T0)
    store.complete_send("k1", "sent", provider="outbox", provider_id="o-1", at=T0)

    again = store.reserve_send(reservation("k1"), [], T0 + timedelta(minutes=1))

    assert again.status == "duplicate"
    assert again.message is not None and (again.message.status, again.message.provider_id) == ("sent", "o-1")
    assert len(store.messages_of(ada)) == 1


def test_reserve_send_respects_caps_across_journeys(store: Store, ada: str) -> None:
    first = store.reserve_send(reservation("a#1", workflow="journey:a:ada:1"), ONE_EMAIL_A_DAY, T0)
    second = store.reserve_send(
        reservation("b#1", workflow="journey:b:ada:1"), ONE_EMAIL_A_DAY, T0 + timedelta(hours=1)
    )
    sms = store.reserve_send(
        reservation("b#2", channel="sms", workflow="journey:b:ada:1"), ONE_EMAIL_A_DAY, T0 + timedelta(hours=1)
    )

    assert first.status == "reserved"
    assert second.status == "capped" and second.until == T0 + timedelta(days=1)
    assert sms.status == "reserved"


def test_reserve_send_does_not_count_failed_or_skipped_sends(store: Store, ada: str) -> None:
    store.reserve_send(reservation("k1"), ONE_EMAIL_A_DAY, T0)
    store.complete_send("k1", "failed", provider="smtp", error="mailbox full", at=T0)

    result = store.reserve_send(reservation("k2"), ONE_EMAIL_A_DAY, T0 + timedelta(minutes=5))

    assert result.status == "reserved"


def test_reserve_send_from_eight_threads_under_a_cap_of_one_reserves_once(store: Store, ada: str) -> None:
    barrier = Barrier(8)

    def reserve(i: int) -> str:
        barrier.wait()
        return store.reserve_send(
            reservation(f"j{i}:ada#1", workflow=f"journey:j{i}:ada:1"), ONE_EMAIL_A_DAY, T0
        ).status

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(reserve, range(8)))

    assert sorted(results) == ["capped"] * 7 + ["reserved"]
    assert len(store.messages_of(ada)) == 1


def test_reserve_send_from_eight_threads_with_one_key_reserves_once(store: Store, ada: str) -> None:
    barrier = Barrier(8)

    def reserve(_: int) -> str:
        barrier.wait()
        return store.reserve_send(reservation("same"), [], T0).status

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(reserve, range(8)))

    assert sorted(results) == ["duplicate"] * 7 + ["reserved"]


def test_reserve_send_refuses_an_unknown_customer(store: Store) -> None:
    with pytest.raises(UnknownCustomer):
        store.reserve_send(reservation("k", customer="nobody"), [], T0)


def test_complete_send_records_the_outcome(store: Store, ada: str) -> None:
    store.reserve_send(reservation("k1"), [], T0)

    store.complete_send("k1", "sent", provider="outbox", provider_id="o-1", at=T0 + timedelta(seconds=2))

    (row,) = store.messages_of_run("journey:a:ada:1")
    assert (row.status, row.provider, row.provider_id, row.error) == ("sent", "outbox", "o-1", None)
    assert row.sent_at == T0 + timedelta(seconds=2)
    with pytest.raises(UnknownMessage):
        store.complete_send("nope", "sent", provider="outbox", at=T0)
    with pytest.raises(ValueError):
        store.complete_send("k1", "sending", provider="outbox", at=T0)


def test_ledger_lists_sending_and_sent_messages_since(store: Store, ada: str) -> None:
    for i, status in enumerate(["sent", "failed", "skipped", "sent"]):
        store.reserve_send(reservation(f"k{i}"), [], T0 + timedelta(days=i))
        store.complete_send(f"k{i}", status, provider="outbox", at=T0 + timedelta(days=i))
    store.reserve_send(reservation("k9", channel="sms"), [], T0 + timedelta(days=5))  # still sending

    ledger = store.ledger(ada, T0 + timedelta(days=1))

    assert ledger == [
        SentMessage(at=T0 + timedelta(days=3), channel="email"),
        SentMessage(at=T0 + timedelta(days=5), channel="sms"),
    ]


def test_messages_of_are_in_time_order_and_per_customer(store: Store, ada: str) -> None:
    store.upsert_customers([Profile(id="bob")])
    store.reserve_send(reservation("late"), [], T0 + timedelta(hours=1))
    store.reserve_send(reservation("early"), [], T0)
    store.reserve_send(reservation("bobs", customer="bob", workflow="journey:a:bob:1"), [], T0)

    assert [m.key for m in store.messages_of(ada)] == ["early", "late"]
    assert [m.key for m in store.messages_of("bob")] == ["bobs"]
