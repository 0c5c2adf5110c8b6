"""Pydantic models of the journey definition format (the reference is `docs/format.md`).

These models hold the *shape* of a journey: types, required keys, allowed values. Rules that need the
whole journey (references, reachability, loops, expressions, templates) live in `journeys.format.validation`.
Durations, clock times and zones are parsed into real types here, once, at load.
"""

from __future__ import annotations

from datetime import time, timedelta
from functools import cached_property
from typing import Annotated, Any, Literal, Union
from zoneinfo import ZoneInfo

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    PlainSerializer,
    PlainValidator,
    Tag,
    field_validator,
    model_validator,
)
from pydantic.json_schema import WithJsonSchema

from journeys.format.timeparse import (
    CLOCK_PATTERN,
    DURATION_PATTERN,
    format_duration,
    parse_clock,
    parse_duration,
    parse_zone,
)

SLUG_PATTERN = r"^[a-z][a-z0-9_-]{0,62}$"
EVENT_PATTERN = r"^[A-Za-z][A-Za-z0-9_.:-]{0,127}$"

Channel = Literal["email", "sms", "voice", "webhook"]
CHANNELS: tuple[str, ...] = ("email", "sms", "voice", "webhook")


def _duration(value: Any) -> Any:
    """Written durations need a unit: a bare number (`timeout: 30`) is an error, not 30 seconds."""
    return value if isinstance(value, timedelta) else parse_duration(value)


def _clock(value: Any) -> Any:
    return value if isinstance(value, time) else parse_clock(value)


def _zone(value: Any) -> ZoneInfo:
    if isinstance(value, ZoneInfo):
        return value
    if not isinstance(value, str):
        raise ValueError("time zone must be a string such as Asia/Tehran")
    return parse_zone(value)


def _names(value: Any) -> Any:
    """Event-name lists may be written as one bare name."""
    return [value] if isinstance(value, str) else value


def _re_entry(value: Any) -> Any:
    if value in ("never", "always") or isinstance(value, timedelta):
        return value
    if isinstance(value, str):
        try:
            return parse_duration(value)
        except ValueError:
            raise ValueError(f"bad re_entry {value!r}: expected never, always or a duration such as 30d") from None
    raise ValueError("re_entry must be never, always or a duration such as 30d")


Duration = Annotated[
    timedelta,
    BeforeValidator(_duration),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema({"type": "string", "pattern": DURATION_PATTERN, "description": "e.g. 30s, 15m, 2h, 3d, 1w, 1d12h"}),
]
Clock = Annotated[
    time,
    BeforeValidator(_clock),
    PlainSerializer(lambda t: t.strftime("%H:%M"), return_type=str),
    WithJsonSchema({"type": "string", "pattern": CLOCK_PATTERN, "description": "HH:MM, 24-hour clock"}),
]
Zone = Annotated[
    ZoneInfo,
    PlainValidator(_zone),
    PlainSerializer(lambda z: z.key, return_type=str),
    WithJsonSchema({"type": "string", "description": "IANA time zone, e.g. Asia/Tehran"}),
]
ReEntry = Annotated[
    Union[Literal["never", "always"], timedelta],
    BeforeValidator(_re_entry),
    PlainSerializer(lambda v: v if isinstance(v, str) else format_duration(v), return_type=str),
    WithJsonSchema(
        {
            "anyOf": [
                {"enum": ["never", "always"]},
                {"type": "string", "pattern": DURATION_PATTERN},
            ],
            "description": "never, always, or how long after a previous run ended the customer may re-enter",
        }
    ),
]
Slug = Annotated[str, Field(pattern=SLUG_PATTERN)]
EventName = Annotated[str, Field(pattern=EVENT_PATTERN, description="event name, e.g. registered")]
EventNames = Annotated[
    list[EventName], BeforeValidator(_names, json_schema_input_type=Union[EventName, list[EventName]])
]
StepRef = Annotated[str, Field(description="id of a step in this journey")]
Expression = Annotated[str, Field(description="Jinja2 expression, e.g. customer.attributes.plan == 'wimax'")]


class Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        populate_by_name=True,
        serialize_by_alias=True,
        arbitrary_types_allowed=True,
    )


# --- messages -------------------------------------------------------------------------------------


class Gather(Model):
    """Collect keypad digits during a voice call; they come back as `event` with `{digits: "4"}`."""

    digits: int = Field(1, ge=1, le=20, description="how many digits to collect")
    event: EventName
    opt_out: str | None = Field(
        None,
        pattern=r"^[0-9]{1,20}$",
        description="keys that opt the customer out of voice calls: recorded as `opted_out` with "
        '`{channel: voice}` instead of `event` (say so in `say`, e.g. "press 9 to stop these calls")',
    )

    @model_validator(mode="after")
    def _opt_out_fits(self) -> Gather:
        if self.opt_out is not None and len(self.opt_out) > self.digits:
            raise ValueError(f"opt_out {self.opt_out!r} has more keys than digits ({self.digits})")
        return self


class Message(Model):
    """Inline message fields; which ones apply depends on the channel."""

    subject: str | None = Field(None, description="email subject (template)")
    text: str | None = Field(None, description="email text part or SMS text (template)")
    html: str | None = Field(None, description="email HTML part (template, HTML-escaped)")
    say: str | None = Field(None, description="voice: what the call says (template)")
    gather: Gather | None = Field(None, description="voice: collect digits after `say`")
    url: str | None = Field(None, description="webhook URL (template)")
    method: Literal["POST", "PUT", "PATCH"] | None = Field(None, description="webhook method (POST)")
    body: dict[str, Any] | None = Field(None, description="webhook JSON body; string values are templates")


# --- steps ----------------------------------------------------------------------------------------


class StepBase(Model):
    id: Slug = Field(description="unique step id")
    next: StepRef | None = Field(None, description="step to go to after this one (default: the following step)")
    max_visits: Annotated[int, Field(ge=1)] | Literal["unlimited"] | None = Field(
        None,
        description="the N+1-th arrival goes to on_max instead; 'unlimited': a loop through this step is meant "
        "to go on for as long as the run lives",
    )
    on_max: StepRef | None = Field(None, description="where the N+1-th arrival goes (default: the following step)")

    @property
    def visit_limit(self) -> int | None:
        """The number of arrivals `max_visits` allows, if it names one."""
        return self.max_visits if isinstance(self.max_visits, int) else None


class SendStep(StepBase):
    send: Channel
    template: str | None = Field(None, description="template name under definitions/templates/")
    message: Message | None = None
    respect_quiet_hours: bool = True
    on_cap: Literal["postpone", "skip"] = "postpone"
    on_failure: Literal["continue", "end"] = "continue"
    on_pause: Literal["hold", "skip"] = Field(
        "hold", description="while the journey is paused: hold the send until resumed, or skip it"
    )

    @model_validator(mode="after")
    def _one_source(self) -> SendStep:
        if (self.template is None) == (self.message is None):
            raise ValueError("a send step needs exactly one of template or message")
        return self


class WaitUntil(Model):
    until: str = Field(description="HH:MM in the customer's zone, or an expression giving a timestamp")


class WaitStep(StepBase):
    wait: Duration | WaitUntil


class WaitForStep(StepBase):
    wait_for: EventNames = Field(min_length=1)
    timeout: Duration
    on_timeout: StepRef | None = None
    on_event: dict[EventName, StepRef] = Field(default_factory=dict)
    since: Literal["enrolment", "step"] = Field(
        "enrolment", description="which events count: any since enrolment, or only after arriving at this step"
    )


class BranchCase(Model):
    when: Expression
    goto: StepRef


class BranchStep(StepBase):
    branch: list[BranchCase] = Field(min_length=1)
    else_: StepRef | None = Field(None, alias="else")


class Cohort(Model):
    percent: int = Field(ge=0, le=100)
    goto: StepRef | None = None


