from __future__ import annotations

import re
import shutil
from typing import Any

import pytest
from ruamel.yaml import YAML

from journeys.errors import JourneysError
from journeys.format.journey_map import (
    COMPLETED,
    EXITED,
    HOLDOUT,
    START,
    MapEdge,
    journey_map,
    to_dot,
    to_mermaid,
    to_png,
    to_svg,
)
from journeys.format.models import Journey
from tests.support.journey_files import SPEC_EXAMPLE

NO_DOT_MESSAGE = (
    "svg needs the Graphviz 'dot' program: apt-get install graphviz (mermaid and dot formats work without it)"
)


def _example() -> Journey:
    return Journey.model_validate(YAML(typ="safe").load(SPEC_EXAMPLE))


def _journey(*steps: dict[str, Any]) -> Journey:
    return Journey.model_validate({"id": "j", "name": "J", "steps": list(steps)})


def _edges(journey: Journey) -> set[tuple[str, str, str]]:
    return {(e.source, e.target, e.label) for e in journey_map(journey).edges}


def _labels(journey: Journey) -> dict[str, str]:
    return {node.key: node.label for node in journey_map(journey).nodes}


# A DOT reader just big enough for what to_dot writes: it fails on anything it cannot tokenise or parse.
_DOT_TOKEN = re.compile(r'\s+|(?P<tok>"(?:[^"\\]|\\.)*"|[^\W\d]\w*|-?\d+(?:\.\d*)?|->|[{}\[\]=;,])')


def _tokens(source: str) -> list[str]:
    tokens, pos = [], 0
    while pos < len(source):
        match = _DOT_TOKEN.match(source, pos)
        assert match, f"cannot tokenise DOT at {source[pos : pos + 30]!r}"
        if match["tok"]:
            tokens.append(match["tok"])
        pos = match.end()
    return tokens


def _unquote(token: str) -> str:
    if not token.startswith('"'):
        return token
    return re.sub(r"\\(.)", lambda m: "\n" if m[1] == "n" else m[1], token[1:-1])


def _parse_dot(source: str) -> tuple[dict[str, dict[str, str]], list[tuple[str, str, dict[str, str]]]]:
    tokens = _tokens(source)
    assert tokens[0] == "digraph" and tokens[2] == "{" and tokens[-1] == "}"
    body = tokens[3:-1]
    nodes: dict[str, dict[str, str]] = {}
    edges: list[tuple[str, str, dict[str, str]]] = []

    def attrs(i: int) -> tuple[dict[str, str], int]:
        found: dict[str, str] = {}
        if i < len(body) and body[i] == "[":
            i += 1
            while body[i] != "]":
                assert body[i + 1] == "=", body[i : i + 3]
                found[_unquote(body[i])] = _unquote(body[i + 2])
                i += 4 if body[i + 3] in ",;" else 3
            i += 1
        return found, i

    i = 0
    while i < len(body):
        name = _unquote(body[i])
        if i + 1 < len(body) and body[i + 1] == "->":
            target = _unquote(body[i + 2])
            found, i = attrs(i + 3)
            edges.append((name, target, found))
        else:
            found, i = attrs(i + 1)
            if name not in ("graph", "node", "edge"):
                nodes[name] = found
    return nodes, edges


def test_journey_map_spec_example_edges() -> None:
    edges = _edges(_example())
    assert {
        (START, "invite", ""),
        (START, EXITED, "exit on swapped, opted_out"),
        ("invite", "await_registration", ""),
        ("await_registration", "await_delivery", "registered"),
        ("await_registration", "remind", "timeout 3d"),
        ("remind", "remind_wait", ""),
        ("remind", "give_up", "max_visits 4"),
        ("remind_wait", "await_delivery", "registered"),
        ("remind_wait", "remind", "timeout 2d"),
        ("await_delivery", "check_id", "delivered"),
        ("await_delivery", "give_up", "timeout 14d"),
        ("check_id", "settle", "'national_id' in customer.documents"),
        ("check_id", "ask_id", "else"),
        ("ask_id", "await_id", ""),
        ("ask_id", "settle", "max_visits 3"),
        ("await_id", "settle", "document_uploaded"),
        ("await_id", "ask_id", "timeout 2d"),
        ("settle", "happy_call", ""),
        ("happy_call", "done", ""),
    } == edges


