"""The customer audit trail: what concerns a customer rather than one run (erasure, consent), who, when, why."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import col, select

from journeys.store.base import StoreBase, utc_now
from journeys.store.models import CustomerAuditRow


class CustomerAuditMethods(StoreBase):
    def record_customer_audit(
        self,
        customer_id: str,
        action: str,
        *,
        by: str,
        reason: str | None = None,
        details: dict[str, Any] | None = None,
        at: datetime | None = None,
    ) -> CustomerAuditRow:
        """Keep that `by` did `action` to the customer at `at`, why, and `details` (JSON, no personal data)."""
        row = CustomerAuditRow(
            customer_id=customer_id,
            action=action,
            at=at or utc_now(),
            by=by,
            reason=reason,
            details=dict(details or {}),
        )
        with self._session(write=True) as session:
            session.add(row)
            session.flush()
        return row

    def customer_audits_of(self, customer_id: str, action: str | None = None) -> list[CustomerAuditRow]:
        """The customer's audit entries (of one action, or all), oldest first."""
        with self._session() as session:
            query = select(CustomerAuditRow).where(CustomerAuditRow.customer_id == customer_id)
            if action is not None:
                query = query.where(CustomerAuditRow.action == action)
            return list(session.exec(query.order_by(col(CustomerAuditRow.at), col(CustomerAuditRow.id))))
