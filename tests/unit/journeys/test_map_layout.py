"""The journey map drawn in pure Python (`map_svg`): the console's hooks, counts, escaping, and a layout
without overlaps whose layers follow the paths. The browser lane (tests/browser) measures it in Chromium."""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from journeys.format.journey_map import COMPLETED, START, JourneyMap, journey_map
from journeys.format.map_layout import map_svg
from journeys.format.models import Journey
from tests.support import ROOT
from tests.support.maps import DEFINITIONS, sample_counts, shipped_map

SVG = "{http://www.w3.org/2000/svg}"


def inline(*steps: dict[str, Any]) -> JourneyMap:
    return journey_map(Journey.model_validate({"id": "j", "name": "J", "steps": list(steps)}))


def drawn(graph: JourneyMap) -> ET.Element:
    return ET.fromstring(map_svg(graph, *sample_counts(graph)))  # fails on anything that is not well-formed


def groups(svg: ET.Element, cls: str) -> list[ET.Element]:
    return [g for g in svg.iter(f"{SVG}g") if g.get("class") == cls]


def tspan(group: ET.Element, cls: str) -> str:
    (found,) = [t for t in group.iter(f"{SVG}tspan") if t.get("class") == cls]
    return found.text or ""


def box(group: ET.Element) -> tuple[float, float, float, float]:
    (rect,) = [r for r in group.iter(f"{SVG}rect") if r.get("class") == "box"]
    return tuple(float(rect.get(a, "")) for a in ("x", "y", "width", "height"))  # type: ignore[return-value]


@pytest.mark.parametrize("path", DEFINITIONS, ids=lambda p: p.stem)
def test_map_svg_every_step_carries_its_counts(path: Path) -> None:
    graph = shipped_map(path)
    now, arrived, _ = sample_counts(graph)
    steps = {g.get("data-step"): g for g in groups(drawn(graph), "step")}
    expected = {n.key for n in graph.nodes if not n.key.startswith("(") and n.shape != "missing"}
    assert set(steps) == expected
    for key, group in steps.items():
        assert (group.get("data-now"), group.get("data-arrived")) == (str(now[key]), str(arrived[key]))
        assert (tspan(group, "now"), tspan(group, "arrived")) == (str(now[key]), str(arrived[key]))
        text = " ".join("".join(t.itertext()) for t in group.iter(f"{SVG}text"))
        assert f"{now[key]} now" in text and f"{arrived[key]} arrived" in text


@pytest.mark.parametrize("path", DEFINITIONS, ids=lambda p: p.stem)
def test_map_svg_every_path_carries_how_many_took_it(path: Path) -> None:
    graph = shipped_map(path)
    _, _, took = sample_counts(graph)
    paths = groups(drawn(graph), "path")
    assert [(g.get("data-source"), g.get("data-target")) for g in paths] == [(e.source, e.target) for e in graph.edges]
    for group in paths:
        count = str(took[(group.get("data-source", ""), group.get("data-target", ""))])
        assert group.get("data-took") == count and tspan(group, "took") == count
        assert group.find(f"{SVG}path") is not None


@pytest.mark.parametrize("path", DEFINITIONS, ids=lambda p: p.stem)
def test_map_svg_no_two_boxes_overlap(path: Path) -> None:
    svg = drawn(shipped_map(path))
    boxes = [box(g) for g in [*groups(svg, "step"), *groups(svg, "node")]]
    for (x1, y1, w1, h1), (x2, y2, w2, h2) in itertools.combinations(boxes, 2):
        assert x1 + w1 <= x2 or x2 + w2 <= x1 or y1 + h1 <= y2 or y2 + h2 <= y1, ((x1, y1, w1, h1), (x2, y2, w2, h2))


@pytest.mark.parametrize("path", DEFINITIONS, ids=lambda p: p.stem)
def test_map_svg_layers_go_down_along_every_path_but_loops_back(path: Path) -> None:
    svg = drawn(shipped_map(path))
    nodes = {g.get("data-step") or g.get("data-node"): g for g in [*groups(svg, "step"), *groups(svg, "node")]}
    layer = {key: int(g.get("data-layer", "")) for key, g in nodes.items()}
    top = {key: box(g)[1] for key, g in nodes.items()}
    assert layer[START] == 0
    for group in groups(svg, "path"):
        source, target = group.get("data-source", ""), group.get("data-target", "")
        if group.get("data-back") is None:
            assert layer[source] < layer[target] and top[source] < top[target], (source, target)
        else:
            assert layer[source] >= layer[target], (source, target)
    viewbox = [float(v) for v in svg.get("viewBox", "").split()]
    assert viewbox[:2] == [0, 0]
    assert all(x + w <= viewbox[2] and y + h <= viewbox[3] for x, y, w, h in map(box, nodes.values()))


