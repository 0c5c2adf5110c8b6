"""Rules that need the whole journey, run after the models have checked its shape.

References between steps, reachability, loops that nothing slows down or bounds, expressions and
templates, template files and the channels they are sent on, plus warnings for things that are legal but
almost certainly a mistake. Every problem points at the most precise node of the file.
"""

from __future__ import annotations

import difflib
import re
from collections import deque
from collections.abc import Iterator
from typing import TYPE_CHECKING, Literal

from journeys.errors import Problem
from journeys.format.messages import check_message, load_message_file, strings
from journeys.format.models import (
    BranchStep,
    EndStep,
    GotoStep,
    Journey,
    SendStep,
    SplitStep,
    StepBase,
    UpdateStep,
    WaitForStep,
    WaitStep,
    WaitUntil,
)
from journeys.format.timeparse import parse_clock
from journeys.format.yaml import Positions, YamlPath
from journeys.templates import TemplateFiles, check_expression, check_template

if TYPE_CHECKING:
    from pathlib import Path

_LOOKS_LIKE_CLOCK = re.compile(r"^\s*\d{1,2}:\d{1,2}(:\d{1,2})?\s*$")

Severity = Literal["error", "warning"]


def _cycle(start: int, members: set[int], edges: list[list[int]]) -> list[int]:
    """The shortest path from `start` back to itself inside `members` (a strongly connected set)."""
    parent: dict[int, int] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for target in edges[node]:
            if target == start:
                path = [node]
                while path[-1] != start:
                    path.append(parent[path[-1]])
                return path[::-1]
            if target in members and target not in parent:
                parent[target] = node
                queue.append(target)
    raise AssertionError("start is not on a cycle")


def _loops(nodes: set[int], edges: list[list[int]]) -> list[set[int]]:
    """The strongly connected parts of the graph restricted to `nodes` that hold a cycle, first step first."""
    reach: dict[int, set[int]] = {}
    for node in nodes:
        seen: set[int] = set()
        todo = [t for t in edges[node] if t in nodes]
        while todo:
            current = todo.pop()
            if current not in seen:
                seen.add(current)
                todo += [t for t in edges[current] if t in nodes]
        reach[node] = seen
    loops: list[set[int]] = []
    placed: set[int] = set()
    for node in sorted(nodes):
        if node in reach[node] and node not in placed:
            loop = {other for other in reach[node] if node in reach[other]}
            placed |= loop
            loops.append(loop)
    return loops


