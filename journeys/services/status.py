"""Status: the whole story of one customer, with each live run as it answers its query, or as the store last
recorded it when Temporal does not answer."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio.client import Client

from journeys.engine.runs import RunStatus
from journeys.errors import JourneysError
from journeys.format.customers import PROFILE_KEYS
from journeys.store import ERASURE, CustomerRow, RunRow, Store
from journeys.store.customers import CONSENT_CHANNELS
from journeys.store.sends import opted_out_of

QUERY_PATIENCE = timedelta(seconds=5)  # how long one run may take to answer before the store's record stands


async def status(client: Client | None, store: Store, customer_id: str) -> dict[str, Any]:
    """The customer's whole story: profile, consent, documents, the timeline of events, each run (its steps,
    messages and audit trail), and the audit trail of what concerns the customer rather than one run (consent,
    erasure). Without a client (Temporal does not answer) every run is as the store last recorded it: `live`
    says which."""
    found = await asyncio.to_thread(store.customer_and_row, customer_id)
    if found is None:
        raise JourneysError(await asyncio.to_thread(unknown_customer, store, customer_id))
    row, customer = found
    runs = await asyncio.to_thread(store.runs_of, customer_id)
    answers: list[tuple[str, RunStatus | None]] = []
    if client is not None:
        answers = await asyncio.gather(*(query_status(client, r.workflow_id) for r in runs if r.outcome == "running"))
    fresh = {wid: s for wid, s in answers if s is not None}
    events = await asyncio.to_thread(store.event_rows_of, customer_id)
    return {
        "customer": {
            **{name: getattr(row, name) for name in PROFILE_KEYS},
            "consent": row.consent,
            "documents": customer.documents,
        },
        "live": client is not None,
        "consent": consent_now(row),
        "events": [
            {"id": e.id, "name": e.name, "at": e.at, "data": e.data, "source": e.source, "recorded_at": e.recorded_at}
            for e in events
        ],
        "runs": [await asyncio.to_thread(_run, store, run, fresh.get(run.workflow_id)) for run in runs],
        "audit": [
            {"action": a.action, "at": a.at, "by": a.by, "reason": a.reason, "details": a.details}
            for a in await asyncio.to_thread(store.customer_audits_of, customer_id)
        ],
    }


def consent_now(row: CustomerRow) -> dict[str, bool]:
    """Each channel: whether a send there would go out now, by the rule the send guard applies."""
    return {channel: not opted_out_of(row.consent, channel) for channel in CONSENT_CHANNELS}


def _run(store: Store, run: RunRow, query: RunStatus | None) -> dict[str, Any]:
    """One run: where it is as it answered (`state_from: run`) or as the store last recorded it (`store`), the
    steps it entered, its messages and its audit trail."""
    return {
        "journey": run.journey_id,
        "version": run.version,
        "workflow_id": run.workflow_id,
        "entry": run.entry,
        "cohort": run.cohort,
        "started_at": run.started_at,
        "ended_at": run.ended_at,
        "outcome": query.outcome if query else run.outcome,
        "exit_event": query.exit_event if query else run.exit_event,
        "end_label": query.end_label if query else run.end_label,
        "current_step": query.current_step if query else run.current_step,
        "waiting_for": query.waiting_for if query else (run.waiting_for or []),
        "until": query.until if query else run.until,
        "state_from": "run" if query else "store",
        "failure": run.failure,
        "steps": [{"step": s.step, "at": s.at, "from_step": s.from_step} for s in store.steps_of_run(run.workflow_id)],
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
            for m in store.messages_of_run(run.workflow_id)
        ],
        "audit": [
            {
                "action": a.kind,
                "at": a.at,
                "by": a.by,
                "reason": a.reason,
                "from_step": a.from_step,
                "to_step": a.to_step,
                "from_version": a.from_version,
                "to_version": a.to_version,
            }
            for a in store.audits_of(run.workflow_id)
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
    """A run's status as the run itself answers it, or None when it does not (it ended, or no worker is up) within
    QUERY_PATIENCE."""
    try:
        handle = client.get_workflow_handle(wid)
        return wid, await handle.query("status", result_type=RunStatus, rpc_timeout=QUERY_PATIENCE)
    except Exception:  # a run that ended or a worker that is down: the store's record stands
        return wid, None
