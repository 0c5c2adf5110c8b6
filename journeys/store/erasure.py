"""Erasure: a customer's personal data leaves the store; what reports count stays, tied to no one.

`Store.erase_customer` does it in one transaction holding the customer's lock:

- the profile row goes (name, email, phone, locale, timezone, attributes, tags, consent), and with it the
  customer's events and documents;
- their messages stay for the counts (journey, step, channel, status, when) but lose their recipient, subject,
  body, HTML, payload, provider id and error text;
- their runs, step logs and run audits stay for reports, but the customer id in them (and in the workflow ids
  and idempotency keys that embed it) becomes a pseudonym made for this erasure and kept nowhere, so nothing
  ties them to the id any more: a profile imported later under the same id starts with no past;
- the free text of the audit trails (reasons) loses the customer's name, email and phone where they occur;
- an `erasure` entry joins the customer audit trail: who, when, why, and the counts (`Erased`).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Collection, Iterable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, update
from sqlmodel import Session, col, select

from journeys.engine.runs import workflow_id
from journeys.store.base import StoreBase
from journeys.store.errors import StoreError
from journeys.store.models import (
    CustomerAuditRow,
    CustomerRow,
    DocumentRow,
    EventRow,
    MessageRow,
    RunAuditRow,
    RunRow,
    StepLogRow,
)

ERASURE = "erasure"  # the customer audit action
ERASED = "[erased]"  # what stands in free text where the customer's name, email or phone was
LIVE = "running"


class UnsettledRuns(StoreError):
    """The customer has runs the erasure has not ended in Temporal yet (enrolled meanwhile): nothing was erased."""

    def __init__(self, customer_id: str, workflow_ids: Iterable[str]) -> None:
        self.workflow_ids = sorted(workflow_ids)
        super().__init__(f"customer {customer_id!r} has runs not yet ended: {', '.join(self.workflow_ids)}")


@dataclass(frozen=True)
class Erased:
    """What an erasure removed from the store (counts only: the audit entry keeps them)."""

    profile: int = 0  # 1: the profile row
    consent: int = 0  # channels with a consent record
    events: int = 0
    documents: int = 0
    messages_scrubbed: int = 0  # messages whose address and content were removed (the rows stay, for counts)
    runs_anonymised: int = 0  # runs kept for reports, no longer tied to the customer

    def counts(self) -> dict[str, int]:
        return asdict(self)


class PersonalText:
    """Finds a customer's name (whole, or any part of three letters or more), email and phone (with or without
    its +) in free text, as whole words, whatever the case."""

    def __init__(self, row: CustomerRow) -> None:
        values = {row.email, row.phone, row.name, (row.phone or "").lstrip("+") or None}
        values |= {part for part in re.split(r"\s+", row.name or "") if len(part) >= 3}
        found = sorted((v for v in values if v and v.strip()), key=len, reverse=True)
        words = "|".join(re.escape(v) for v in found)  # whole words only: "Art" is not in "GDPR article 17"
        self._pattern = re.compile(rf"(?<!\w)(?:{words})(?!\w)", re.IGNORECASE) if found else None

    def find(self, text: str | None) -> str | None:
        """The first personal value in `text`, or None."""
        if self._pattern is None or not text:
            return None
        match = self._pattern.search(text)
        return match.group() if match else None

    def redact(self, text: str | None) -> str | None:
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(ERASED, text)


class ErasureMethods(StoreBase):
    def erase_customer(
        self,
        customer_id: str,
        *,
        by: str,
        reason: str,
        at: datetime,
        settled: Collection[str] | None = None,
        details: dict[str, Any] | None = None,
    ) -> Erased:
        """Remove the customer's personal data and record the erasure (see the module's docstring).

        `settled`: the workflow ids the caller has ended and deleted from Temporal; a run of the customer not
        among them (enrolled meanwhile) raises `UnsettledRuns` and nothing changes. `details` join the counts
        in the audit entry (what was done outside the store). `UnknownCustomer` when there is no such customer."""
        with self._session(write=True) as session:
            row = self._lock_customer(session, customer_id)
            runs = list(session.exec(select(RunRow).where(RunRow.customer_id == customer_id)))
            if settled is not None:
                unsettled = {r.workflow_id for r in runs} - set(settled)
                if unsettled:
                    raise UnsettledRuns(customer_id, unsettled)
            personal = PersonalText(row)
            pseudonym = f"erased-{secrets.token_hex(8)}"
            renamed = {r.workflow_id: workflow_id(r.journey_id, pseudonym, r.entry) for r in runs}
            messages = self._scrub_messages(session, customer_id, pseudonym, renamed)
            self._detach_runs(session, runs, pseudonym, renamed, personal, at)
            for entry in session.exec(select(CustomerAuditRow).where(CustomerAuditRow.customer_id == customer_id)):
                if personal.redact(entry.reason) != entry.reason:  # an earlier entry (consent) named them
                    entry.reason = personal.redact(entry.reason)
                    session.add(entry)
            events = _delete(session, EventRow, EventRow.customer_id == customer_id)
            documents = _delete(session, DocumentRow, DocumentRow.customer_id == customer_id)
            erased = Erased(
                profile=1,
                consent=len(row.consent or {}),
                events=events,
                documents=documents,
                messages_scrubbed=messages,
                runs_anonymised=len(runs),
            )
            session.delete(row)
            session.add(
                CustomerAuditRow(
                    customer_id=customer_id,
                    action=ERASURE,
                    at=at,
                    by=by,
                    reason=personal.redact(reason),
                    details={**erased.counts(), **(details or {})},
                )
            )
        return erased

    def _scrub_messages(self, session: Session, customer_id: str, pseudonym: str, renamed: dict[str, str]) -> int:
        """Keep each message's journey, step, channel, status and times; drop its address and content."""
        table = MessageRow.__table__  # type: ignore[attr-defined]
        rows = session.exec(
            select(MessageRow.key, MessageRow.workflow_id)
            .where(MessageRow.customer_id == customer_id)
            .order_by(col(MessageRow.created_at), col(MessageRow.key))
        ).all()
        for n, (key, wid) in enumerate(rows, start=1):
            new_wid = renamed.get(wid) or workflow_id("unknown", pseudonym, 0)
            new_key = new_wid + key[len(wid) :] if key.startswith(wid) else f"{new_wid}#m{n}"
            session.exec(
                update(table)
                .where(table.c.key == key)
                .values(
                    key=new_key,
                    workflow_id=new_wid,
                    customer_id=pseudonym,
                    recipient=None,
                    subject=None,
                    body=None,
                    html=None,
                    payload={},
                    provider_id=None,
                    error=None,
                )
            )
        return len(rows)

    def _detach_runs(
        self,
        session: Session,
        runs: list[RunRow],
        pseudonym: str,
        renamed: dict[str, str],
        personal: PersonalText,
        at: datetime,
    ) -> None:
        """The runs, their step logs and run audits, under the pseudonym; a run still live here is cancelled."""
        run_table = RunRow.__table__  # type: ignore[attr-defined]
        log_table = StepLogRow.__table__  # type: ignore[attr-defined]
        for run in runs:
            old, new = run.workflow_id, renamed[run.workflow_id]
            values: dict[str, Any] = {"workflow_id": new, "customer_id": pseudonym, "failure": None}
            if run.outcome == LIVE:  # ended in Temporal before its last report reached the store
                values |= {"outcome": "cancelled", "ended_at": at, "waiting_for": [], "until": None, "updated_at": at}
            session.exec(update(run_table).where(run_table.c.workflow_id == old).values(**values))
            session.exec(update(log_table).where(log_table.c.workflow_id == old).values(workflow_id=new))
            for audit in session.exec(select(RunAuditRow).where(RunAuditRow.workflow_id == old)):
                audit.workflow_id, audit.reason = new, personal.redact(audit.reason)
                session.add(audit)


def _delete(session: Session, model: Any, condition: Any) -> int:
    count = session.exec(select(func.count()).select_from(model).where(condition)).one()
    session.exec(delete(model).where(condition))  # type: ignore[call-overload]
    return int(count)
