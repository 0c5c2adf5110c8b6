"""The journey map as inline SVG for the web console, with the counts of runs on it.

PLACEHOLDER: steps in one column and straight lines between them, enough to carry the hooks the console
and its tests rely on; the real layout replaces this module with the same function and the same hooks:
each step `<g class="step" data-step=ID data-now=N data-arrived=M>` with `<tspan class="now">` and
`<tspan class="arrived">`, each path `<g class="path" data-source=A data-target=B data-took=K>` with
`<tspan class="took">`.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape

from journeys.format.journey_map import JourneyMap

_ROW = 90  # vertical distance between steps
_WIDTH = 360


def map_svg(
    journey_map: JourneyMap,
    now: Mapping[str, int],
    arrived: Mapping[str, int],
    took: Mapping[tuple[str, str], int],
) -> str:
    """The map's SVG markup: each node and edge of `journey_map` with its counts (0 where none is given)."""
    rows = {node.key: index for index, node in enumerate(journey_map.nodes)}
    height = len(rows) * _ROW + 20
    parts = [
        f'<svg class="journey-map" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_WIDTH + 240} {height}" '
        f'role="img" aria-label="journey map">'
    ]
    for edge in journey_map.edges:
        y1, y2 = rows[edge.source] * _ROW + 50, rows[edge.target] * _ROW + 10
        count = took.get((edge.source, edge.target), 0)
        parts.append(
            f'<g class="path" data-source="{escape(edge.source)}" data-target="{escape(edge.target)}" '
            f'data-took="{count}"><line x1="100" y1="{y1}" x2="100" y2="{y2}"/>'
            f'<text x="{_WIDTH}" y="{(y1 + y2) // 2}"><tspan>{escape(edge.source)} → {escape(edge.target)} '
            f'{escape(edge.label)}: </tspan><tspan class="took">{count}</tspan></text></g>'
        )
    for node in journey_map.nodes:
        y = rows[node.key] * _ROW + 10
        first, _, rest = node.label.partition("\n")
        parts.append(
            f'<g class="step {node.shape}" data-step="{escape(node.key)}" data-now="{now.get(node.key, 0)}" '
            f'data-arrived="{arrived.get(node.key, 0)}"><rect x="10" y="{y}" width="{_WIDTH - 30}" height="40" rx="6"/>'
            f'<text x="20" y="{y + 17}" direction="ltr"><tspan>{escape(first)}</tspan></text>'
            f'<text x="20" y="{y + 33}"><tspan>{escape(rest)} </tspan>'
            f'<tspan>now </tspan><tspan class="now">{now.get(node.key, 0)}</tspan>'
            f'<tspan>, arrived </tspan><tspan class="arrived">{arrived.get(node.key, 0)}</tspan></text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)