def test_map_svg_reminder_loop_goes_back_up() -> None:
    svg = drawn(shipped_map(ROOT / "definitions" / "modem_swap.yaml"))
    (loop,) = [
        g for g in groups(svg, "path") if (g.get("data-source"), g.get("data-target")) == ("remind_wait", "remind")
    ]
    assert loop.get("data-back") == "true"
    d = loop.find(f"{SVG}path").get("d", "")  # type: ignore[union-attr]
    start_y, end_y = float(d.split()[0].split(",")[1]), float(d.split()[-1].split(",")[1])
    assert end_y < start_y


def test_map_svg_outcomes_and_start_are_nodes_not_steps() -> None:
    graph = inline({"id": "a", "send": "sms", "message": {"text": "hi"}})
    svg = drawn(graph)
    assert {g.get("data-node") for g in groups(svg, "node")} == {START, COMPLETED}
    assert [g.get("data-step") for g in groups(svg, "step")] == ["a"]


def test_map_svg_keeps_markup_in_labels_as_text() -> None:
    graph = inline({"id": "a", "send": "sms", "message": {"text": "<script>alert('x')</script> & \"more\""}})
    markup = map_svg(graph, {}, {}, {})
    assert "<script" not in markup
    svg = ET.fromstring(markup)
    assert svg.find(f".//{SVG}script") is None
    (step,) = groups(svg, "step")
    assert any("<script>alert('x')" in "".join(t.itertext()) for t in step.iter(f"{SVG}text"))


def test_map_svg_counts_default_to_zero() -> None:
    svg = ET.fromstring(map_svg(inline({"id": "a", "wait": "1d"}), {}, {}, {}))
    (step,) = groups(svg, "step")
    assert (step.get("data-now"), step.get("data-arrived")) == ("0", "0")
    assert {g.get("data-took") for g in groups(svg, "path")} == {"0"}


def test_map_svg_persian_message_reads_right_to_left_where_it_stands_alone() -> None:
    text = "سلام مشتری گرامی، مودم شما آماده است؛ لطفا با ما تماس بگیرید"
    svg = drawn(inline({"id": "a", "send": "sms", "message": {"text": text}}))
    (step,) = groups(svg, "step")
    lines = [(t.get("direction"), t.get("unicode-bidi"), "".join(t.itertext())) for t in step.iter(f"{SVG}text")]
    assert lines[0][:2] == ("ltr", "embed") and lines[0][2] == "a"
    assert lines[1][0] == "ltr" and lines[1][2].startswith('send sms: "سلام')
    assert all(t.get("direction") in ("ltr", "rtl") for t in svg.iter(f"{SVG}text")), "a line left to the page"
    rtl = [line for direction, _, line in lines if direction == "rtl"]
    assert rtl and all(not any("a" <= ch.lower() <= "z" for ch in line) for line in rtl)
    assert "سلام مشتری گرامی" in lines[1][2]


def test_map_svg_a_step_waiting_again_loops_beside_itself() -> None:
    graph = inline({"id": "a", "wait_for": "paid", "timeout": "1d", "on_timeout": "a"})
    svg = drawn(graph)
    (loop,) = [g for g in groups(svg, "path") if g.get("data-source") == g.get("data-target") == "a"]
    assert loop.get("data-back") == "true"
    width = float(svg.get("viewBox", "").split()[2])
    (step,) = groups(svg, "step")
    x, _, w, _ = box(step)
    assert x + w < width


def test_map_svg_same_map_same_drawing() -> None:
    graph = shipped_map(ROOT / "definitions" / "modem_swap.yaml")
    assert map_svg(graph, *sample_counts(graph)) == map_svg(graph, *sample_counts(graph))


def test_map_svg_wide_labels_wrap_as_the_map_shortens_them() -> None:
    svg = drawn(inline({"id": "a", "update": {"set": {f"attribute_{i}": i for i in range(12)}}}))
    (step,) = groups(svg, "step")
    assert all(len("".join(t.itertext())) <= 40 for t in step.iter(f"{SVG}text") if t.get("class") != "counts")
