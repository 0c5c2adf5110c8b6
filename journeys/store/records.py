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
class SendGuard:
    """What must still hold when a run's message is reserved, checked in the reservation's transaction under
    the customer's lock (`reserve_send`), so a change recorded before it stops the send and one after finds it
    reserved: the run has not ended in the store (a cancel, or its own report of an end); no `exit_on` event
    was recorded for the customer since the run was registered (or last migrated: from then on the new
    version's goals count), whether or not it has reached the run yet; the customer has not opted out of the
    channel; the journey is not paused (`on_pause`: the step's `hold` hands the send back to the run, `skip`
    skips it). `decided_at`: when the run decided to send, the bound for exit events when the store has no
    row of the run."""

    exit_on: tuple[str, ...] = ()
    on_pause: Literal["hold", "skip"] = "hold"
    decided_at: datetime | None = None


@dataclass(frozen=True)
class Reservation:
    """`reserved`: the row is written, send now; `duplicate`: that key has a row already (`message`);
    `capped`: a frequency cap forbids it until `until`; `skipped`: the run may no longer send it (see
    `SendGuard`), the row is written `skipped` with why (`message.error`); `held`: the journey is paused and the
    step holds its sends, nothing is written."""

    status: Literal["reserved", "duplicate", "capped", "skipped", "held"]
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
