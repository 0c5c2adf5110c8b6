"""Basic accessibility checks run inside a real page (axe's `label`, `document-title` and `color-contrast`).

`problems(page)` returns what fails, each naming the element, so `assert problems(page) == []` reads well
when it fails. What is checked:

- the page has a non-empty `<title>`;
- every form control (`input` but hidden ones and buttons, which their value names; `select`; `textarea`) has
  a label: `label[for]`, a wrapping `label`, `aria-label` or `aria-labelledby` with text;
- every visible element with text of its own (HTML text, SVG `text` and `tspan`) has a contrast ratio of at
  least 4.5 (3 for large text: 24px, or 18.66px bold) by the WCAG 2 formula, between its colour (`color`,
  or `fill` in SVG) and what lies behind its centre: the stack of elements there, top down, each HTML
  element's `background-color` and each SVG shape's `fill`, blended until one is opaque (white below all).
  Text over a background image is not judged.
"""

from __future__ import annotations

from dataclasses import dataclass

from playwright.sync_api import Page

_CHECKS = """
() => {
  const found = [];
  const describe = (el) => {
    let s = el.tagName.toLowerCase();
    if (el.id) s += "#" + el.id;
    const cls = el.getAttribute("class");
    if (cls && cls.trim()) s += "." + cls.trim().split(/\\s+/).join(".");
    for (const a of ["name", "data-step", "data-node", "data-source"]) {
      if (el.hasAttribute(a)) s += `[${a}="${el.getAttribute(a)}"]`;
    }
    const text = (el.textContent || "").trim().replace(/\\s+/g, " ").slice(0, 50);
    return text ? `${s} "${text}"` : s;
  };

  if (!document.title.trim()) found.push({rule: "title", element: "html", detail: "no <title> text"});

  const buttons = new Set(["hidden", "submit", "reset", "button", "image"]);
  const hasText = (el) => !!(el && el.textContent.trim());
  for (const el of document.querySelectorAll("input, select, textarea")) {
    if (el.tagName === "INPUT" && buttons.has((el.getAttribute("type") || "text").toLowerCase())) continue;
    const labelled = [...(el.labels || [])].some(hasText)
      || (el.getAttribute("aria-label") || "").trim() !== ""
      || (el.getAttribute("aria-labelledby") || "").split(/\\s+/)
        .some((id) => id && hasText(document.getElementById(id)));
    if (!labelled) found.push({rule: "label", element: describe(el), detail: "form control without a label"});
  }

  const rgba = (value) => {
    const m = /^rgba?\\(([^)]+)\\)$/.exec((value || "").trim());
    if (!m) return null;
    const p = m[1].split(/[\\s,\\/]+/).filter(Boolean).map(parseFloat);
    return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1};
  };
  const over = (top, below) => ({
    r: top.r * top.a + below.r * (1 - top.a),
    g: top.g * top.a + below.g * (1 - top.a),
    b: top.b * top.a + below.b * (1 - top.a),
    a: 1,
  });
  const luminance = (c) => {
    const lin = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * lin(c.r) + 0.7152 * lin(c.g) + 0.0722 * lin(c.b);
  };
  const shapes = new Set(["rect", "circle", "ellipse", "path", "polygon"]);
  const svgText = new Set(["text", "tspan", "textPath"]);
  const skipped = "script, style, template, noscript, title, desc, head, option";

  const background = (el, x, y) => {
    const layers = [];
    for (const under of document.elementsFromPoint(x, y)) {
      if ((under !== el && el.contains(under)) || svgText.has(under.tagName)) continue;  // its own background counts
      const style = getComputedStyle(under);
      if (under instanceof SVGElement && under.tagName !== "svg") {
        if (!shapes.has(under.tagName)) continue;
        const fill = rgba(style.fill);
        if (!fill) continue;
        fill.a *= parseFloat(style.fillOpacity) * parseFloat(style.opacity);
        layers.push(fill);
      } else {
        if (style.backgroundImage && style.backgroundImage !== "none") return null;
        const colour = rgba(style.backgroundColor);
        if (colour) { colour.a *= parseFloat(style.opacity); layers.push(colour); }
      }
      if (layers.length && layers[layers.length - 1].a >= 1) break;
    }
    return layers.reverse().reduce((below, top) => over(top, below), {r: 255, g: 255, b: 255, a: 1});
  };

  for (const el of document.body.querySelectorAll("*")) {
    if (el.closest(skipped)) continue;
    const own = [...el.childNodes].some((n) => n.nodeType === Node.TEXT_NODE && n.textContent.trim());
    if (!own) continue;
    const style = getComputedStyle(el);
    if (style.visibility === "hidden" || style.display === "none" || parseFloat(style.opacity) === 0) continue;
    let box = el.getBoundingClientRect();
    if (box.width === 0 || box.height === 0) continue;
    if (box.top < 0 || box.left < 0 || box.bottom > innerHeight || box.right > innerWidth) {
      el.scrollIntoView({block: "center", inline: "center"});
      box = el.getBoundingClientRect();
    }
    const colour = rgba(el instanceof SVGElement ? style.fill : style.color);
    if (!colour) continue;
    const behind = background(el, box.left + box.width / 2, box.top + box.height / 2);
    if (!behind) continue;
    const fore = over(colour, behind);
    const [light, dark] = [luminance(fore), luminance(behind)].sort((a, b) => b - a);
    const ratio = (light + 0.05) / (dark + 0.05);
    const size = parseFloat(style.fontSize);
    const large = size >= 24 || (size >= 18.66 && parseInt(style.fontWeight, 10) >= 700);
    const needed = large ? 3 : 4.5;
    if (ratio < needed) {
      const rgb = (c) => `rgb(${Math.round(c.r)}, ${Math.round(c.g)}, ${Math.round(c.b)})`;
      found.push({
        rule: "contrast",
        element: describe(el),
        detail: `${ratio.toFixed(2)} < ${needed}: ${rgb(fore)} on ${rgb(behind)}`,
      });
    }
  }
  return found;
}
"""


@dataclass(frozen=True)
class Problem:
    rule: str  # title, label or contrast
    element: str  # tag, id, classes, a few attributes and the start of its text
    detail: str

    def __str__(self) -> str:
        return f"{self.rule}: {self.element}: {self.detail}"


def problems(page: Page) -> list[Problem]:
    """What fails the checks on the page as it is now (run after the page has settled)."""
    return [Problem(**found) for found in page.evaluate(_CHECKS)]
