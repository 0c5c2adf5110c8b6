"""What changed, for continuous entry: customers whose profile or timeline changed since a point, paged, and
each continuous journey's cursor, which never moves back."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from journeys.format.customers import Event, Profile
from journeys.store import Store

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc)
S = timedelta(seconds=1)


def test_changed_customers_are_those_whose_profile_or_timeline_changed_since(store: Store) -> None:
    store.upsert_customers([Profile(id="old"), Profile(id="quiet")], at=T0)
    store.upsert_customers([Profile(id="imported")], at=T0 + 10 * S)
    store.record_event("old", Event(id="e1", name="document_uploaded", data={"kind": "x"}, at=T0), at=T0 + 20 * S)
    store.apply_update("quiet", {"plan": "x"}, at=T0 + 30 * S)

    assert store.changed_customers(T0 + 5 * S) == [
        ("imported", T0 + 10 * S),
        ("old", T0 + 20 * S),
        ("quiet", T0 + 30 * S),
    ]
    assert store.changed_customers(None) == [  # every change, one per customer and change, oldest first
        ("old", T0),
        ("imported", T0 + 10 * S),
        ("old", T0 + 20 * S),
        ("quiet", T0 + 30 * S),
    ]
    assert store.changed_customers(T0 + 31 * S) == []


def test_an_import_that_changes_nothing_is_no_change(store: Store) -> None:
    store.upsert_customers([Profile(id="c1", name="Ada")], at=T0)
    store.upsert_customers([Profile(id="c1", name="Ada")], at=T0 + 10 * S)  # the same row again
    store.apply_update("c1", {}, at=T0 + 20 * S)  # an update step that sets nothing new

    assert store.changed_customers(T0 + S) == []


def test_changed_customers_page_through_many_stamped_at_once(store: Store) -> None:
    """An import stamps a whole chunk with one time: pages go on by (time, id), none skipped or repeated."""
    store.upsert_customers([Profile(id=f"c{i:03}") for i in range(25)], at=T0)
    for i in range(0, 25, 5):  # events interleave with the profiles, stamped the same
        store.record_event(f"c{i:03}", Event(id=f"e{i}", name="seen", at=T0), at=T0)
    seen: list[str] = []
    after = None
    while page := store.changed_customers(None, after, limit=10):
        seen += [c for c, _ in page]
        after = page[-1][1], page[-1][0]

    assert seen == sorted([f"c{i:03}" for i in range(25)] + [f"c{i:03}" for i in range(0, 25, 5)])


def test_entry_cursor_starts_absent_and_never_moves_back(store: Store) -> None:
    assert store.entry_cursor("welcome") is None

    store.advance_entry_cursor("welcome", T0 + 10 * S, at=T0)
    store.advance_entry_cursor("welcome", T0 + 5 * S, at=T0)  # a slower enroller, behind: ignored
    store.advance_entry_cursor("other", T0, at=T0)

    assert store.entry_cursor("welcome") == T0 + 10 * S
    assert store.entry_cursor("other") == T0


def test_entry_views_read_a_page_of_customers_as_journeys_know_them_with_their_runs(store: Store) -> None:
    store.upsert_customers([Profile(id="a", attributes={"plan": "wimax"}), Profile(id="b", tags=["vip"])], at=T0)
    upload = Event(id="d1", name="document_uploaded", data={"kind": "national_id"}, at=T0 + S)
    store.record_event("a", upload)
    store.record_event("a", Event(id="p1", name="paid", data={"n": 1}, at=T0 + S))
    store.record_event("a", Event(id="p2", name="paid", data={"n": 2}, at=T0 + 2 * S))
    store.record_event("b", Event(id="p3", name="paid", data={"n": 3}, at=T0 + 3 * S))
    store.create_run("journey:j:a:1", "j", 1, "a", 1, T0)
    store.update_run("journey:j:a:1", outcome="completed", ended_at=T0 + 5 * S)
    store.create_run("journey:j:a:2", "j", 1, "a", 2, T0 + 6 * S)
    store.create_run("journey:other:b:1", "other", 1, "b", 1, T0)

    views = store.entry_views(["a", "b", "gone"], "j")

    assert sorted(views) == ["a", "b"]  # a customer not in the store is left out
    (a, a_runs), (b, b_runs) = views["a"], views["b"]
    assert a == store.customer("a") and b == store.customer("b")  # as one customer is read, for each of many
    assert set(a.documents) == {"national_id"} and a.events["paid"].data == {"n": 2}
    assert sorted((r.ended_at is None, r.ended_at) for r in a_runs) == [(False, T0 + 5 * S), (True, None)]
    assert b_runs == []  # runs of other journeys do not count
