"""What goes into the store and what comes back besides rows: send reservations, registrations, counts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from journeys.engine.interpreter import PastRun
from journeys.engine.runs import Snapshot
from journeys.format.customers import Customer
from journeys.store.models import MessageFields, MessageRow

MessageStatus = Literal["sending", "sent", "delivered", "failed", "skipped"]


@dataclass(frozen=True)
class UpsertCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0


class SendReservation(MessageFields):
    """A message a run is about to send: the message row's fields but its outcome (`created_at` unset:
    `reserve_send`'s `now`)."""


@dataclass(frozen=True)
class Reservation:
    """`reserved`: the row is written, send now; `duplicate`: that key has a row already (`message`);
    `capped`: a frequency cap forbids it until `until`."""

    status: Literal["reserved", "duplicate", "capped"]
    message: MessageRow | None = None
    until: datetime | None = None


Refusal = Callable[[Customer, list[PastRun]], str | None]  # why the customer may not enter, or None


class Registration(BaseModel):
    """What `register_run` decided: a new run (registered: start it), a live one, a refusal, or no such customer."""

    status: Literal["new", "live", "refused", "unknown"]
    workflow_id: str | None = None
    entry: int | None = None
    snapshot: Snapshot | None = None  # the customer as the decision saw them: the run's first decision uses it
    reason: str | None = None  # refused: why
    unstarted: bool = False  # live, but it has reported nothing yet: it may never have been started
    registered_at: datetime | None = None
