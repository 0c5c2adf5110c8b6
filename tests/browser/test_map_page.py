"""The journey map (`map_svg`) measured in a real Chromium: boxes apart, every text inside its box, edge
labels clear of the boxes and of each other, and the page readable (title, contrast), in English and in
Persian, left to right and right to left."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page

from journeys.format.journey_map import JourneyMap, journey_map
from journeys.format.map_layout import map_svg
from journeys.format.models import Journey
from tests.support import ROOT
from tests.support.a11y import problems
from tests.support.maps import sample_counts, shipped_map

PERSIAN = Journey.model_validate(
    {
        "id": "persian-welcome",
        "name": "خوش‌آمدگویی",
        "steps": [
            {"id": "welcome", "send": "sms", "message": {"text": "سلام {{ customer.name }}، به خانواده ما خوش آمدید"}},
            {"id": "await_answer", "wait_for": ["answered", "opted_out"], "timeout": "2d", "on_timeout": "welcome"},
            {
                "id": "city",
                "branch": [{"when": "customer.attributes.city == 'تهران'", "goto": "thanks"}],
                "else": "thanks",
            },
            {"id": "thanks", "send": "sms", "message": {"text": "با سپاس از همراهی شما؛ پاسخ شما ثبت شد"}},
        ],
    }
)

# Every box and every text in it, and every edge label, as the browser lays them out (SVG user units).
MEASURE = """
(svg) => {
  const box = (el) => { const b = el.getBBox(); return {x: b.x, y: b.y, w: b.width, h: b.height}; };
  const nodes = [...svg.querySelectorAll("g.step, g.node")].map((g) => ({
    key: g.dataset.step || g.dataset.node,
    box: box(g.querySelector("rect.box")),
    texts: [...g.querySelectorAll("text")].map((t) => ({text: t.textContent, box: box(t)})),
  }));
  const labels = [...svg.querySelectorAll("g.path")].map((g) => {
    const boxes = [...g.querySelectorAll("text")].map(box);
    const [x, y] = [Math.min(...boxes.map((b) => b.x)), Math.min(...boxes.map((b) => b.y))];
    const right = Math.max(...boxes.map((b) => b.x + b.w));
    const bottom = Math.max(...boxes.map((b) => b.y + b.h));
    return {text: g.textContent.trim().replace(/\\s+/g, " "), box: {x, y, w: right - x, h: bottom - y}};
  });
  const view = svg.viewBox.baseVal;
  return {nodes, labels, view: {x: view.x, y: view.y, w: view.width, h: view.height}};
}
"""


def open_map(page: Page, folder: Path, graph: JourneyMap, title: str, direction: str = "ltr") -> dict[str, Any]:
    """The map on a page of its own, opened from a file, and its layout as measured there."""
    language = "fa" if direction == "rtl" else "en"
    html = (
        f'<!doctype html><html lang="{language}" dir="{direction}"><head><meta charset="utf-8">'
        f"<title>{title}</title></head><body style='margin:16px;background:#fff'>"
        f"{map_svg(graph, *sample_counts(graph))}</body></html>"
    )
    path = folder / "map.html"
    path.write_text(html, encoding="utf-8")
    page.goto(path.as_uri())
    return page.evaluate(MEASURE, page.locator("svg.journey-map").element_handle())


def inside(inner: dict[str, float], outer: dict[str, float], slack: float = 0.5) -> bool:
    return (
        inner["x"] >= outer["x"] - slack
        and inner["y"] >= outer["y"] - slack
        and inner["x"] + inner["w"] <= outer["x"] + outer["w"] + slack
        and inner["y"] + inner["h"] <= outer["y"] + outer["h"] + slack
    )


def apart(a: dict[str, float], b: dict[str, float]) -> bool:
    return (
        a["x"] + a["w"] <= b["x"] or b["x"] + b["w"] <= a["x"] or a["y"] + a["h"] <= b["y"] or b["y"] + b["h"] <= a["y"]
    )


def assert_laid_out(layout: dict[str, Any]) -> None:
    nodes = layout["nodes"]
    assert nodes, "no step or node drawn"
    for i, node in enumerate(nodes):
        for other in nodes[i + 1 :]:
            assert apart(node["box"], other["box"]), f"{node['key']} overlaps {other['key']}"
        for text in node["texts"]:
            assert inside(text["box"], node["box"]), f"{node['key']}: {text['text']!r} spills out of its box"
        assert inside(node["box"], layout["view"]), f"{node['key']} is outside the viewBox"
    labels = layout["labels"]
    for i, label in enumerate(labels):
        assert inside(label["box"], layout["view"]), f"edge label {label['text']!r} is outside the viewBox"
        for node in nodes:
            assert apart(label["box"], node["box"]), f"edge label {label['text']!r} covers {node['key']}"
        for other in labels[i + 1 :]:
            assert apart(label["box"], other["box"]), f"edge labels {label['text']!r} and {other['text']!r} overlap"


@pytest.mark.parametrize("name", ["modem_swap", "onboarding", "complaint_followup", "cross_sell"])
def test_map_of_shipped_journey_fits_in_the_browser(page: Page, tmp_path: Path, name: str) -> None:
    graph = shipped_map(ROOT / "definitions" / f"{name}.yaml")
    assert_laid_out(open_map(page, tmp_path, graph, f"Journey map: {name}"))
    assert problems(page) == []


def test_persian_map_fits_on_a_right_to_left_page(page: Page, tmp_path: Path) -> None:
    layout = open_map(page, tmp_path, journey_map(PERSIAN), "نقشهٔ سفر", direction="rtl")
    assert_laid_out(layout)
    texts = [text["text"] for node in layout["nodes"] for text in node["texts"]]
    assert any("سلام" in text for text in texts)
    # The counts read left to right on the right-to-left page: "N now · M arrived", "K took".
    order = page.evaluate(
        """() => [...document.querySelectorAll("g.step, g.path")].map((g) => {
          const x = (cls) => g.querySelector(`tspan.${cls}`)?.getBBox().x;
          const text = g.querySelector("tspan.now, tspan.took").parentElement.getBBox().x;
          return g.dataset.step ? x("now") < x("arrived") && x("now") - text < 1 : x("took") - text < 1;
        })"""
    )
    assert order and all(order)
    assert problems(page) == []


def test_map_screenshot_is_a_picture(page: Page, tmp_path: Path) -> None:
    open_map(page, tmp_path, shipped_map(ROOT / "definitions" / "modem_swap.yaml"), "Journey map: modem_swap")
    shot = tmp_path / "modem_swap.png"
    page.locator("svg.journey-map").screenshot(path=str(shot))
    data = shot.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 10_000
