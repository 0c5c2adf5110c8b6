"""The HTTP API, version 1: the systems where sales, deliveries and uploads happen tell journeys at once.

Every route takes a bearer key (`journeys.http.auth`) and answers JSON; errors are `{"error": "one line"}`
(`journeys.http.errors`). The routes are thin: the services do the work, as they do for the CLI, so an event
posted here is recorded and delivered by the same code as `journeys signal` and `journeys events import`.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, ValidationError
from pydantic.functional_validators import AfterValidator
from pydantic_core import PydanticCustomError

from journeys.engine.interpreter import Event
from journeys.errors import JourneysError
from journeys.format.customers import PROFILE_KEYS, Profile
from journeys.http.auth import Caller, requires
from journeys.http.errors import ApiError, ApiRefusal, describe
from journeys.http.inbound import Inbound
from journeys.services import delivery, erasure, reporting
from journeys.services.catalogue import definitions
from journeys.services.continuous import enrol_customer
from journeys.services.import_file import Bad, plain_mapping
from journeys.services.importing import check_profile
from journeys.services.shared import utc_now
from journeys.services.status import status
from journeys.settings import Settings
from journeys.store import NewEvent, Store, StoreUnavailable, UnknownCustomer

M = TypeVar("M", bound=BaseModel)
MAX_BATCH = 1000
SOURCE = "api"  # the door these events come in by, kept on the timeline

ERRORS = {
    status: {"model": ApiError, "description": description}
    for status, description in (
        (400, "malformed JSON, or a body that is not what the route takes"),
        (401, "no API key, or an unknown or revoked one"),
        (403, "the key's scope does not allow this"),
        (404, "no such customer or journey"),
        (413, "a body over 1 MB"),
        (422, "a field that is wrong, named"),
        (429, "over the key's rate: see Retry-After"),
        (503, "the store does not answer: nothing was changed"),
    )
}

router = APIRouter(prefix="/v1", responses=ERRORS)  # type: ignore[arg-type]


def _plain(value: dict[str, Any]) -> dict[str, Any]:
    """A mapping both databases can keep (no NUL, bounded size and depth), as events import checks `data`."""
    try:
        return plain_mapping(value, "data")
    except Bad as exc:
        raise PydanticCustomError("plain", str(exc).partition(": ")[2]) from None


Id = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255, pattern=r"^[^\x00-\x1f\x7f]+$")
]
Data = Annotated[dict[str, Any], AfterValidator(_plain)]


class EventIn(BaseModel):
    """One event, as `journeys signal` takes it; `profile` creates an unknown customer first (a lead)."""

    model_config = ConfigDict(extra="forbid")

    customer: Id
    event: Id
    id: Id | None = Field(None, description="the event's id: the same id twice is one event; send one to retry safely")
    data: Data = Field(default_factory=dict)
    at: AwareDatetime | None = Field(None, description="when it happened (default: when it is recorded)")
    profile: dict[str, Any] | None = Field(
        None, description="for a customer the store does not hold: their profile (with an email or a phone)"
    )


class RunEffectOut(BaseModel):
    journey: str
    workflow_id: str
    effect: str
    reason: str | None = None


class SignalOut(BaseModel):
    event_id: str
    customer: str
    event: str
    duplicate: bool
    delivered: bool
    runs: list[RunEffectOut]


class EventsBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    events: Annotated[
        list[dict[str, Any]],
        Field(
            max_length=MAX_BATCH,
            description="each an event as POST /v1/events takes it (EventIn), checked on its own: a bad one is "
            "refused alone, as {error} in its place in results",
        ),
    ]


class ProfileIn(BaseModel):
    """A profile with the fields of `journeys customers import`; other keys are attributes."""

    model_config = ConfigDict(extra="allow")

    name: str | None = None
    email: str | None = None
    phone: str | None = None
    locale: str | None = None
    timezone: str | None = None
    tags: list[str] | None = None
    attributes: dict[str, Any] | None = None


class CustomerOut(BaseModel):
    customer: dict[str, Any]
    created: bool


class CustomersBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customers: Annotated[
        list[dict[str, Any]],
        Field(
            max_length=MAX_BATCH,
            description="each a profile with its id (ProfileIn and `id`), checked on its own: a bad one is "
            "refused alone, as {error} in its place in results",
        ),
    ]


class BatchOut(BaseModel):
    results: list[dict[str, Any]] = Field(description="one per item, in the order given: its result or {error}")


class JourneySummary(BaseModel):
    id: str
    name: str
    version: int
    paused: bool
    live_runs: int


# --- events -------------------------------------------------------------------------------------------


@router.post(
    "/events",
    response_model=SignalOut,
    responses={202: {"model": SignalOut, "description": "recorded; Temporal did not answer: delivery pending"}},
    summary="Record one event and deliver it to the customer's live runs",
)
async def post_event(
    request: Request, body: EventIn, caller: Annotated[Caller, Depends(requires("events"))]
) -> JSONResponse:
    (result,) = await _events(request, [("", body)])
    if isinstance(result, ApiRefusal):
        raise result
    return JSONResponse(result.model_dump(mode="json"), 200 if result.delivered else 202)


@router.post("/events:batch", response_model=BatchOut, summary="Record up to 1,000 events, each on its own")
async def post_events(
    request: Request, body: EventsBatch, caller: Annotated[Caller, Depends(requires("events"))]
) -> BatchOut:
    results: list[dict[str, Any]] = [{} for _ in body.events]
    valid: list[tuple[int, EventIn]] = []
    for index, item in enumerate(body.events):
        try:
            valid.append((index, _valid(EventIn, item, f"events[{index}]")))
        except ApiRefusal as exc:
            results[index] = {"error": exc.message}
    taken = await _events(request, [(f"events[{index}]", event) for index, event in valid])
    for (index, _), result in zip(valid, taken, strict=True):
        results[index] = {"error": result.message} if isinstance(result, ApiRefusal) else result.model_dump(mode="json")
    return BatchOut(results=results)


async def _events(request: Request, events: Sequence[tuple[str, EventIn]]) -> list[delivery.SignalResult | ApiRefusal]:
    """Record and deliver these events (`where` names each in errors) as `journeys signal` does, all in one
    go: a refused one (its lead's profile bad, its customer unknown) is its refusal in its place."""
    store: Store = request.app.state.store
    results: dict[int, delivery.SignalResult | ApiRefusal] = {}
    incoming: list[tuple[int, NewEvent]] = []
    for position, (where, body) in enumerate(events):
        try:
            if body.profile is not None:
                await _lead(store, body.customer, body.profile, _field(where, "profile"))
        except ApiRefusal as exc:
            results[position] = exc
            continue
        event = Event(id=body.id or uuid.uuid4().hex, name=body.event, data=body.data, at=body.at or utc_now())
        incoming.append((position, NewEvent(body.customer, event, SOURCE)))
    try:
        taken = await delivery.signal_many(
            await request.app.state.inbound.client_or_none(),
            store,
            request.app.state.settings,
            [new for _, new in incoming],
        )
    except delivery.NotRecorded:
        raise ApiRefusal(503, "the store does not answer: nothing was recorded, try again with the same ids") from None
    for (position, new), result in zip(incoming, taken, strict=True):
        if isinstance(result, UnknownCustomer):
            where, body = events[position]
            hint = "" if body.profile is not None else ": send `profile` to create them"
            result = ApiRefusal(404, f"{_field(where, 'customer')}: no customer {new.customer_id!r} in the store{hint}")
        results[position] = result
    return [results[position] for position in range(len(events))]


async def _lead(store: Store, customer_id: str, profile: dict[str, Any], where: str) -> None:
    """A customer the store does not hold is created from the event's profile, checked as an import row is."""
    if await asyncio.to_thread(store.customer_row, customer_id) is not None:
        return  # a known customer keeps their profile: PUT /v1/customers/{id} changes it
    record = _profile(customer_id, profile, where)
    if not (record.email or record.phone):
        raise ApiRefusal(422, f"{where}: needs an email or a phone (what a channel sends to)")
    await asyncio.to_thread(store.upsert_customers, [record])


# --- customers ----------------------------------------------------------------------------------------


@router.put("/customers/{customer_id}", response_model=CustomerOut, summary="Create or replace one profile")
async def put_customer(
    request: Request,
    customer_id: Annotated[str, StringConstraints(min_length=1, max_length=255)],
    body: ProfileIn,
    caller: Annotated[Caller, Depends(requires("events"))],
) -> CustomerOut:
    return await _upsert(request, customer_id, body.model_dump(exclude_none=True), "")


@router.post("/customers:batch", response_model=BatchOut, summary="Create or replace up to 1,000 profiles")
async def post_customers(
    request: Request, body: CustomersBatch, caller: Annotated[Caller, Depends(requires("events"))]
) -> BatchOut:
    async def one(index: int, item: dict[str, Any]) -> Any:
        where = f"customers[{index}]"
        customer_id = item.get("id")
        if not isinstance(customer_id, str) or not customer_id.strip():
            raise ApiRefusal(422, f"{where}.id: required (text)")
        fields = {k: v for k, v in item.items() if k != "id"}
        return await _upsert(
            request, customer_id, _valid(ProfileIn, fields, where).model_dump(exclude_none=True), where
        )

    return BatchOut(results=await _in_order(body.customers, one, key=lambda item: str(item.get("id"))))


async def _upsert(request: Request, customer_id: str, fields: dict[str, Any], where: str) -> CustomerOut:
    """Create or replace the profile; the continuous journeys it now lets the customer into enrol them at once
    when Temporal answers (else the enroller beside the worker does, from the profile's change)."""
    store: Store = request.app.state.store
    record = _profile(customer_id, fields, where)
    counts = await asyncio.to_thread(store.upsert_customers, [record])
    client = await request.app.state.inbound.client_or_none()
    if client is not None:
        await enrol_customer(client, store, request.app.state.settings, record.id)
    row = await asyncio.to_thread(store.customer_row, record.id)
    assert row is not None
    return CustomerOut(customer={name: getattr(row, name) for name in PROFILE_KEYS}, created=counts.created == 1)


def _profile(customer_id: str, fields: dict[str, Any], where: str) -> Profile:
    given = fields.get("id")
    if given is not None and given != customer_id:
        raise ApiRefusal(422, f"{_field(where, 'id')}: {given!r} is not the customer of this request")
    record, problems = check_profile({**fields, "id": customer_id})
    if record is None:
        raise ApiRefusal(422, _field(where, problems[0]))
    return record


@router.get("/customers/{customer_id}", summary="The customer's whole story, as `journeys status --json`")
async def get_customer(
    request: Request, customer_id: str, caller: Annotated[Caller, Depends(requires("read"))]
) -> dict[str, Any]:
    store: Store = request.app.state.store
    if await asyncio.to_thread(store.customer_row, customer_id) is None:
        raise ApiRefusal(404, f"no customer {customer_id!r} in the store")
    inbound: Inbound = request.app.state.inbound
    return jsonable_encoder(await status(await inbound.client_or_none(), store, customer_id))


@router.delete("/customers/{customer_id}", summary="Erase the customer, as `journeys customers forget`")
async def delete_customer(
    request: Request,
    customer_id: str,
    reason: Annotated[str, Query(min_length=1, max_length=500, description="why (kept in the audit trail)")],
    caller: Annotated[Caller, Depends(requires("admin"))],
) -> dict[str, Any]:
    store: Store = request.app.state.store
    if await asyncio.to_thread(store.customer_row, customer_id) is None:
        raise ApiRefusal(404, f"no customer {customer_id!r} in the store")
    client = await request.app.state.inbound.client_or_none()
    if client is None:
        raise ApiRefusal(503, "Temporal does not answer: nothing was erased, try again")
    try:
        done = await erasure.forget(client, store, customer_id, reason, by=f"api:{caller.key}")
    except JourneysError as exc:
        raise ApiRefusal(422, f"reason: {exc}" if "reason" in str(exc) else str(exc)) from None
    return jsonable_encoder(done)


# --- journeys -----------------------------------------------------------------------------------------


@router.get("/journeys", response_model=list[JourneySummary], summary="The journeys in the definitions folder")
async def journeys(request: Request, caller: Annotated[Caller, Depends(requires("read"))]) -> list[JourneySummary]:
    settings: Settings = request.app.state.settings
    store: Store = request.app.state.store
    catalogue = await asyncio.to_thread(definitions, settings)
    live, paused = await asyncio.to_thread(store.journeys_overview)
    return [
        JourneySummary(id=j.id, name=j.name, version=j.version, paused=j.id in paused, live_runs=live.get(j.id, 0))
        for j in catalogue.values()
    ]


@router.get("/journeys/{journey_id}/report", summary="The journey's report, as `journeys report --json`")
async def journey_report(
    request: Request,
    journey_id: str,
    caller: Annotated[Caller, Depends(requires("read"))],
    by: Annotated[
        str | None, Query(pattern="^day$", description="`day`: enrolments, messages, conversions per day")
    ] = None,
) -> dict[str, Any]:
    settings: Settings = request.app.state.settings
    known = {j.id for j in (await asyncio.to_thread(definitions, settings)).values()}
    store: Store = request.app.state.store
    if journey_id not in known and await asyncio.to_thread(store.newest_version_text, journey_id) is None:
        raise ApiRefusal(404, f"no journey {journey_id!r}")
    report = await asyncio.to_thread(reporting.journey_report, settings, store, journey_id, by_day=by == "day")
    return jsonable_encoder(report.model_dump(mode="json"))


def _field(where: str, name: str) -> str:
    """A field named within a batch item (`events[3].at`), or alone."""
    return f"{where}.{name}" if where else name


# --- batches ------------------------------------------------------------------------------------------


def _valid(model: type[M], item: Any, where: str) -> M:
    try:
        return model.model_validate(item)
    except ValidationError as exc:
        errors = [{**e, "loc": (where, *e["loc"])} for e in exc.errors()]
        raise ApiRefusal(422, describe(errors)) from None


async def _in_order(
    items: Sequence[dict[str, Any]], one: Callable[[int, dict[str, Any]], Awaitable[Any]], key: Callable[[Any], str]
) -> list[dict[str, Any]]:
    """Each item on its own (a refused one is `{"error": ...}` in its place), one customer's items in the order
    given, different customers' side by side."""
    results: list[dict[str, Any]] = [{} for _ in items]
    chains: dict[str, list[int]] = {}
    for index, item in enumerate(items):
        chains.setdefault(key(item) if isinstance(item, dict) else f"#{index}", []).append(index)

    async def chain(indexes: list[int]) -> None:
        for index in indexes:
            try:
                item = items[index]
                if not isinstance(item, dict):
                    raise ApiRefusal(422, f"[{index}]: must be an object")
                results[index] = jsonable_encoder(await one(index, item))
            except ApiRefusal as exc:
                results[index] = {"error": exc.message}
            except StoreUnavailable:
                results[index] = {"error": "the store does not answer: not recorded, try again"}

    await asyncio.gather(*(chain(indexes) for indexes in chains.values()))
    return results