def test_journey_map_spec_example_node_labels() -> None:
    labels = _labels(_example())
    assert labels["invite"] == "invite\nsend email: modem_swap/invite"
    assert labels["await_registration"] == "await_registration\nwait for registered (3d)"
    assert labels["settle"] == "settle\nwait 2d"
    assert labels["check_id"] == "check_id\nbranch"
    assert labels["done"] == "done\nend: converted"
    assert labels["remind"].startswith('remind\nsend voice: "{{ customer.name }}, your free')
    assert labels[EXITED] == "exited"
    assert COMPLETED not in labels  # every path of the example ends at an end step


def test_journey_map_last_step_leads_to_completed() -> None:
    journey = _journey({"id": "hello", "send": "sms", "template": "t"}, {"id": "pause", "wait": {"until": "09:00"}})
    assert _edges(journey) == {(START, "hello", ""), ("hello", "pause", ""), ("pause", COMPLETED, "")}
    assert _labels(journey)["pause"] == "pause\nwait until 09:00"
    assert EXITED not in _labels(journey)


def test_journey_map_split_cohorts_and_holdout() -> None:
    journey = _journey(
        {
            "id": "ab",
            "split": {"a": {"percent": 50, "goto": "offer"}, "b": {"percent": 30}, "holdout": {"percent": 20}},
        },
        {"id": "plain", "send": "email", "template": "plain"},
        {"id": "offer", "send": "email", "template": "offer"},
    )
    edges = _edges(journey)
    assert {("ab", "offer", "a 50%"), ("ab", "plain", "b 30%"), ("ab", HOLDOUT, "holdout 20%")} <= edges
    assert _labels(journey)[HOLDOUT] == "holdout"


def test_journey_map_holdout_with_goto_goes_there() -> None:
    journey = _journey(
        {"id": "ab", "split": {"a": {"percent": 90}, "holdout": {"percent": 10, "goto": "bye"}}},
        {"id": "hi", "send": "sms", "template": "hi"},
        {"id": "bye", "end": None},
    )
    assert ("ab", "bye", "holdout 10%") in _edges(journey)
    assert HOLDOUT not in _labels(journey)
    assert _labels(journey)["bye"] == "bye\nend"


def test_journey_map_goto_only_its_target_and_end_nowhere() -> None:
    journey = _journey(
        {"id": "jump", "goto": "last"},
        {"id": "skipped", "end": "never"},
        {"id": "last", "end": "done"},
    )
    assert _edges(journey) == {(START, "jump", ""), ("jump", "last", "")}


def test_journey_map_wait_for_events_group_by_target() -> None:
    journey = _journey(
        {
            "id": "await",
            "wait_for": ["paid", "registered", "opted_out"],
            "timeout": "1d12h",
            "on_event": {"opted_out": "bye"},
        },
        {"id": "thanks", "send": "sms", "template": "thanks"},
        {"id": "bye", "end": "lost"},
    )
    edges = _edges(journey)
    assert ("await", "thanks", "paid, registered") in edges
    assert ("await", "bye", "opted_out") in edges
    assert ("await", "thanks", "timeout 1d12h") in edges
    assert _labels(journey)["await"] == "await\nwait for paid or registered or opted_out (1d12h)"


def test_journey_map_branch_else_defaults_to_following_step() -> None:
    journey = _journey(
        {"id": "check", "branch": [{"when": "customer.tags | length > 2", "goto": "vip"}], "next": "normal"},
        {"id": "vip", "send": "sms", "template": "vip"},
        {"id": "normal", "send": "sms", "template": "normal"},
    )
    edges = _edges(journey)
    assert ("check", "vip", "customer.tags | length > 2") in edges
    assert ("check", "normal", "else") in edges


