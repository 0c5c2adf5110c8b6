"""The customer as every part of journeys knows them: one model, one list of profile fields.

`Profile` is what an import row, the store's customer row and an update of the profile hold; `Customer` adds
what a journey may also know (documents, the newest event of each name). The engine decides on a `Customer`,
the store reads and writes `Profile` fields by `PROFILE_FIELDS`, the importer and the simulators build them.
"""

from __future__ import annotations

from datetime import datetime
from functools import cached_property
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

DOCUMENT_EVENT = "document_uploaded"  # an event that records a document: `data.kind` names it


class Profile(BaseModel):
    """One customer's profile: an import replaces these fields wholesale."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    locale: str | None = None
    timezone: str | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)
    tags: list[str] = Field(default_factory=list)


PROFILE_KEYS = tuple(Profile.model_fields)  # "id" and the profile fields
PROFILE_FIELDS = PROFILE_KEYS[1:]  # what a profile holds besides its id (the store's profile columns)


class ProfileValues(NamedTuple):
    """A profile whose every field an importer has already checked, as plain values: what it hands the store
    for each row (a `Profile` built per row would check them all again, at a tenth of an import's time)."""

    id: str
    name: str | None
    email: str | None
    phone: str | None
    locale: str | None
    timezone: str | None
    attributes: dict[str, Any]
    tags: list[str]

    def profile(self) -> Profile:
        return Profile.model_construct(**self._asdict())


assert ProfileValues._fields == PROFILE_KEYS, "ProfileValues names Profile's fields in their order"


class Event(BaseModel):
    """Something that happened to a customer: on their timeline, and delivered to their live runs."""

    id: str
    name: str
    data: dict[str, Any] = Field(default_factory=dict)
    at: datetime

    def context(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "data": self.data, "at": self.at}


class Customer(Profile):
    """What a journey may know of a customer: the profile, their documents and the last event of each name."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    documents: dict[str, dict[str, Any]] = Field(default_factory=dict)
    events: dict[str, Event] = Field(default_factory=dict)

    def zone(self, fallback: ZoneInfo) -> ZoneInfo:
        if self.timezone:
            try:
                return ZoneInfo(self.timezone)
            except (KeyError, ValueError, OSError):  # OSError: a folder such as 'Asia', a name too long
                return fallback
        return fallback

    @cached_property
    def context(self) -> dict[str, Any]:
        """The `customer` of templates and expressions."""
        data = self.model_dump(exclude={"events"})
        data["events"] = {name: event.context() for name, event in self.events.items()}
        return data

    def with_event(self, event: Event) -> Customer:
        """The customer after `event` is on their timeline; a `document_uploaded` with a `kind` records it."""
        events = dict(self.events)
        if event.name not in events or events[event.name].at <= event.at:
            events[event.name] = event
        documents = self.documents
        kind = event.data.get("kind") if event.name == DOCUMENT_EVENT else None
        if isinstance(kind, str) and kind:
            documents = {**documents, kind: {**event.data, "at": event.at.isoformat(), "event_id": event.id}}
        return self.replace(events=events, documents=documents)

    @property
    def profile(self) -> Profile:
        """The profile alone, as an import or the store holds it."""
        return Profile.model_construct(**{name: getattr(self, name) for name in PROFILE_KEYS})

    def replace(self, **changes: Any) -> Customer:
        """A changed copy, without the cached `context` (which `model_copy` alone would carry over)."""
        copy = self.model_copy(update=changes)
        copy.__dict__.pop("context", None)
        return copy
