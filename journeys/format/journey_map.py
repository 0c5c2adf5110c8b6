"""Draw a journey as a map of its steps and the paths between them (`journeys render`).

The map follows the interpreter's successor rules, so what marketers see is where runs can actually go:
one node per step, terminal nodes for outcomes, and each edge labelled with what takes it. Mermaid and DOT
source need nothing installed; SVG and PNG need the Graphviz `dot` program.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from typing import Literal

import graphviz

from journeys.errors import JourneysError
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
from journeys.format.timeparse import format_duration

# Keys of the nodes that are not steps; parentheses keep them apart from step ids (slugs).
START = "(start)"
COMPLETED = "(completed)"
HOLDOUT = "(holdout)"
EXITED = "(exited)"

Shape = Literal["start", "step", "choice", "end", "missing"]

_LABEL_WIDTH = 40


@dataclass(frozen=True)
class MapNode:
    key: str
    label: str  # lines separated by "\n"
    shape: Shape


@dataclass(frozen=True)
class MapEdge:
    source: str
    target: str
    label: str = ""
    dashed: bool = False


@dataclass(frozen=True)
class JourneyMap:
    nodes: tuple[MapNode, ...]
    edges: tuple[MapEdge, ...]


def journey_map(journey: Journey) -> JourneyMap:
    """The nodes and labelled edges of a journey, independent of any drawing format."""
    nodes: dict[str, MapNode] = {START: MapNode(START, "start", "start")}
    nodes.update((s.id, MapNode(s.id, f"{s.id}\n{_describe(s)}", _shape(s))) for s in journey.steps)
    edges = [MapEdge(START, journey.steps[0].id)]
    if journey.exit_on:
        edges.append(MapEdge(START, EXITED, "exit on " + ", ".join(journey.exit_on), dashed=True))
    for step in journey.steps:
        edges.extend(MapEdge(step.id, target, label) for target, label in _exits(journey, step))
        if step.visit_limit is not None:
            target = step.on_max or journey.following(step.id) or COMPLETED
            edges.append(MapEdge(step.id, target, f"max_visits {step.max_visits}", dashed=True))
    terminals = {COMPLETED: "completed", HOLDOUT: "holdout", EXITED: "exited"}
    for edge in edges:
        if edge.target in terminals:
            nodes.setdefault(edge.target, MapNode(edge.target, terminals[edge.target], "end"))
        else:
            nodes.setdefault(edge.target, MapNode(edge.target, f"{edge.target}\nmissing step", "missing"))
    return JourneyMap(tuple(nodes.values()), tuple(edges))


def to_mermaid(journey: Journey) -> str:
    """Mermaid `flowchart TD` source, which GitHub and many wikis draw inline."""
    graph = journey_map(journey)
    ids = {node.key: f"n{i}" for i, node in enumerate(graph.nodes)}
    brackets = {"start": ('(["', '"])'), "step": ('["', '"]'), "choice": ('{"', '"}'), "end": ('(["', '"])')}
    lines = ["flowchart TD"]
    for node in graph.nodes:
        opening, closing = brackets.get(node.shape, ('["', '"]'))
        text = "<br/>".join(_mermaid_escape(line) for line in node.label.split("\n"))
        lines.append(f"    {ids[node.key]}{opening}{text}{closing}")
    for edge in graph.edges:
        arrow = "-.->" if edge.dashed else "-->"
        label = f'|"{_mermaid_escape(edge.label)}"|' if edge.label else ""
        lines.append(f"    {ids[edge.source]} {arrow}{label} {ids[edge.target]}")
    missing = [ids[node.key] for node in graph.nodes if node.shape == "missing"]
    if missing:
        lines.append("    classDef missing stroke:#c00,stroke-dasharray:4")
        lines.append(f"    class {','.join(missing)} missing")
    return "\n".join(lines) + "\n"


def to_dot(journey: Journey) -> str:
    """Graphviz DOT source; building it needs no Graphviz program."""
    return _digraph(journey).source


def to_svg(journey: Journey) -> str:
    """The map as SVG, drawn by the Graphviz `dot` program."""
    _require_dot("svg")
    return _digraph(journey).pipe(format="svg", encoding="utf-8")


def to_png(journey: Journey) -> bytes:
    """The map as PNG, drawn by the Graphviz `dot` program."""
    _require_dot("png")
    return _digraph(journey).pipe(format="png")


def _require_dot(fmt: str) -> None:
    if shutil.which("dot") is None:
        raise JourneysError(
            f"{fmt} needs the Graphviz 'dot' program: apt-get install graphviz"
            " (mermaid and dot formats work without it)"
        )


def _exits(journey: Journey, step: StepBase) -> list[tuple[str, str]]:
    """Where a run goes after `step`, with what takes it there (the interpreter's successor rules)."""
    after = journey.following(step.id) or COMPLETED
    if isinstance(step, EndStep):
        return []
    if isinstance(step, GotoStep):
        return [(step.goto, "")]
    if isinstance(step, WaitForStep):
        by_target: dict[str, list[str]] = {}
        for event in step.wait_for:
            by_target.setdefault(step.on_event.get(event, after), []).append(event)
        exits = [(target, ", ".join(events)) for target, events in by_target.items()]
        return [*exits, (step.on_timeout or after, f"timeout {format_duration(step.timeout)}")]
    if isinstance(step, BranchStep):
        cases = [(case.goto, _shorten(case.when)) for case in step.branch]
        return [*cases, (step.else_ or after, "else")]
    if isinstance(step, SplitStep):
        return [
            (cohort.goto or (HOLDOUT if name == "holdout" else after), f"{name} {cohort.percent}%")
            for name, cohort in step.split.items()
        ]
    return [(after, "")]


def _describe(step: StepBase) -> str:
    if isinstance(step, SendStep):
        if step.template is not None:
            return f"send {step.send}: {step.template}"
        message = step.message
        fields = (message.subject, message.text, message.say, message.url) if message else ()
        preview = next((text for text in fields if text), "")
        return f'send {step.send}: "{_shorten(preview)}"' if preview else f"send {step.send}"
    if isinstance(step, WaitStep):
        if isinstance(step.wait, WaitUntil):
            return f"wait until {step.wait.until}"
        return f"wait {format_duration(step.wait)}"
    if isinstance(step, WaitForStep):
        return f"wait for {' or '.join(step.wait_for)} ({format_duration(step.timeout)})"
    if isinstance(step, UpdateStep):
        tags = step.update.tags
        changes = [*step.update.set, *(f"+{t}" for t in tags.add), *(f"-{t}" for t in tags.remove)]
        return "update " + _shorten(", ".join(changes)) if changes else "update"
    if isinstance(step, EndStep):
        return f"end: {step.end}" if step.end else "end"
    if isinstance(step, BranchStep):
        return "branch"
    if isinstance(step, SplitStep):
        return "split"
    return "goto"


def _shape(step: StepBase) -> Shape:
    if isinstance(step, EndStep):
        return "end"
    if isinstance(step, (BranchStep, SplitStep)):
        return "choice"
    return "step"


def _shorten(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _LABEL_WIDTH else text[: _LABEL_WIDTH - 1] + "…"


def _mermaid_escape(text: str) -> str:
    """Mermaid entity codes (`#34;`) for what would end a quoted label or be read as markup."""
    return "".join(f"#{ord(ch)};" if ch in '"#&<>|`' else ch for ch in text)


def _dot_escape(text: str) -> str:
    """A DOT escString showing `text` literally, one `\\n` line break per line."""
    lines = (line.replace("\\", "\\\\").replace('"', '\\"') for line in text.split("\n"))
    return graphviz.nohtml("\\n".join(lines))


def _digraph(journey: Journey) -> graphviz.Digraph:
    graph = journey_map(journey)
    ids = {node.key: f"n{i}" for i, node in enumerate(graph.nodes)}
    shapes = {
        "start": {"shape": "oval"},
        "step": {"shape": "box", "style": "rounded"},
        "choice": {"shape": "diamond"},
        "end": {"shape": "oval", "style": "bold"},
        "missing": {"shape": "box", "style": "dashed", "color": "red"},
    }
    dot = graphviz.Digraph(name=journey.id, graph_attr={"rankdir": "TB"}, node_attr={"fontname": "Helvetica"})
    for node in graph.nodes:
        dot.node(ids[node.key], label=_dot_escape(node.label), **shapes[node.shape])
    for edge in graph.edges:
        attrs = {"label": _dot_escape(edge.label)} if edge.label else {}
        dot.edge(ids[edge.source], ids[edge.target], style="dashed" if edge.dashed else None, **attrs)
    return dot
