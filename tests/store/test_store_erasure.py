"""Erasure in the store: no name, email or phone of the customer anywhere afterwards, the counts kept, and a
profile imported again under the same id starts with no past."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from journeys.engine.runs import workflow_id
from journeys.format.customers import Event, Profile
from journeys.store import ERASURE, RunAuditRow, SendReservation, Store, UnknownCustomer, UnsettledRuns
from tests.support.personal import found_in, stored_values

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc)
H = timedelta(hours=1)
CID = "cust-7f3a91"  # an id no other value in the store contains, so the scan can look for it too
NAME, EMAIL, PHONE = "Shirin Farahani", "shirin.farahani@example.com", "+989121234500"
PERSONAL = ["Shirin", "Farahani", EMAIL, PHONE, PHONE.lstrip("+")]


def shirin() -> Profile:
    return Profile(
        id=CID,
        name=NAME,
        email=EMAIL,
        phone=PHONE,
        locale="fa",
        timezone="Asia/Tehran",
        attributes={"plan": "wimax", "address": "12 Vali-Asr St"},
        tags=["vip"],
    )


def _story(store: Store) -> tuple[str, str]:
    """Shirin and Bob in two journeys: events, a document, consent, messages, a failed run, audits."""
    store.upsert_customers([shirin(), Profile(id="bob", name="Bob", email="bob@example.com")], at=T0)
    store.set_consent(CID, "sms", "opted_out", T0)
    store.record_event(CID, Event(id="e1", name="registered", data={"email": EMAIL}, at=T0))
    store.record_event(
        CID, Event(id="e2", name="document_uploaded", data={"kind": "id_card", "holder": NAME}, at=T0 + H)
    )
    store.record_event("bob", Event(id="e3", name="registered", data={}, at=T0))
    welcome, reminder = workflow_id("welcome", CID, 1), workflow_id("reminder", CID, 1)
    store.create_run(welcome, "welcome", 1, CID, 1, T0)
    store.create_run(reminder, "reminder", 1, CID, 1, T0)
    store.create_run(workflow_id("welcome", "bob", 1), "welcome", 1, "bob", 1, T0)
    store.record_steps(welcome, "welcome", 1, [("invite", None, T0), ("wait", "invite", T0 + H)])
    for seq, (wid, channel, to) in enumerate([(welcome, "email", EMAIL), (reminder, "sms", PHONE)], start=1):
        key = f"{wid}#{seq}"
        store.reserve_send(
            SendReservation(
                key=key,
                workflow_id=wid,
                journey_id=wid.split(":")[1],
                customer_id=CID,
                step="invite",
                visit=1,
                channel=channel,
                recipient=to,
                subject=f"Hello {NAME}",
                body=f"Dear Shirin, we write to {to}",
                html=f"<p>Dear {NAME}</p>",
                payload={"to": to},
                provider="outbox",
            ),
            [],
            T0 + H,
        )
        store.complete_send(key, "sent", provider="outbox", provider_id=key, error=None, at=T0 + H)
    store.update_run(reminder, outcome="failed", failure=f"cannot reach {EMAIL}", ended_at=T0 + 2 * H)
    store.record_audit(RunAuditRow(workflow_id=welcome, kind="move", at=T0, by="sam", reason="Shirin asked"))
    store.record_customer_audit(
        CID, "consent", by="sam", reason=f"STOP from {PHONE}", details={"channel": "sms"}, at=T0
    )
    return welcome, reminder


def _values(store: Store) -> dict[str, list[str]]:
    return stored_values(store.engine)


def test_erasure_leaves_no_name_email_or_phone_in_any_table(store: Store) -> None:
    _story(store)
    scanned = _values(store)
    assert all(found_in(scanned, [needle]) for needle in PERSONAL)  # the scan sees each of them before

    erased = store.erase_customer(CID, by="kim", reason="asked to be forgotten", at=T0 + 3 * H)

    scanned = _values(store)
    assert {"customer", "event", "document", "message", "run", "step_log", "run_audit", "customer_audit"} <= set(
        scanned
    )
    assert found_in(scanned, PERSONAL) == []
    # nothing but the customer audit trail names the id any more (workflow ids and keys embedded it)
    assert sorted({table for table, _ in found_in(scanned, [CID])}) == ["customer_audit"]
    assert erased.counts() == {
        "profile": 1,
        "consent": 1,
        "events": 2,
        "documents": 1,
        "messages_scrubbed": 2,
        "runs_anonymised": 2,
    }


def test_erasure_keeps_the_counts_reports_need_and_leaves_other_customers_alone(store: Store) -> None:
    welcome, _ = _story(store)
    before = store.journey_report("welcome"), store.journey_report("reminder")

    store.erase_customer(CID, by="kim", reason="asked to be forgotten", at=T0 + 3 * H)

    welcome_after, reminder_after = store.journey_report("welcome"), store.journey_report("reminder")
    assert welcome_after.runs == before[0].runs == 2
    assert welcome_after.steps == before[0].steps and welcome_after.paths == before[0].paths
    assert welcome_after.messages == before[0].messages and reminder_after.messages == before[1].messages
    assert reminder_after.outcomes == before[1].outcomes  # the failed run stays failed, its failure text gone
    # the live run ended in Temporal before it could report: the store records it cancelled
    assert {(o.outcome, o.count) for o in welcome_after.outcomes} == {("running", 1), ("cancelled", 1)}
    assert store.customer_row("bob") is not None and [e.id for e in store.events_of("bob")] == ["e3"]
    assert [r.customer_id for r in store.runs_of("bob")] == ["bob"]
    assert store.steps_of_run(welcome) == []  # the step log is kept under the run's new, anonymous id


def test_erasure_is_audited_without_personal_data(store: Store) -> None:
    _story(store)

    store.erase_customer(
        CID, by="kim", reason="Shirin Farahani asked", at=T0 + 3 * H, details={"temporal_histories": 2}
    )

    consent, erasure = store.customer_audits_of(CID)
    assert (consent.action, consent.reason) == ("consent", "STOP from [erased]")
    assert (erasure.action, erasure.by, erasure.at, erasure.reason) == (ERASURE, "kim", T0 + 3 * H, "[erased] asked")
    assert erasure.details["temporal_histories"] == 2 and erasure.details["messages_scrubbed"] == 2


def test_a_profile_imported_again_under_the_erased_id_starts_with_no_past(store: Store) -> None:
    _story(store)
    store.erase_customer(CID, by="kim", reason="asked to be forgotten", at=T0 + 3 * H)
    assert store.customer(CID) is None

    counts = store.upsert_customers([Profile(id=CID, email="new@example.com")], at=T0 + 4 * H)

    assert counts.created == 1
    customer = store.customer(CID)
    assert customer is not None and (customer.name, customer.attributes, customer.tags) == (None, {}, [])
    assert (customer.documents, customer.events) == ({}, {})
    row = store.customer_row(CID)
    assert row is not None and row.consent == {}
    assert store.events_of(CID) == [] and store.messages_of(CID) == [] and store.runs_of(CID) == []
    assert store.ledger(CID, T0 - timedelta(days=30)) == []  # old sends count against no cap
    assert store.past_runs(CID, "welcome") == [] and store.next_entry(CID, "welcome") == 1
    # the first run of the new profile takes the first workflow id again: the erased one is out of the way
    registration = store.register_run(CID, "welcome", 1, T0 + 4 * H, lambda customer, past: None)
    assert (registration.status, registration.workflow_id) == ("new", workflow_id("welcome", CID, 1))
    # the event ids of the erased timeline are free again
    assert store.record_event(CID, Event(id="e1", name="registered", data={}, at=T0 + 4 * H)) is True


def test_erasure_refuses_an_unknown_customer(store: Store) -> None:
    with pytest.raises(UnknownCustomer):
        store.erase_customer("nobody", by="kim", reason="why", at=T0)
    assert store.customer_audits_of("nobody") == []


def test_erasure_changes_nothing_while_a_run_it_was_not_told_of_exists(store: Store) -> None:
    welcome, reminder = _story(store)
    before = _values(store)

    with pytest.raises(UnsettledRuns) as raised:
        store.erase_customer(CID, by="kim", reason="why", at=T0 + 3 * H, settled=[welcome])

    assert raised.value.workflow_ids == [reminder]
    assert _values(store) == before
    store.erase_customer(CID, by="kim", reason="why", at=T0 + 3 * H, settled=[welcome, reminder])
    assert store.customer_row(CID) is None
