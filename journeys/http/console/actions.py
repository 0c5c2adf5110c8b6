"""The console's forms that change something, each allowed from one role on, each through the service the CLI
uses, with the signed-in name as `by` and the reason given, so the audit trail reads as the CLI's does.

support: record an event, cancel, move, change consent; marketer: enrol, pause, resume, migrate; admin:
erase a customer. Every refusal is one line (`views.failed`), never a traceback; nothing is changed by a
form that is refused.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response
from temporalio.client import Client

from journeys.errors import JourneysError
from journeys.http.console.auth import Person, actor
from journeys.http.console.pages import journey_id_checked
from journeys.http.console.views import done, failed, state
from journeys.services import consent, control, delivery, erasure
from journeys.services.catalogue import find_journey, publish
from journeys.services.enrolment import enroll
from journeys.services.import_file import Bad, plain_mapping

router = APIRouter()
SOURCE = "console"  # the door an event recorded here came in by, kept on the timeline
Reason = Annotated[str, Form(max_length=500)]


class NoTemporal(JourneysError):
    """Temporal does not answer: nothing was changed."""


async def _client(request: Request) -> Client:
    client: Client | None = await request.app.state.inbound.client_or_none()
    if client is None:
        raise NoTemporal("Temporal does not answer: nothing was changed, try again")
    return client


async def _act(request: Request, person: Person, back: str, work: Callable[[], Awaitable[str]]) -> Response:
    """Do `work` (which says what it did), or answer its refusal in one line."""
    try:
        return done(request, back, await work())
    except (JourneysError, ValueError) as exc:
        return failed(request, person, 503 if isinstance(exc, NoTemporal) else 422, " ".join(str(exc).split()))


def _reason(reason: str) -> str:
    if not reason.strip():
        raise JourneysError("reason: say why (it is kept in the audit trail)")
    return reason.strip()


def _customer_page(customer_id: str) -> str:
    return f"/console/customers/{customer_id}"


# --- support ----------------------------------------------------------------------------------------------


def event_data(text: str) -> dict[str, Any]:
    """The event's data as typed in the form: a JSON object (or nothing), checked as an import checks it."""
    if not text.strip():
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise JourneysError(f"data: not JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    if not isinstance(value, dict):
        raise JourneysError('data: must be a JSON object, e.g. {"order": "A-1"}')
    try:
        return plain_mapping(value, "data")
    except Bad as exc:
        raise JourneysError(str(exc)) from None


@dataclass(frozen=True)
class OnCustomer:
    """A support form of a customer's page: who posts it, for which customer, and why."""

    request: Request
    customer: str
    person: Person
    reason: str

    async def act(self, work: Callable[[], Awaitable[str]]) -> Response:
        return await _act(self.request, self.person, _customer_page(self.customer), work)


async def _on_customer(
    request: Request, customer_id: str, person: Annotated[Person, Depends(actor("support"))], reason: Reason = ""
) -> OnCustomer:
    return OnCustomer(request, customer_id, person, reason)


Support = Annotated[OnCustomer, Depends(_on_customer)]


@router.post("/customers/{customer_id}/events")
async def record_event(
    on: Support,
    event: Annotated[str, Form(max_length=255)] = "",
    data: Annotated[str, Form(max_length=64 * 1024)] = "",
) -> Response:
    settings, store = state(on.request)

    async def work() -> str:
        why, payload, name = _reason(on.reason), event_data(data), event.strip()
        if not name or any(ord(c) < 32 for c in name):
            raise JourneysError("event: give the name of the event, e.g. swapped")
        if await asyncio.to_thread(store.customer_row, on.customer) is None:
            raise JourneysError(f"no customer {on.customer!r} in the store")
        client = await on.request.app.state.inbound.client_or_none()
        event_id = f"console:{uuid.uuid4().hex}"
        result = await delivery.signal(client, store, settings, on.customer, name, payload, event_id, source=SOURCE)
        details = {"event": name, "event_id": result.event_id}
        await asyncio.to_thread(
            store.record_customer_audit, on.customer, "event", by=on.person.name, reason=why, details=details
        )
        effects = ", ".join(f"{r.journey}: {r.effect}" for r in result.runs) or "no live run took it"
        owed = "" if result.delivered else " (Temporal does not answer: it is delivered once it does)"
        return f"{name} recorded{owed}; {effects}"

    return await on.act(work)


@router.post("/customers/{customer_id}/cancel")
async def cancel_runs(on: Support, journey: Annotated[str, Form()] = "") -> Response:
    _, store = state(on.request)

    async def work() -> str:
        client, why = await _client(on.request), _reason(on.reason)
        cancelled = await control.cancel(client, store, on.customer, journey or None, why, by=on.person.name)
        ended = [r.journey for r in cancelled.runs if r.effect == "cancelled"]
        return f"cancelled: {', '.join(ended)}" if ended else "no live run to cancel"

    return await on.act(work)


@router.post("/customers/{customer_id}/move")
async def move_run(on: Support, journey: Annotated[str, Form()] = "", step: Annotated[str, Form()] = "") -> Response:
    _, store = state(on.request)

    async def work() -> str:
        why = _reason(on.reason)
        if not journey or not step:
            raise JourneysError("choose the run's journey and the step to move it to")
        client = await _client(on.request)
        moved = await control.move(client, store, on.customer, journey, step, why, by=on.person.name)
        return f"{moved.journey}: moved from {moved.from_step} to {moved.to_step}"

    return await on.act(work)


@router.post("/customers/{customer_id}/consent")
async def change_consent(
    on: Support, channel: Annotated[str, Form()] = "", allow: Annotated[str, Form()] = ""
) -> Response:
    settings, store = state(on.request)

    async def work() -> str:
        if allow not in ("on", "off"):
            raise JourneysError("consent: choose on or off")
        client = await on.request.app.state.inbound.client_or_none()
        result = await consent.consent(
            client, store, settings, on.customer, channel, allow == "on", on.reason, by=on.person.name
        )
        return f"{result.channel}: {result.status.replace('_', ' ')}"

    return await on.act(work)


# --- admin: erasure ------------------------------------------------------------------------------------------


@router.post("/customers/{customer_id}/erase")
async def erase(
    request: Request, customer_id: str, person: Annotated[Person, Depends(actor("admin"))], reason: Reason = ""
) -> Response:
    _, store = state(request)

    async def work() -> str:
        await asyncio.to_thread(erasure.check, store, customer_id, reason)
        erased = await erasure.forget(await _client(request), store, customer_id, reason, by=person.name)
        return f"customer {erased.customer} erased"

    return await _act(request, person, "/console/", work)


# --- marketer: journeys --------------------------------------------------------------------------------------


def _journey_page(journey_id: str) -> str:
    return f"/console/journeys/{journey_id}"


async def _pause(request: Request, journey_id: str, person: Person, paused: bool) -> Response:
    settings, store = state(request)
    journey_id = journey_id_checked(journey_id)

    async def work() -> str:
        live = await control.set_paused(await _client(request), store, settings, journey_id, paused)
        return f"{journey_id} {'paused' if paused else 'resumed'} ({live} live run(s) keep taking events)"

    return await _act(request, person, _journey_page(journey_id), work)


@router.post("/journeys/{journey_id}/pause")
async def pause(request: Request, journey_id: str, person: Annotated[Person, Depends(actor("marketer"))]) -> Response:
    return await _pause(request, journey_id, person, True)


@router.post("/journeys/{journey_id}/resume")
async def resume(request: Request, journey_id: str, person: Annotated[Person, Depends(actor("marketer"))]) -> Response:
    return await _pause(request, journey_id, person, False)


@router.post("/journeys/{journey_id}/enrol")
async def enrol(
    request: Request,
    journey_id: str,
    person: Annotated[Person, Depends(actor("marketer"))],
    customers: Annotated[str, Form(max_length=64 * 1024)] = "",
) -> Response:
    settings, store = state(request)
    journey_id = journey_id_checked(journey_id)

    async def work() -> str:
        ids = sorted(set(customers.replace(",", " ").split()))
        if not ids:
            raise JourneysError("customers: give one or more customer ids")
        unknown = sorted(set(ids) - await asyncio.to_thread(store.known_customers, ids))
        if unknown:
            raise JourneysError(f"customers: not in the store: {', '.join(unknown[:10])}")
        published = await asyncio.to_thread(publish, await asyncio.to_thread(find_journey, settings, journey_id))
        results = await enroll(await _client(request), store, settings, published, ids)
        return "; ".join(f"{r.customer}: {r.status}{f' ({r.reason})' if r.reason else ''}" for r in results)

    return await _act(request, person, _journey_page(journey_id), work)


def step_map(text: str) -> dict[str, str]:
    """`old=new` pairs, one a line (or separated by spaces), as `journeys migrate --map` takes them."""
    mapping: dict[str, str] = {}
    for pair in text.split():
        old, sep, new = pair.partition("=")
        if not sep or not old or not new:
            raise JourneysError(f"map: {pair!r} is not OLD=NEW")
        mapping[old] = new
    return mapping


@router.post("/journeys/{journey_id}/migrate")
async def migrate(
    request: Request,
    journey_id: str,
    person: Annotated[Person, Depends(actor("marketer"))],
    to_version: Annotated[int, Form(ge=1)],
    mapping: Annotated[str, Form(max_length=10_000)] = "",
    dry_run: Annotated[bool, Form()] = False,
) -> Response:
    settings, store = state(request)
    journey_id = journey_id_checked(journey_id)

    async def work() -> str:
        plan = await control.migrate(
            await _client(request), store, settings, journey_id, to_version, step_map(mapping), dry_run, person.name
        )
        if plan.unmapped:
            steps = ", ".join(f"{u['step']} (v{u['from_version']}, {u['runs']} run(s))" for u in plan.unmapped)
            raise JourneysError(f"not migrated: map these steps to version {to_version}'s: {steps}")
        if dry_run:
            return f"would move {sum(m['runs'] for m in plan.moves)} run(s) to version {to_version}"
        return f"{plan.migrated} run(s) moved to version {to_version}, {len(plan.failed)} failed"

    return await _act(request, person, _journey_page(journey_id), work)
