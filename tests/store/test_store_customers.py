from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from journeys.format.customers import Event, Profile
from journeys.store import Store, UnknownCustomer, UpsertCounts

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc)


def records(count: int, **fields: object) -> list[Profile]:
    return [Profile(id=f"c{i:05d}", email=f"c{i}@example.com", **fields) for i in range(count)]  # type: ignore[arg-type]


def test_upsert_customers_counts_created_then_unchanged_on_reimport(store: Store) -> None:
    batch = records(2500, attributes={"plan": "basic"}, tags=["new"])  # three chunks

    assert store.upsert_customers(batch) == UpsertCounts(created=2500)
    assert store.upsert_customers(batch) == UpsertCounts(unchanged=2500)
    assert len(store.customer_ids()) == 2500


def test_upsert_customers_replaces_each_profile_wholesale_and_never_mixes_customers(store: Store) -> None:
    store.upsert_customers(
        [
            Profile(id="a", name="Ann", email="ann@example.com", attributes={"plan": "pro"}, tags=["vip"]),
            Profile(id="b", name="Bob", phone="+4915112345678", locale="de"),
        ]
    )

    counts = store.upsert_customers(
        [
            Profile(id="a", name="Ann", attributes={"city": "Berlin"}),
            Profile(id="b", name="Bob", locale="de", phone="+4915112345678"),
        ]
    )

    assert counts == UpsertCounts(updated=1, unchanged=1)
    a, b = store.customer("a"), store.customer("b")
    assert a is not None and b is not None
    assert (a.name, a.email, a.phone, a.attributes, a.tags) == ("Ann", None, None, {"city": "Berlin"}, [])
    assert (b.name, b.email, b.phone, b.locale, b.attributes) == ("Bob", None, "+4915112345678", "de", {})


def test_upsert_customers_keeps_consent_and_the_last_record_of_a_repeated_id(store: Store) -> None:
    store.upsert_customers([Profile(id="a", name="Ann")])
    store.set_consent("a", "email", "opted_out", T0)

    counts = store.upsert_customers([Profile(id="a", name="Anne"), Profile(id="a", name="Annie")])

    row = store.customer_row("a")
    assert counts == UpsertCounts(updated=1)
    assert row is not None and row.name == "Annie"
    assert row.consent == {"email": {"status": "opted_out", "at": T0.isoformat()}}


def test_customer_is_none_for_an_unknown_id(store: Store) -> None:
    assert store.customer("nobody") is None
    assert store.customer_row("nobody") is None


def test_customer_has_the_latest_event_of_each_name(store: Store, ada: str) -> None:
    store.record_event(ada, Event(id="e1", name="visited", data={"page": 1}, at=T0))
    store.record_event(ada, Event(id="e3", name="visited", data={"page": 3}, at=T0 + timedelta(hours=2)))
    store.record_event(ada, Event(id="e2", name="visited", data={"page": 2}, at=T0 + timedelta(hours=1)))
    store.record_event(ada, Event(id="e4", name="paid", at=T0))

    customer = store.customer(ada)

    assert customer is not None
    assert {name: e.id for name, e in customer.events.items()} == {"visited": "e3", "paid": "e4"}
    assert customer.events["visited"] == Event(id="e3", name="visited", data={"page": 3}, at=T0 + timedelta(hours=2))


def test_apply_update_sets_attributes_and_changes_tags(store: Store) -> None:
    store.upsert_customers([Profile(id="a", attributes={"plan": "basic", "city": "Köln"}, tags=["x", "y"])])

    store.apply_update("a", {"plan": "pro", "score": 3}, add_tags=["z", "x", "z"], remove_tags=["y"])

    customer = store.customer("a")
    assert customer is not None
    assert customer.attributes == {"plan": "pro", "city": "Köln", "score": 3}
    assert customer.tags == ["x", "z"]


def test_apply_update_and_set_consent_refuse_an_unknown_customer(store: Store) -> None:
    with pytest.raises(UnknownCustomer):
        store.apply_update("nobody", {"a": 1})
    with pytest.raises(UnknownCustomer):
        store.set_consent("nobody", "sms", "opted_out", T0)


def test_set_consent_keeps_other_channels(store: Store, ada: str) -> None:
    store.set_consent(ada, "email", "opted_in", T0)
    store.set_consent(ada, "sms", "opted_out", T0 + timedelta(days=1))

    row = store.customer_row(ada)

    assert row is not None
    assert row.consent == {
        "email": {"status": "opted_in", "at": "2026-11-23T08:00:00+00:00"},
        "sms": {"status": "opted_out", "at": "2026-11-24T08:00:00+00:00"},
    }


def test_timestamps_come_back_aware_utc(store: Store, ada: str) -> None:
    berlin = timezone(timedelta(hours=1))
    store.set_consent(ada, "email", "opted_in", T0.astimezone(berlin))
    store.record_event(ada, Event(id="e1", name="visited", at=T0.astimezone(berlin)))

    row = store.customer_row(ada)
    (event,) = store.events_of(ada)

    assert row is not None
    assert row.updated_at == T0 and row.updated_at.tzinfo == timezone.utc
    assert row.created_at.tzinfo == timezone.utc
    assert event.at == T0 and event.at.tzinfo == timezone.utc


def test_naive_timestamps_are_refused(store: Store, ada: str) -> None:
    with pytest.raises(Exception, match="naive"):
        store.set_consent(ada, "email", "opted_in", T0.replace(tzinfo=None))
