"""Which events a run acts on, read from its definition: the rest never need to reach it.

An event moves a run only through the names its journey gives (`exit_on`, any step's `wait_for`), or through
`event`, the last event the run received, which templates and expressions may read. A run of a definition
that reads no `event` therefore acts on exactly its named events: delivering it any other one (a page view,
a click) would only make it replay its history to say "ignored", and grow that history. Delivery asks
`hears` before waking a run; the answer is kept with the run in the store, computed from exactly the
definition and templates it was enrolled (or migrated) with.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from journeys.format.messages import strings, templates_of
from journeys.format.models import BranchStep, Journey, Message, SendStep, UpdateStep, WaitForStep, WaitStep, WaitUntil
from journeys.format.timeparse import is_clock
from journeys.templates import names_read

Listens = list[str] | None  # the event names a run acts on, sorted; None: every event (its definition reads `event`)


def listens(journey: Journey, templates: Mapping[str, Message]) -> Listens:
    """The events a run of `journey` (sending `templates`, as bundled at enrolment) acts on."""
    if any("event" in names_read(source, expression) for source, expression in _rendered(journey, templates)):
        return None
    named = set(journey.exit_on)
    for step in journey.steps:
        if isinstance(step, WaitForStep):
            named.update(step.wait_for)
    return sorted(named)


def hears(listening: Listens, event: str) -> bool:
    return listening is None or event in listening


def more(old: Listens, new: Listens) -> bool:
    """Whether a run moving from `old` to `new` (a migration) acts on events it was not given before."""
    return old is not None and (new is None or not set(new) <= set(old))


def union(old: Listens, new: Listens) -> Listens:
    return None if old is None or new is None else sorted(set(old) | set(new))


def _rendered(journey: Journey, templates: Mapping[str, Message]) -> Iterator[tuple[str, bool]]:
    """Every template (False) and expression (True) a run renders or evaluates; `entry.when` is decided at
    enrolment, before the run has received anything."""
    for step in journey.steps:
        if isinstance(step, BranchStep):
            yield from ((case.when, True) for case in step.branch)
        elif isinstance(step, WaitStep) and isinstance(step.wait, WaitUntil) and not is_clock(step.wait.until):
            yield step.wait.until, True
        elif isinstance(step, UpdateStep):
            yield from ((text, False) for _, text in strings(step.update.set, ()))
        elif isinstance(step, SendStep) and step.message is not None:
            yield from _message(step.message)
    for message in templates.values():
        yield from _message(message)


def _message(message: Message) -> Iterator[tuple[str, bool]]:
    return ((text, False) for _, text in templates_of(message))
