from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from threading import Barrier

import pytest

from journeys.format.customers import Event, Profile
from journeys.store import NewEvent, Store, UnknownCustomer

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc)


def test_record_event_is_idempotent_on_event_id(store: Store, ada: str) -> None:
    event = Event(id="evt-1", name="paid", data={"amount": 30}, at=T0)

    assert store.record_event(ada, event) is True
    assert store.record_event(ada, event.model_copy(update={"data": {"amount": 99}})) is False
    assert store.events_of(ada) == [event]


def test_record_event_from_eight_threads_records_it_once(store: Store, ada: str) -> None:
    event = Event(id="evt-race", name="paid", at=T0)
    barrier = Barrier(8)

    def record(_: int) -> bool:
        barrier.wait()
        return store.record_event(ada, event)

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(record, range(8)))

    assert results.count(True) == 1
    assert store.events_of(ada) == [event]


def test_record_event_refuses_an_unknown_customer_without_personal_data(store: Store) -> None:
    with pytest.raises(UnknownCustomer, match="'nobody'"):
        store.record_event("nobody", Event(id="e1", name="paid", at=T0))


def test_events_of_is_in_time_order(store: Store, ada: str) -> None:
    late = Event(id="b", name="visited", at=T0 + timedelta(hours=1))
    early = Event(id="a", name="visited", at=T0)
    store.record_event(ada, late)
    store.record_event(ada, early)

    assert store.events_of(ada) == [early, late]
    assert store.events_of("nobody") == []


def test_event_rows_of_keep_the_door_each_event_came_in_by_in_time_order(store: Store, ada: str) -> None:
    store.record_event(
        ada, Event(id="b", name="replied", data={"text": "yes"}, at=T0 + timedelta(hours=1)), source="provider"
    )
    store.record_event(ada, Event(id="a", name="registered", at=T0), source="api")
    store.record_event(ada, Event(id="c", name="swapped", at=T0 + timedelta(hours=2)))

    rows = store.event_rows_of(ada)

    assert [(r.id, r.name, r.source, r.at) for r in rows] == [
        ("a", "registered", "api", T0),
        ("b", "replied", "provider", T0 + timedelta(hours=1)),
        ("c", "swapped", "cli", T0 + timedelta(hours=2)),
    ]
    assert rows[1].data == {"text": "yes"}
    assert store.event_rows_of("nobody") == []


def test_document_upload_records_the_document_for_every_journey(store: Store, ada: str) -> None:
    upload = Event(id="doc-1", name="document_uploaded", data={"kind": "id_card", "file": "front.jpg"}, at=T0)

    store.record_event(ada, upload)

    customer = store.customer(ada)
    assert customer is not None
    assert customer.documents == {
        "id_card": {"kind": "id_card", "file": "front.jpg", "at": T0.isoformat(), "event_id": "doc-1"}
    }
    # what the interpreter would make of the same event: the store and the simulator agree
    assert customer.documents == customer.replace(documents={}).with_event(upload).documents


def test_document_upload_keeps_the_newest_document_of_a_kind(store: Store, ada: str) -> None:
    newer = Event(id="d2", name="document_uploaded", data={"kind": "id_card", "file": "new.jpg"}, at=T0)
    older = Event(id="d1", name="document_uploaded", data={"kind": "id_card", "file": "old.jpg"}, at=T0 - timedelta(1))
    store.record_event(ada, newer)
    store.record_event(ada, older)  # arrives late

    customer = store.customer(ada)

    assert customer is not None and customer.documents["id_card"]["file"] == "new.jpg"
    assert [e.id for e in store.events_of(ada)] == ["d1", "d2"]


@pytest.mark.parametrize("data", [{}, {"kind": ""}, {"kind": 7}])
def test_document_upload_without_a_kind_records_only_the_event(store: Store, ada: str, data: dict) -> None:
    store.record_event(ada, Event(id="d", name="document_uploaded", data=data, at=T0))

    customer = store.customer(ada)

    assert customer is not None and customer.documents == {} and "document_uploaded" in customer.events


def test_documents_belong_to_their_customer(store: Store, ada: str) -> None:
    store.upsert_customers([Profile(id="bob")])
    store.record_event(ada, Event(id="d", name="document_uploaded", data={"kind": "contract"}, at=T0))

    bob = store.customer("bob")

    assert bob is not None and bob.documents == {} and bob.events == {}


def test_known_customers_are_those_of_the_ids_the_store_holds_however_many_are_asked(store: Store) -> None:
    store.upsert_customers([Profile(id=f"k{n}") for n in range(0, 2_500, 2)])

    asked = [f"k{n}" for n in range(2_500)] + ["k0", "nobody"]

    assert store.known_customers(asked) == {f"k{n}" for n in range(0, 2_500, 2)}
    assert store.known_customers([]) == set()


def test_a_batch_is_recorded_in_one_go_each_event_on_its_own(store: Store, ada: str) -> None:
    store.upsert_customers([Profile(id="bob", email="bob@example.com")])
    batch = [
        NewEvent(ada, Event(id="b1", name="visited", at=T0), "api"),
        NewEvent("nobody", Event(id="b2", name="visited", at=T0), "api"),
        NewEvent("bob", Event(id="b3", name="opted_out", data={"channel": "sms"}, at=T0), "api"),
        NewEvent(ada, Event(id="b1", name="visited", at=T0), "api"),  # the same id again in the batch
        NewEvent(ada, Event(id="b4", name="document_uploaded", data={"kind": "id_card"}, at=T0), "api"),
    ]
    store.record_event(ada, Event(id="b0", name="visited", at=T0))

    outcomes = store.record_events([NewEvent(ada, Event(id="b0", name="visited", at=T0), "api"), *batch])

    assert outcomes == ["duplicate", "recorded", "unknown", "recorded", "duplicate", "recorded"]
    assert [e.id for e in store.events_of(ada)] == ["b0", "b1", "b4"]
    bob = store.customer_row("bob")
    assert bob is not None and bob.consent["sms"]["status"] == "opted_out"
    customer = store.customer(ada)
    assert customer is not None and "id_card" in customer.documents


def test_one_customers_events_of_a_batch_are_owed_in_the_order_given(store: Store, ada: str) -> None:
    names = [f"e{n}" for n in range(30)]
    store.record_events([NewEvent(ada, Event(id=name, name="visited", at=T0), "api") for name in reversed(names)])

    assert [e.id for e in store.pending_of(ada)] == list(reversed(names))
    assert store.pending_of_customers([ada, "nobody"]).keys() == {ada}
