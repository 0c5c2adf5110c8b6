"""What travels between the client, the journey workflow and its activities (pydantic, by value).

The definition a customer was enrolled with, and the templates it uses, travel inside `RunInput`, so
editing a YAML file never changes a live run: runs keep their version.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field, ModelWrapValidatorHandler, TypeAdapter, field_validator, model_validator

from journeys.engine.interpreter import Deferral, RunState, SentMessage
from journeys.format.customers import Customer, Event
from journeys.format.models import Journey, Limit, Message, SendStep
from journeys.templates import TemplateFiles, locale_chain

# The workflow changes guarded by `workflow.patched` (workflows/journey.py), oldest first. A run enrolled now
# carries them in `RunInput.patches` and takes their paths without asking Temporal: a patch marker costs the
# server a history event and its first in a task a search-attribute write (`TemporalChangeVersion`), which
# made an event's first delivery to a run take twice as long. A new change's id goes at the end.
LOCAL_STORE = "local-store-activities"  # store reads and writes as local activities
QUIET_IGNORED = "ignored-events-do-not-wake"  # an ignored event leaves the wait alone
PATCHES: tuple[str, ...] = (LOCAL_STORE, QUIET_IGNORED)
# The workflow type runs are enrolled as: the type whose runs carry `patches`. A worker older than it has no
# such type and leaves these runs alone (a marker it recorded would break the run on a newer worker); a
# worker that lacks one of a run's patches fails its task, so a newer worker takes it (a rolling deploy).
RUN_TYPE = "JourneyV2"
SHARED_DEFINITIONS = 64  # distinct definitions (a journey version and its templates) a process keeps one copy of
LEDGER_DAYS = 35  # how far back a snapshot's send ledger reaches: longer than any sensible cap window


def workflow_id(journey_id: str, customer_id: str, entry: int) -> str:
    """Deterministic: enrolling twice makes one run. Keyed by customer id, never by email or phone."""
    return f"journey:{journey_id}:{customer_id}:{entry}"


def send_queue(task_queue: str, channel: str) -> str:
    """Sends go to a task queue per channel, so a provider's rate limit holds across every worker."""
    return f"{task_queue}-{channel}"


def template_key(name: str, channel: str, locale: str | None) -> str:
    return f"{name}|{channel}|{locale or ''}"


_TEMPLATES = TypeAdapter(dict[str, Message])
_shared: dict[str, tuple[Journey, dict[str, Message]]] = {}  # definition digest → the one copy this process holds


def definition_digest(journey: Journey, templates: dict[str, Message]) -> str:
    """The content address of a definition and its templates (`RunInput.definition`)."""
    body = journey.model_dump_json().encode() + b"\0" + _TEMPLATES.dump_json(dict(sorted(templates.items())))
    return hashlib.sha256(body).hexdigest()


class RunInput(BaseModel):
    journey: Journey
    templates: dict[str, Message] = Field(default_factory=dict)  # template_key → message, every locale
    # `definition_digest(journey, templates)`, or None. The runs a worker holds in memory share one copy of
    # each definition (about 30 KiB a run for the modem swap, a fifth of a cached run), and a run it loads
    # again skips validating it. A digest is believed only once the content it came with hashes to it.
    definition: str | None = None
    customer_id: str
    entry: int = 1
    trigger: Event | None = None
    state: RunState | None = None  # set when continuing as new
    step_before: str | None = None  # the step the previous run left off at, for the step log
    steps_before: int = 0  # how many steps the runs this one continues logged, to number the next
    snapshot: Snapshot | None = None  # as enrolment read the customer: the first decision needs no store read
    # Events recorded between the run's registration and its start, when an interrupted enrolment left it
    # registered and a later one starts it: `signal` found no run to deliver them to. Taken in first.
    missed: list[Event] = Field(default_factory=list)
    # Simulation only. The server's clock runs on while the simulator works, so a simulated run decides at
    # the exact moments it was woken for (its start, a timer's deadline, an event's time), as the
    # in-process simulator does; `clock_offset` (simulated start minus server clock) maps timers.
    simulated: bool = False
    clock_offset: timedelta = timedelta(0)
    simulated_start: datetime | None = None
    history_limit: int = 5_000  # continue as new past this many history events (or when Temporal suggests it)
    # The workflow changes (`PATCHES`) the run was enrolled with; empty for runs enrolled before this field,
    # which ask `workflow.patched` as they always did.
    patches: tuple[str, ...] = ()

    @model_validator(mode="wrap")
    @classmethod
    def _share_definition(cls, data: Any, handler: ModelWrapValidatorHandler[RunInput]) -> RunInput:
        shared = _shared.get(data.get("definition") or "") if isinstance(data, dict) else None
        if shared is not None:
            data = {**data, "journey": shared[0], "templates": shared[1]}
        run = handler(data)
        digest = run.definition
        if shared is None and digest is not None and definition_digest(run.journey, run.templates) == digest:
            if len(_shared) >= SHARED_DEFINITIONS:
                del _shared[next(iter(_shared))]
            _shared[digest] = (run.journey, run.templates)
        return run

    def message_for(self, step: SendStep, locale: str | None) -> Message:
        """The step's inline message, or its template for this locale (with the usual fallback)."""
        if step.message is not None:
            return step.message
        for candidate in locale_chain(locale):
            found = self.templates.get(template_key(step.template or "", step.send, candidate))
            if found is not None:
                return found
        raise KeyError(f"no template {step.template!r} for channel {step.send}")