class _Checker:
    """One pass over one journey; each method is one rule and appends to `problems`."""

    def __init__(self, journey: Journey, positions: Positions, file: str, templates: TemplateFiles) -> None:
        self.journey = journey
        self.steps: list[StepBase] = list(journey.steps)
        self.positions = positions
        self.file = file
        self.templates = templates
        self.problems: list[Problem] = []
        self.index: dict[str, int] = {}
        for i, step in enumerate(self.steps):
            self.index.setdefault(step.id, i)
        self._checked_files: set[Path] = set()  # a template file used by several steps is reported once

    def report(self, path: YamlPath, message: str, severity: Severity = "error", on_key: bool = False) -> None:
        where = self.positions.key(path) if on_key else self.positions.at(path)
        self.problems.append(Problem(self.file, *where, message, severity))

    def run(self) -> list[Problem]:
        self.duplicate_ids()
        references_good = self.references()
        self.on_event_keys()
        edges = [self.edges(i) for i in range(len(self.steps))]
        if references_good:  # a misspelt name would make whole parts look unreachable
            self.unreachable(edges)
        self.endless_loops()
        self.entry()
        self.expressions()
        self.messages()
        self.likely_mistakes()
        return self.problems

    # --- steps and references ---------------------------------------------------------------------

    def duplicate_ids(self) -> None:
        for i, step in enumerate(self.steps):
            first = self.index[step.id]
            if first != i:
                line = self.positions.at(("steps", first, "id"))[0]
                self.report(("steps", i, "id"), f"duplicate step id {step.id!r} (first used at line {line})")

    def refs(self, i: int) -> Iterator[tuple[YamlPath, str, str]]:
        """Every step id that step `i` names: (path, what names it, the id)."""
        step, at = self.steps[i], ("steps", i)
        for name in ("next", "on_max"):
            if getattr(step, name) is not None:
                yield at + (name,), name, getattr(step, name)
        if isinstance(step, WaitForStep):
            if step.on_timeout is not None:
                yield at + ("on_timeout",), "on_timeout", step.on_timeout
            for event, target in step.on_event.items():
                yield at + ("on_event", event), f"on_event {event}", target
        elif isinstance(step, BranchStep):
            for j, case in enumerate(step.branch):
                yield at + ("branch", j, "goto"), "goto", case.goto
            if step.else_ is not None:
                yield at + ("else",), "else", step.else_
        elif isinstance(step, SplitStep):
            for cohort, spec in step.split.items():
                if spec.goto is not None:
                    yield at + ("split", cohort, "goto"), f"split cohort {cohort} goto", spec.goto
        elif isinstance(step, GotoStep):
            yield at + ("goto",), "goto", step.goto

    def references(self) -> bool:
        """Report names of no step; True when all names are good."""
        good = True
        for i, step in enumerate(self.steps):
            for path, what, target in self.refs(i):
                if target not in self.index:
                    close = difflib.get_close_matches(target, list(self.index), n=1)
                    hint = f", did you mean {close[0]!r}?" if close else ""
                    self.report(path, f"step {step.id!r}: {what}: there is no step {target!r}{hint}")
                    good = False
        return good

    def on_event_keys(self) -> None:
        for i, step in enumerate(self.steps):
            if isinstance(step, WaitForStep):
                for event in step.on_event:
                    if event not in step.wait_for:
                        self.report(
                            ("steps", i, "on_event", event),
                            f"step {step.id!r}: on_event {event!r} is not an event this step waits for "
                            f"({', '.join(step.wait_for)})",
                            on_key=True,
                        )

    # --- the graph --------------------------------------------------------------------------------

    def edges(self, i: int, with_on_max: bool = True) -> list[int]:
        """Where a run can go from step `i` (names of no step are left out: they are reported already)."""
        step = self.steps[i]
        following: int | None = i + 1 if i + 1 < len(self.steps) else None
        after = self.index.get(step.next) if step.next is not None else following
        go = self.index.get
        targets: list[int | None]
        if isinstance(step, WaitForStep):
            targets = [go(step.on_timeout) if step.on_timeout else after]
            targets += [go(t) for t in step.on_event.values()]
            targets += [after] if set(step.wait_for) - set(step.on_event) else []
        elif isinstance(step, BranchStep):
            targets = [go(case.goto) for case in step.branch] + [go(step.else_) if step.else_ else after]
        elif isinstance(step, SplitStep):
            targets = [
                go(c.goto) if c.goto else (None if name == "holdout" else after) for name, c in step.split.items()
            ]
        elif isinstance(step, GotoStep):
            targets = [go(step.goto)]
        elif isinstance(step, EndStep):
            targets = []
        else:
            targets = [after]
        if step.visit_limit is not None and with_on_max:
            targets.append(self.on_max_target(i))
        return [t for t in dict.fromkeys(targets) if t is not None]

    def on_max_target(self, i: int) -> int | None:
        step = self.steps[i]
        if step.on_max is not None:
            return self.index.get(step.on_max)
        if step.next is not None:
            return self.index.get(step.next)
        return i + 1 if i + 1 < len(self.steps) else None

    def loop_graph(self) -> list[list[int]]:
        """The step graph for loop checks. A step with max_visits bounds the runs through it, but not the
        arrivals it turns away to `on_max`: those go through a node of their own (index + len(steps)),
        which bounds nothing, so a loop through `on_max` back to the same step is seen as unbounded."""
        n = len(self.steps)
        redirect = {i: n + i for i, s in enumerate(self.steps) if s.visit_limit is not None}

        def arrive(targets: list[int]) -> list[int]:
            return [node for t in targets for node in ([t, redirect[t]] if t in redirect else [t])]

        graph = [arrive(self.edges(i, with_on_max=False)) for i in range(n)] + [[] for _ in range(n)]
        for i, node in redirect.items():
            target = self.on_max_target(i)
            graph[node] = arrive([target] if target is not None else [])
        return graph

    def unreachable(self, edges: list[list[int]]) -> None:
        seen = {0}
        todo = [0]
        while todo:
            for target in edges[todo.pop()]:
                if target not in seen:
                    seen.add(target)
                    todo.append(target)
        for i, step in enumerate(self.steps):
            if i not in seen and self.index[step.id] == i:
                self.report(("steps", i), f"step {step.id!r} is unreachable: no path from the first step leads to it")

    def describe(self, cycle: list[int]) -> str:
        n = len(self.steps)
        ids = [self.steps[i].id if i < n else f"{self.steps[i - n].id} (on_max)" for i in cycle]
        return " → ".join(ids if len(ids) > 1 else ids * 2)

    def endless_loops(self) -> None:
        """Errors for loops with nothing that waits or bounds them, and for loops of sends that no numeric
        max_visits bounds (the daily robocall); a warning for a send loop declared `max_visits: unlimited`."""
        edges = self.loop_graph()
        pausing = {i for i, s in enumerate(self.steps) if isinstance(s, WaitStep | WaitForStep)}
        bounded = {i for i, s in enumerate(self.steps) if s.visit_limit is not None}
        everything = set(range(len(edges)))
        n = len(self.steps)
        for loop in _loops(everything - pausing - bounded, edges):
            first = min(loop)
            why = (
                "past max_visits, on_max leads back into it with nothing that waits"
                if any(node >= n for node in loop)
                else "it has no wait, wait_for or max_visits"
            )
            self.report(
                ("steps", first % n), f"loop {self.describe(_cycle(first, loop, edges))} can run forever: {why}"
            )
        for loop in _loops(everything - bounded, edges):
            sends = sorted(i for i in loop if i < n and isinstance(self.steps[i], SendStep))
            if not sends or not loop & pausing:
                continue
            cycle = self.describe(_cycle(sends[0], loop, edges))
            unlimited = sorted(i for i in loop if i < n and self.steps[i].max_visits == "unlimited")
            if not unlimited:
                self.report(
                    ("steps", sends[0]),
                    f"loop {cycle} sends on every pass and no step in it has a numeric max_visits: the customer "
                    "would be messaged for as long as the awaited event never comes; bound it with max_visits "
                    "(or say max_visits: unlimited if it is meant to go on)",
                )
                continue
            channels = {self.steps[i].send for i in sends}  # type: ignore[attr-defined]
            capped = all(any(limit.channel in (c, "any") for limit in self.journey.limits) for c in channels)
            self.report(
                ("steps", unlimited[0], "max_visits"),
                f"loop {cycle} sends on every pass with max_visits: unlimited: "
                + ("only frequency caps bound it" if capped else "nothing bounds it, not even a frequency cap"),
                "warning",
            )

    # --- entry ------------------------------------------------------------------------------------

    def entry(self) -> None:
        """A journey is entered by its event (`trigger`) or by its condition becoming true (`continuous`):
        both at once would enrol a customer on either, which neither key promises."""
        entry = self.journey.entry
        if entry.continuous and entry.trigger is not None:
            self.report(
                ("entry", "continuous"),
                f"entry.continuous and entry.trigger {entry.trigger!r} both say how customers enter: keep one "
                "(trigger: the event enrols; continuous: entry.when becoming true enrols)",
            )
        if entry.continuous and self.journey.re_entry == "always":
            self.warning(
                ("re_entry",),
                "entry.continuous with re_entry: always re-enrols a customer on every change to their profile or "
                "timeline while entry.when holds, once their run ended: give a duration (re_entry: 30d)",
            )

    # --- expressions and messages -----------------------------------------------------------------

    def expressions(self) -> None:
        if self.journey.entry.when is not None:
            for problem in check_expression(self.journey.entry.when):
                self.report(("entry", "when"), f"entry.when: {problem}")
        for i, step in enumerate(self.steps):
            prefix = f"step {step.id!r}: "
            if isinstance(step, BranchStep):
                for j, case in enumerate(step.branch):
                    for problem in check_expression(case.when):
                        self.report(("steps", i, "branch", j, "when"), prefix + problem)
            elif isinstance(step, WaitStep) and isinstance(step.wait, WaitUntil):
                until, path = step.wait.until, ("steps", i, "wait", "until")
                if _LOOKS_LIKE_CLOCK.match(until):
                    try:
                        parse_clock(until)
                    except ValueError as exc:
                        self.report(path, prefix + str(exc))
                else:
                    for problem in check_expression(until):
                        self.report(path, prefix + problem)
            elif isinstance(step, UpdateStep):
                for path, text in strings(step.update.set, ("steps", i, "update", "set")):
                    for problem in check_template(text):
                        self.report(path, f"{prefix}{'.'.join(map(str, path[3:]))}: {problem}")

    def messages(self) -> None:
        for i, step in enumerate(self.steps):
            if not isinstance(step, SendStep):
                continue
            prefix = f"step {step.id!r}: "
            if step.message is not None:
                self.problems += check_message(
                    step.message, self.positions, self.file, step.send, ("steps", i, "message"), prefix
                )
            if step.template is not None:
                self.template_files(i, step, prefix)

    def template_files(self, i: int, step: SendStep, prefix: str) -> None:
        assert step.template is not None
        name, channel, path = step.template, step.send, ("steps", i, "template")
        variants = self.templates.variants(name, channel)
        fallback = self.templates.path(name, channel)
        if not variants:
            self.report(
                path,
                f"{prefix}no template file for {name!r} on channel {channel} "
                f"(looked for {fallback} and {self.templates.path(name, channel, '<locale>')})",
            )
            return
        if fallback not in variants:
            self.report(
                path,
                f"{prefix}template {name!r} has no file for customers of other locales on channel {channel} "
                f"(create {fallback})",
                "warning",
            )
        for variant in variants:
            if variant not in self._checked_files:
                self._checked_files.add(variant)
                self.problems += load_message_file(variant)[1]

    # --- likely mistakes --------------------------------------------------------------------------

    def likely_mistakes(self) -> None:
        journey, warn = self.journey, self.warning
        exit_on = set(journey.exit_on)
        if journey.entry.trigger is not None:
            if journey.entry.trigger in journey.entry.unless:
                warn(
                    ("entry", "trigger"),
                    f"entry.trigger {journey.entry.trigger!r} is also in entry.unless: "
                    "the event that enrols a customer also keeps them out, so nobody is enrolled by it",
                )
            if journey.entry.trigger in exit_on:
                warn(
                    ("entry", "trigger"),
                    f"entry.trigger {journey.entry.trigger!r} is also in exit_on: every run it starts ends at once",
                )
        if journey.quiet_hours is not None and journey.quiet_hours.start == journey.quiet_hours.end:
            warn(
                ("quiet_hours",),
                "quiet_hours start and end are the same time: give different times, or remove quiet_hours",
            )
        for i, step in enumerate(self.steps):
            prefix = f"step {step.id!r}: "
            if step.on_max is not None and step.visit_limit is None:
                warn(("steps", i, "on_max"), prefix + "on_max has no effect without max_visits", on_key=True)
            if isinstance(step, WaitForStep):
                for j, event in enumerate(step.wait_for):
                    if event in exit_on:
                        warn(
                            ("steps", i, "wait_for", j),
                            f"{prefix}event {event!r} is also in exit_on: "
                            "the run exits when it arrives, so this path can never be taken",
                        )
            if isinstance(step, SplitStep):
                for cohort, spec in step.split.items():
                    if spec.percent == 0:
                        warn(
                            ("steps", i, "split", cohort, "percent"),
                            f"{prefix}cohort {cohort!r} has percent 0: no customer lands in it",
                        )

    def warning(self, path: YamlPath, message: str, on_key: bool = False) -> None:
        self.report(path, message, "warning", on_key)


def check(journey: Journey, positions: Positions, file: str, templates: TemplateFiles) -> list[Problem]:
    """Every whole-journey problem (errors and warnings) of a journey whose shape is valid."""
    return _Checker(journey, positions, file, templates).run()