class SplitStep(StepBase):
    split: dict[Annotated[str, Field(pattern=SLUG_PATTERN)], Cohort] = Field(min_length=1)

    @field_validator("split")
    @classmethod
    def _sums_to_100(cls, cohorts: dict[str, Cohort]) -> dict[str, Cohort]:
        total = sum(c.percent for c in cohorts.values())
        if total != 100:
            raise ValueError(f"split percentages sum to {total}, not 100")
        return cohorts


class TagChanges(Model):
    add: list[str] = Field(default_factory=list)
    remove: list[str] = Field(default_factory=list)


class Update(Model):
    set: dict[str, Any] = Field(default_factory=dict, description="attributes to set; strings are templates")
    tags: TagChanges = Field(default_factory=TagChanges)


class UpdateStep(StepBase):
    update: Update


class GotoStep(StepBase):
    goto: StepRef


class EndStep(StepBase):
    end: str | None = Field(None, description="optional outcome label")


STEP_KINDS: dict[str, type[StepBase]] = {
    "send": SendStep,
    "wait": WaitStep,
    "wait_for": WaitForStep,
    "branch": BranchStep,
    "split": SplitStep,
    "update": UpdateStep,
    "goto": GotoStep,
    "end": EndStep,
}


def step_kind(value: Any) -> str | None:
    """The kind of a step: the one kind key it holds (None when it holds none or several)."""
    if isinstance(value, dict):
        kinds = [k for k in STEP_KINDS if k in value]
        return kinds[0] if len(kinds) == 1 else None
    for kind, cls in STEP_KINDS.items():
        if type(value) is cls:
            return kind
    return None


Step = Annotated[
    Union[tuple(Annotated[cls, Tag(kind)] for kind, cls in STEP_KINDS.items())],  # type: ignore[valid-type]
    Discriminator(
        step_kind,
        custom_error_type="step_kind",
        custom_error_message="a step needs exactly one kind key: " + ", ".join(STEP_KINDS),
    ),
]


# --- the journey ----------------------------------------------------------------------------------


class Entry(Model):
    when: Expression | None = Field(None, description="only customers for which this is true are enrolled")
    unless: EventNames = Field(default_factory=list, description="never enrol a customer with one of these events")
    trigger: EventName | None = Field(None, description="recording this event enrols the customer")
    continuous: bool = Field(
        False,
        description="enrol a customer automatically at the moment entry.when becomes true for them (a profile "
        "imported or changed, an event recorded), subject to unless and re_entry; not with trigger",
    )


class QuietHours(Model):
    start: Clock
    end: Clock


class Limit(Model):
    channel: Literal["email", "sms", "voice", "webhook", "any"]
    max: int = Field(ge=1)
    per: Duration


class Journey(Model):
    """One journey definition: a YAML file under `definitions/`."""

    id: Slug
    name: str = Field(min_length=1)
    version: int = Field(1, ge=1)
    description: str | None = None
    timezone: Zone = Field(default_factory=lambda: ZoneInfo("UTC"))
    entry: Entry = Field(default_factory=Entry)
    re_entry: ReEntry = "never"
    exit_on: EventNames = Field(default_factory=list)
    conversion_window: Duration = Field(
        timedelta(days=30),
        description="how long after enrolment a goal (`exit_on`) event counts as a conversion in reports, "
        "also for runs that ended earlier (a `holdout` run, a run that completed)",
    )
    quiet_hours: QuietHours | None = None
    limits: list[Limit] = Field(default_factory=list)
    steps: list[Step] = Field(min_length=1)  # type: ignore[valid-type]

    def step(self, step_id: str) -> StepBase:
        return self._index[step_id]

    @cached_property
    def _index(self) -> dict[str, StepBase]:
        return {s.id: s for s in self.steps}

    @cached_property
    def _following(self) -> dict[str, str | None]:
        ids = [s.id for s in self.steps]
        return {s.id: s.next or (ids[i + 1] if i + 1 < len(ids) else None) for i, s in enumerate(self.steps)}

    def following(self, step_id: str) -> str | None:
        """The step after `step_id`: its `next`, else the one below it in the list (None: the end)."""
        return self._following[step_id]
