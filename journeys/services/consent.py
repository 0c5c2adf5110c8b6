"""Consent set by people (`journeys consent`): one channel's consent (or every channel's), an entry in the
customer's audit trail, and the `opted_out` / `opted_in` event on their timeline, delivered to their live runs
as `signal` delivers it, so journeys that exit on it end. Recording that event sets the consent too
(`Store.record_event`): an event with `data.channel` from any door does what this command does."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field
from temporalio.client import Client

from journeys.errors import InputError
from journeys.services import delivery
from journeys.services.control import who
from journeys.services.shared import RunEffect
from journeys.services.status import unknown_customer
from journeys.settings import Settings
from journeys.store import Store
from journeys.store.customers import CONSENT_CHANNELS, consent_channels


class ConsentResult(BaseModel):
    customer: str
    channel: str
    status: Literal["opted_in", "opted_out"]
    by: str
    reason: str
    at: datetime
    event_id: str
    runs: list[RunEffect] = Field(default_factory=list)


def check(store: Store, customer_id: str, channel: str, reason: str) -> None:
    """Refuse a mistake in one line before anything is changed or Temporal is asked."""
    if not consent_channels(channel):
        raise InputError(f"unknown channel {channel!r}: expected one of {', '.join(CONSENT_CHANNELS)}, or all")
    if not reason.strip():
        raise InputError("--reason must say why (it is kept in the audit trail)")
    if store.customer_row(customer_id) is None:
        raise InputError(unknown_customer(store, customer_id))


async def consent(
    client: Client | None,
    store: Store,
    settings: Settings,
    customer_id: str,
    channel: str,
    allow: bool,
    reason: str,
    by: str | None = None,
) -> ConsentResult:
    """Set the consent and audit it (one transaction), then record and deliver the event to the live runs (without
    a client, the event is owed to them and delivered once Temporal answers)."""
    await asyncio.to_thread(check, store, customer_id, channel, reason)
    status: Literal["opted_in", "opted_out"] = "opted_in" if allow else "opted_out"
    audit = await asyncio.to_thread(
        store.change_consent, customer_id, channel, status, by=who(by), reason=reason.strip()
    )
    event_id = f"consent:{audit.id}:{uuid.uuid4().hex[:8]}"
    signalled = await delivery.signal(client, store, settings, customer_id, status, {"channel": channel}, event_id)
    return ConsentResult(
        customer=customer_id,
        channel=channel,
        status=status,
        by=audit.by,
        reason=audit.reason or "",
        at=audit.at,
        event_id=signalled.event_id,
        runs=signalled.runs,
    )