def bundle_templates(journey: Journey, files: TemplateFiles) -> dict[str, Message]:
    """Every template file the journey's send steps use, in every locale, loaded now (at enrolment)."""
    from journeys.format.messages import load_message_file

    bundle: dict[str, Message] = {}
    for step in journey.steps:
        if not isinstance(step, SendStep) or step.template is None:
            continue
        for path in files.variants(step.template, step.send):
            parts = path.name.split(".")
            locale = parts[1] if len(parts) == 4 else None
            message, _ = load_message_file(path)
            if message is not None:
                bundle[template_key(step.template, step.send, locale)] = message
    return bundle


class Snapshot(BaseModel):
    """The customer as the store has them now, and their recent sends across all journeys."""

    customer: Customer
    ledger: list[SentMessage] = Field(default_factory=list)
    paused: bool = False
    read_at: datetime | None = None  # a snapshot handed to a run is used only while fresh (`CARRIED_FRESH`)


class SendRequest(BaseModel):
    workflow_id: str
    journey_id: str
    version: int
    customer_id: str
    step: str
    visit: int
    seq: int
    channel: str
    message: Message
    context: dict[str, Any]  # event, journey and now of the decision (the customer is read fresh)
    limits: list[Limit] = Field(default_factory=list)
    now: datetime
    # What the send activity checks again as it reserves the message (see `SendGuard`): the journey's goals,
    # and what the step does while the journey is paused. Defaults for requests of runs that predate them.
    exit_on: list[str] = Field(default_factory=list)
    on_pause: Literal["hold", "skip"] = "hold"

    @property
    def key(self) -> str:
        """The idempotency key: workflow id and the run's send counter (never attempt number or run id)."""
        return f"{self.workflow_id}#{self.seq}"


class SendOutcome(BaseModel):
    """What became of a send. `deferred`: nothing went out (a cap filled meanwhile, the provider refused, a
    rate limit queued it too long, the journey was paused); the interpreter holds the step until `until`
    (None: not at all) and decides it again (`interpreter.defer`)."""

    status: Literal["sent", "skipped", "failed", "deferred"]
    until: datetime | None = None
    why: Deferral | None = None  # deferred: why
    error: str | None = None
    event: Event | None = None  # what the provider told us of the customer (opted_out), already on the timeline
    snapshot: Snapshot | None = None  # the customer once sent: the run's next decision needs no store read

    @field_validator("status", mode="before")
    @classmethod
    def _older_name(cls, status: Any) -> Any:
        return "deferred" if status == "capped" else status  # what histories recorded before the rename say


class ProfileUpdate(BaseModel):
    customer_id: str
    set: dict[str, Any] = Field(default_factory=dict)
    add_tags: list[str] = Field(default_factory=list)
    remove_tags: list[str] = Field(default_factory=list)


class StepEntry(BaseModel):
    step: str
    from_step: str | None
    at: datetime
    seq: int | None = None  # its number within the run: a retried workflow task logs the same numbers again


class Progress(BaseModel):
    """What the store should know of a run: written when it waits and when it ends, not per timer tick."""

    workflow_id: str
    journey_id: str
    version: int
    customer_id: str
    entry: int
    started_at: datetime
    entries: list[StepEntry] = Field(default_factory=list)
    current_step: str | None = None
    waiting_for: list[str] = Field(default_factory=list)
    until: datetime | None = None
    outcome: str = "running"
    ended_at: datetime | None = None
    exit_event: str | None = None
    end_label: str | None = None
    failure: str | None = None
    cohort: str | None = None  # the split cohort the run fell in (None: it has passed no split)


class RunStatus(BaseModel):
    """The answer of the workflow's `status` query."""

    journey: str
    version: int
    customer_id: str
    outcome: str
    current_step: str | None
    waiting_for: list[str]
    until: datetime | None
    exit_event: str | None = None
    end_label: str | None = None
    idle: bool = False  # waiting (on a timer or events) or ended: nothing in flight


class MoveRequest(BaseModel):
    to_step: str


class MigrateRequest(BaseModel):
    journey: Journey
    templates: dict[str, Message] = Field(default_factory=dict)
    step_map: dict[str, str] = Field(default_factory=dict)
    # events since enrolment that the new version acts on and were not delivered to the run (its old version
    # named none of them: see `journeys.engine.listening`); the run takes them in as received before
    missed: list[Event] = Field(default_factory=list)


class Change(BaseModel):
    """What a move or a migration did to one run."""

    from_step: str | None
    to_step: str | None
    from_version: int
    to_version: int
