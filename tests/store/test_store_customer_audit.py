from __future__ import annotations

from datetime import datetime, timedelta, timezone

from journeys.store import Store

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc)


def test_customer_audit_entries_come_back_in_order_per_customer_and_action(store: Store, ada: str) -> None:
    store.record_customer_audit(ada, "consent", by="sam", reason="asked by phone", details={"channel": "sms"}, at=T0)
    store.record_customer_audit(
        ada, "erasure", by="kim", reason="GDPR art. 17", details={"events": 3}, at=T0 + timedelta(hours=1)
    )
    store.record_customer_audit("bob", "consent", by="sam", at=T0)

    entries = store.customer_audits_of(ada)
    assert [(e.action, e.by, e.reason, e.details, e.at) for e in entries] == [
        ("consent", "sam", "asked by phone", {"channel": "sms"}, T0),
        ("erasure", "kim", "GDPR art. 17", {"events": 3}, T0 + timedelta(hours=1)),
    ]
    assert [e.action for e in store.customer_audits_of(ada, "erasure")] == ["erasure"]
    assert store.customer_audits_of("nobody") == []