def test_journey_map_max_visits_without_on_max_goes_to_following_step() -> None:
    journey = _journey({"id": "nag", "send": "sms", "template": "nag", "max_visits": 2})
    edges = journey_map(journey).edges
    assert MapEdge("nag", COMPLETED, "max_visits 2", dashed=True) in edges


def test_journey_map_long_condition_is_shortened() -> None:
    condition = "customer.attributes.lifetime_value > 1000 and customer.attributes.plan in ['gold', 'platinum']"
    journey = _journey({"id": "check", "branch": [{"when": condition, "goto": "check"}]})
    label = next(e.label for e in journey_map(journey).edges if e.source == "check")
    assert label.endswith("…") and len(label) <= 40 and condition.startswith(label[:-1])


def test_journey_map_missing_reference_is_drawn() -> None:
    journey = _journey({"id": "jump", "goto": "nowhere"})
    assert _labels(journey)["nowhere"] == "nowhere\nmissing step"
    assert "class n2 missing" in to_mermaid(journey)


def test_to_mermaid_spec_example() -> None:
    text = to_mermaid(_example())
    lines = text.splitlines()
    assert lines[0] == "flowchart TD"
    assert '    n0(["start"])' in lines
    assert '    n1["invite<br/>send email: modem_swap/invite"]' in lines
    assert '    n6{"check_id<br/>branch"}' in lines
    assert '    n2 -->|"registered"| n5' in lines
    assert '    n2 -->|"timeout 3d"| n3' in lines
    assert "    n6 -->|\"'national_id' in customer.documents\"| n9" in lines
    assert '    n0 -.->|"exit on swapped, opted_out"| n13' in lines


def test_to_mermaid_escapes_label_delimiters() -> None:
    condition = "note == \"a|b\" and '#1' in x or y < `3`"
    journey = _journey({"id": "check", "branch": [{"when": condition, "goto": "check"}]})
    edge_line = next(line for line in to_mermaid(journey).splitlines() if "-->|" in line and "else" not in line)
    label = edge_line.split("|", 1)[1].rsplit("|", 1)[0]
    assert label.startswith('"') and label.endswith('"')
    inner = label[1:-1]
    assert not set(inner) & set('"|<>`')
    assert "#34;a#124;b#34;" in inner and "#35;1" in inner


def test_to_dot_parses_with_labelled_edges() -> None:
    nodes, edges = _parse_dot(to_dot(_example()))
    by_label = {attrs["label"]: key for key, attrs in nodes.items()}
    invite = by_label["invite\nsend email: modem_swap/invite"]
    check, settle = by_label["check_id\nbranch"], by_label["settle\nwait 2d"]
    assert (invite, by_label["await_registration\nwait for registered (3d)"], {}) in edges
    assert (check, settle, {"label": "'national_id' in customer.documents"}) in edges
    assert nodes[by_label["exited"]]["shape"] == "oval"
    assert nodes[check]["shape"] == "diamond"
    assert len(edges) == len(journey_map(_example()).edges)
    assert {source for source, _, _ in edges} | {target for _, target, _ in edges} <= set(nodes)


def test_to_dot_escapes_quotes_and_backslashes() -> None:
    condition = 'x == "a\\"b" and y == "\\n" and z == "<b>"'
    journey = _journey({"id": "check", "branch": [{"when": condition, "goto": "check"}]})
    _, edges = _parse_dot(to_dot(journey))
    assert {"label": condition} in [attrs for _, _, attrs in edges]


def test_to_svg_without_dot_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(JourneysError) as raised:
        to_svg(_example())
    assert str(raised.value) == NO_DOT_MESSAGE


def test_to_png_without_dot_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(JourneysError, match=r"^png needs the Graphviz 'dot' program"):
        to_png(_example())


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz 'dot' is not installed")
def test_to_svg_with_dot_draws_every_step() -> None:
    svg = to_svg(_example())
    assert "<svg" in svg
    assert all(step.id in svg for step in _example().steps)
    assert to_png(_example()).startswith(b"\x89PNG")
