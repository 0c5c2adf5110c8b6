"""Consent in the store: a person's change with its audit entry, and opted_out / opted_in events with a channel."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from journeys.format.customers import Event
from journeys.store import Store
from journeys.store.errors import UnknownCustomer

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc)


def consent_of(store: Store, customer: str) -> dict[str, str]:
    row = store.customer_row(customer)
    assert row is not None
    return {channel: value["status"] for channel, value in row.consent.items()}


def test_a_consent_change_sets_the_channel_and_is_audited(store: Store, ada: str) -> None:
    store.change_consent(ada, "sms", "opted_out", by="sam", reason="asked by phone", at=T0)
    assert consent_of(store, ada) == {"sms": "opted_out"}
    store.change_consent(ada, "sms", "opted_in", by="kim", reason="asked again", at=T0 + timedelta(hours=1))
    assert consent_of(store, ada) == {"sms": "opted_in"}
    entries = store.customer_audits_of(ada, "consent")
    assert [(e.by, e.reason, e.details, e.at) for e in entries] == [
        ("sam", "asked by phone", {"channel": "sms", "status": "opted_out"}, T0),
        ("kim", "asked again", {"channel": "sms", "status": "opted_in"}, T0 + timedelta(hours=1)),
    ]


def test_all_channels_at_once(store: Store, ada: str) -> None:
    store.change_consent(ada, "all", "opted_out", by="sam", reason="no more contact", at=T0)
    assert consent_of(store, ada) == {c: "opted_out" for c in ("email", "sms", "voice", "webhook")}
    (entry,) = store.customer_audits_of(ada)
    assert entry.details == {"channel": "all", "status": "opted_out"}


def test_a_consent_change_refuses_unknown_customers_and_channels(store: Store, ada: str) -> None:
    with pytest.raises(UnknownCustomer):
        store.change_consent("nobody", "sms", "opted_out", by="sam", reason="x")
    with pytest.raises(ValueError, match="fax"):
        store.change_consent(ada, "fax", "opted_out", by="sam", reason="x")
    assert store.customer_audits_of(ada) == [] and store.customer_audits_of("nobody") == []


def test_opt_events_with_a_channel_set_consent_with_the_event(store: Store, ada: str) -> None:
    assert store.record_event(ada, Event(id="e1", name="opted_out", data={"channel": "voice"}, at=T0))
    assert consent_of(store, ada) == {"voice": "opted_out"}
    later = T0 + timedelta(days=1)
    assert store.record_event(ada, Event(id="e2", name="opted_in", data={"channel": "voice"}, at=later))
    assert consent_of(store, ada) == {"voice": "opted_in"}
    # the same id again changes nothing; an older event arriving late does not undo a newer change
    assert not store.record_event(ada, Event(id="e1", name="opted_out", data={"channel": "voice"}, at=T0))
    assert store.record_event(ada, Event(id="e0", name="opted_out", data={"channel": "voice"}, at=T0 - timedelta(1)))
    assert consent_of(store, ada) == {"voice": "opted_in"}


def test_events_without_a_known_channel_leave_consent_alone(store: Store, ada: str) -> None:
    store.record_event(ada, Event(id="e1", name="opted_out", data={}, at=T0))
    store.record_event(ada, Event(id="e2", name="opted_out", data={"channel": "fax"}, at=T0))
    store.record_event(ada, Event(id="e3", name="swapped", data={"channel": "sms"}, at=T0))
    assert consent_of(store, ada) == {}
    assert len(store.events_of(ada)) == 3
