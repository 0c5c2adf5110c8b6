"""Status: the whole picture of one customer, with each live run as it answers its query."""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio.client import Client

from journeys.engine.runs import RunStatus
from journeys.errors import JourneysError
from journeys.format.customers import PROFILE_KEYS
from journeys.store import ERASURE, Store


async def status(client: Client, store: Store, customer_id: str) -> dict[str, Any]:
    """The whole picture of one customer: profile, consent, documents, runs, messages, and the audit trail of
    what concerns the customer rather than one run (consent, erasure)."""
    found = await asyncio.to_thread(store.customer_and_row, customer_id)
    if found is None:
        raise JourneysError(await asyncio.to_thread(unknown_customer, store, customer_id))
    row, customer = found
    runs = await asyncio.to_thread(store.runs_of, customer_id)
    live = await asyncio.gather(*(query_status(client, r.workflow_id) for r in runs if r.outcome == "running"))
    fresh = {wid: s for wid, s in live if s is not None}
    result_runs = []
    for run in runs:
        query = fresh.get(run.workflow_id)
        messages = await asyncio.to_thread(store.messages_of_run, run.workflow_id)
        audits = await asyncio.to_thread(store.audits_of, run.workflow_id)
        result_runs.append(
            {
                "journey": run.journey_id,
                "version": run.version,
                "workflow_id": run.workflow_id,
                "entry": run.entry,
                "started_at": run.started_at,
                "ended_at": run.ended_at,
                "outcome": query.outcome if query else run.outcome,
                "exit_event": query.exit_event if query else run.exit_event,
                "end_label": query.end_label if query else run.end_label,
                "current_step": query.current_step if query else run.current_step,
                "waiting_for": query.waiting_for if query else (run.waiting_for or []),
                "until": query.until if query else run.until,
                "failure": run.failure,
                "changes": [
                    {
                        "kind": a.kind,
                        "at": a.at,
                        "by": a.by,
                        "reason": a.reason,
                        "from_step": a.from_step,
                        "to_step": a.to_step,
                        "from_version": a.from_version,
                        "to_version": a.to_version,
                    }
                    for a in audits
                ],
                "messages": [
                    {
                        "at": m.created_at,
                        "step": m.step,
                        "channel": m.channel,
                        "to": m.recipient,
                        "status": m.status,
                        "subject": m.subject,
                        "body": m.body,
                        "error": m.error,
                    }
                    for m in messages
                ],
            }
        )
    return {
        "customer": {
            **{name: getattr(row, name) for name in PROFILE_KEYS},
            "consent": row.consent,
            "documents": customer.documents if customer else {},
        },
        "runs": result_runs,
        "audit": [
            {"action": a.action, "at": a.at, "by": a.by, "reason": a.reason, "details": a.details}
            for a in await asyncio.to_thread(store.customer_audits_of, customer_id)
        ],
    }


def unknown_customer(store: Store, customer_id: str) -> str:
    """One line: no such customer, and when they were erased, if they were."""
    erasures = store.customer_audits_of(customer_id, ERASURE)
    if erasures:
        last = erasures[-1]
        return f"no customer {customer_id!r} in the store: erased {last.at:%Y-%m-%d %H:%M} UTC by {last.by}"
    return f"no customer {customer_id!r} in the store"


async def query_status(client: Client, wid: str) -> tuple[str, RunStatus | None]:
    """A run's status as the run itself answers it, or None when it does not (it ended, or no worker is up)."""
    try:
        return wid, await client.get_workflow_handle(wid).query("status", result_type=RunStatus)
    except Exception:  # a run that ended or a worker that is down: the store's record stands
        return wid, None
