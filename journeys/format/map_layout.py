"""Draw a journey map as inline SVG in pure Python, with run counts on it (the console's journey page).

`journeys render --format svg` asks Graphviz; a web page cannot, so this module lays the map out itself, the
way Graphviz's `dot` does, in four steps small enough to read:

1. layers: back edges (a reminder loop's `goto`, an `on_timeout` to an earlier step) are found by a
   depth-first search from "(start)" and turned around, so the rest is acyclic; each node's layer is its
   longest path from a node without predecessors;
2. ranks: nodes sit on even ranks, and every edge gets a point (a "dummy") on each rank it crosses, so edge
   labels and long edges take room of their own and never cover a node;
3. order within ranks: barycentre sweeps down and up, keeping the order with the fewest crossings;
4. coordinates: each rank is pulled towards its neighbours' centres, as close as non-overlapping boxes allow
   (a least-squares fit under "keep the gap" constraints, solved by pooling adjacent violators).

Text widths are estimated from character counts, generously; the browser tests measure the real ones.
"""

from __future__ import annotations

import textwrap
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from html import escape

from journeys.format.journey_map import JourneyMap, MapEdge, MapNode

_FONT = "DejaVu Sans, Verdana, Arial, sans-serif"
_FONT_SIZE = 12
_LABEL_SIZE = 11
_CHAR = 7.6  # px per character at _FONT_SIZE, on the generous side of common sans-serif fonts
_LABEL_CHAR = 7.0
_BOLD = 1.12  # the first line of a node (its id) is bold
_LINE = 16
_LABEL_LINE = 14
_PAD_X, _PAD_Y = 12, 8
_MIN_WIDTH = 110
_GAP = 28  # between neighbours on a rank
_RANK_GAP = 22  # between ranks
_MARGIN = 16
_WRAP = 40  # the width journey_map shortens to
_LABEL_WRAP = 28
_SWEEPS = 8
_SELF_LOOP = 28  # room kept right of a node that loops to itself

_STYLE = {
    "start": ("#eef6ee", "#3d7a3d", ""),
    "end": ("#eef6ee", "#3d7a3d", ""),
    "step": ("#f4f7fb", "#4a6785", ""),
    "choice": ("#fff8e6", "#8a6100", ""),
    "missing": ("#fff0f0", "#b00020", "5 3"),
}
_TEXT = "#1b1f24"
_COUNT = "#0b4f8a"
_MISSING_TEXT = "#8a0016"
_EDGE = "#5b6b7b"
_ARROW_ID = "journey-map-arrow"


@dataclass
class _Item:
    """A box on a rank: a node, or a point an edge passes (with the edge's label when it is the middle one)."""

    key: str
    rank: int
    width: float
    height: float
    lines: list[str] = field(default_factory=list)
    dummy: bool = False
    x: float = 0.0
    y: float = 0.0


@dataclass
class _Route:
    edge: MapEdge
    back: bool
    chain: list[_Item]  # top to bottom: upper node, dummies, lower node
    label: _Item  # the dummy that carries the label (or, for a loop to itself, a box beside the node)
    took: int


def map_svg(
    journey_map: JourneyMap,
    now: Mapping[str, int],
    arrived: Mapping[str, int],
    took: Mapping[tuple[str, str], int],
) -> str:
    """The map as an `<svg>` element to embed in a page: steps with the runs there `now` and that `arrived`,
    each path with the runs that `took` it (keyed by source and target; parallel paths show the same count).
    Not `role="img"`: screen readers reach the steps and counts inside, and links the page puts around them.
    """
    nodes = {node.key: node for node in journey_map.nodes}
    back = _back_edges(journey_map)
    layers = _layers(journey_map, back)
    items = {key: _node_item(nodes[key], 2 * layers[key], _is_step(nodes[key]) or key in arrived) for key in nodes}
    boxes = {key: item.width for key, item in items.items()}  # before self-loops widen an item
    routes = [
        _route(i, edge, edge in back, items, took.get((edge.source, edge.target), 0))
        for i, edge in enumerate(journey_map.edges)
    ]
    ranks = _order(items.values(), routes)
    _place(ranks, routes)
    return _draw(nodes, items, boxes, routes, ranks, now, arrived)


# 1. layers


def _back_edges(graph: JourneyMap) -> set[MapEdge]:
    """The edges that close a cycle, found by a depth-first search from the start (then from any node left)."""
    out: dict[str, list[MapEdge]] = {node.key: [] for node in graph.nodes}
    for edge in graph.edges:
        out[edge.source].append(edge)
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    back: set[MapEdge] = set()
    for root in out:
        if root in state:
            continue
        state[root] = 1
        stack = [(root, iter(out[root]))]
        while stack:
            key, pending = stack[-1]
            edge = next(pending, None)
            if edge is None:
                state[key] = 2
                stack.pop()
            elif state.get(edge.target) == 1:
                back.add(edge)
            elif edge.target not in state:
                state[edge.target] = 1
                stack.append((edge.target, iter(out[edge.target])))
    return back


def _layers(graph: JourneyMap, back: set[MapEdge]) -> dict[str, int]:
    """Each node's longest path from a node without predecessors, over the edges that are not back edges."""
    preds: dict[str, list[str]] = {node.key: [] for node in graph.nodes}
    for edge in graph.edges:
        if edge not in back and edge.source != edge.target:
            preds[edge.target].append(edge.source)
    layer: dict[str, int] = {}

    def depth(key: str) -> int:
        if key not in layer:
            pending = [key]
            while pending:
                top = pending[-1]
                missing = [p for p in preds[top] if p not in layer]
                if missing:
                    pending.extend(missing)
                else:
                    layer[top] = max((layer[p] + 1 for p in preds[top]), default=0)
                    pending.pop()
        return layer[key]

    return {node.key: depth(node.key) for node in graph.nodes}


# 2. ranks


def _wrap(text: str, width: int) -> list[str]:
    return [part for line in text.split("\n") for part in (textwrap.wrap(line, width) or [""])]


def _is_step(node: MapNode) -> bool:
    return node.shape in ("step", "choice", "end") and not node.key.startswith("(")


def _node_item(node: MapNode, rank: int, counted: bool) -> _Item:
    lines = _wrap(node.label, _WRAP)
    widths = [len(line) * _CHAR * (_BOLD if i == 0 else 1.0) for i, line in enumerate(lines)]
    if counted:
        widths.append(len("0000000 now · 0000000 arrived") * _CHAR)
    width = max(_MIN_WIDTH, max(widths) + 2 * _PAD_X)
    return _Item(node.key, rank, width, len(widths) * _LINE + 2 * _PAD_Y, lines)


def _route(index: int, edge: MapEdge, back: bool, items: dict[str, _Item], count: int) -> _Route:
    """The edge as a chain of items from its upper to its lower end, its label on the middle dummy."""
    upper, lower = (items[edge.target], items[edge.source]) if back else (items[edge.source], items[edge.target])
    lines = [*(_wrap(edge.label, _LABEL_WRAP) if edge.label else []), f"{count} took"]
    width = max(len(line) for line in lines) * _LABEL_CHAR + 16
    label = _Item(f"edge {index}", upper.rank, width, len(lines) * _LABEL_LINE + 4, lines)
    if upper is lower:  # a step that loops to itself: drawn beside it, its label to the right
        upper.width += _SELF_LOOP + width
        return _Route(edge, True, [upper, lower], label, count)
    dummies = [_Item(f"edge {index}", rank, 0.0, 0.0, dummy=True) for rank in range(upper.rank + 1, lower.rank)]
    middle = dummies[(len(dummies) - 1) // 2]
    middle.lines, middle.width, middle.height = label.lines, label.width, label.height
    return _Route(edge, back, [upper, *dummies, lower], middle, count)


# 3. order within ranks


def _order(items: Iterable[_Item], routes: list[_Route]) -> list[list[_Item]]:
    """The items of each rank, left to right, ordered by barycentre sweeps to cut edge crossings."""
    everything = [*items, *(d for r in routes for d in r.chain[1:-1])]
    ranks: list[list[_Item]] = [[] for _ in range(max(i.rank for i in everything) + 1)]
    for item in everything:
        ranks[item.rank].append(item)
    ups, downs = _neighbours(routes)
    index = {id(item): i for rank in ranks for i, item in enumerate(rank)}
    best, fewest = [list(r) for r in ranks], _crossings(ranks, downs)
    for sweep in range(_SWEEPS):
        downward = sweep % 2 == 0
        for r in range(1, len(ranks)) if downward else range(len(ranks) - 2, -1, -1):
            ranks[r] = _by_barycentre(ranks[r], ups if downward else downs, index)
            index.update((id(item), i) for i, item in enumerate(ranks[r]))
        found = _crossings(ranks, downs)
        if found < fewest:
            best, fewest = [list(r) for r in ranks], found
    return best


def _neighbours(routes: list[_Route]) -> tuple[dict[int, list[_Item]], dict[int, list[_Item]]]:
    """For each item (by id), the items it joins on the rank above and on the rank below."""
    ups: dict[int, list[_Item]] = {}
    downs: dict[int, list[_Item]] = {}
    for route in routes:
        for upper, lower in zip(route.chain, route.chain[1:], strict=False):
            if upper is not lower:
                downs.setdefault(id(upper), []).append(lower)
                ups.setdefault(id(lower), []).append(upper)
    return ups, downs


def _by_barycentre(rank: list[_Item], side: dict[int, list[_Item]], index: dict[int, int]) -> list[_Item]:
    """The rank sorted by the mean position of each item's neighbours on `side`; an item without stays put."""

    def key(pair: tuple[int, _Item]) -> float:
        position, item = pair
        joined = [index[id(n)] for n in side.get(id(item), [])]
        return sum(joined) / len(joined) if joined else float(position)

    return [item for _, item in sorted(enumerate(rank), key=key)]


def _crossings(ranks: list[list[_Item]], downs: dict[int, list[_Item]]) -> int:
    total = 0
    for upper, lower in zip(ranks, ranks[1:], strict=False):
        where = {id(item): i for i, item in enumerate(lower)}
        pairs = [(i, where[id(n)]) for i, item in enumerate(upper) for n in downs.get(id(item), []) if id(n) in where]
        total += sum(1 for a, b in pairs for c, d in pairs if a < c and b > d)
    return total


# 4. coordinates


def _place(ranks: list[list[_Item]], routes: list[_Route]) -> None:
    """Set every item's centre: ranks stacked top to bottom, each rank pulled towards its neighbours."""
    top = float(_MARGIN)
    for rank in ranks:
        height = max((item.height for item in rank), default=0.0)
        for item in rank:
            item.y = top + height / 2
            if item.dummy:  # an edge passes the whole row straight, and bends between rows
                item.height = height
        top += height + _RANK_GAP
    for rank in ranks:
        left = 0.0
        for item in rank:
            item.x = left + item.width / 2
            left += item.width + _GAP
    ups, downs = _neighbours(routes)
    for sweep in range(_SWEEPS):
        downward = sweep % 2 == 0
        for rank in ranks if downward else reversed(ranks):
            _pull(rank, ups if downward else downs)
    for rank in ranks:
        _pull(rank, {key: [*ups.get(key, []), *downs.get(key, [])] for key in map(id, rank)})
    _straighten(ranks, routes)
    shift = _MARGIN - min(item.x - item.width / 2 for rank in ranks for item in rank)
    for rank in ranks:
        for item in rank:
            item.x += shift


def _pull(rank: list[_Item], side: dict[int, list[_Item]]) -> None:
    """Move the rank's items as near the mean of their neighbours' centres as the gaps between them allow.

    Minimises the squared distances under `x[i+1] - x[i] >= gap[i]`: with `y[i] = x[i] - (sum of the gaps
    before i)` the constraint is `y` non-decreasing, an isotonic regression solved by pooling adjacent violators.
    """
    offsets, total = [], 0.0
    for i, item in enumerate(rank):
        if i:
            total += (rank[i - 1].width + item.width) / 2 + _GAP
        offsets.append(total)
    blocks: list[list[float]] = []  # [sum of targets, count]
    for item, offset in zip(rank, offsets, strict=True):
        joined = [n.x for n in side.get(id(item), [])]
        target = (sum(joined) / len(joined) if joined else item.x) - offset
        blocks.append([target, 1.0])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] > blocks[-1][0] / blocks[-1][1]:
            last = blocks.pop()
            blocks[-1][0] += last[0]
            blocks[-1][1] += last[1]
    values = [block[0] / block[1] for block in blocks for _ in range(int(block[1]))]
    for item, value, offset in zip(rank, values, offsets, strict=True):
        item.x = value + offset


def _straighten(ranks: list[list[_Item]], routes: list[_Route]) -> None:
    """Run each long edge straight down, as near the median of where it passes as its neighbours leave room."""
    neighbours: dict[int, tuple[_Item | None, _Item | None]] = {}
    for rank in ranks:
        for i, item in enumerate(rank):
            neighbours[id(item)] = (rank[i - 1] if i else None, rank[i + 1] if i + 1 < len(rank) else None)
    for route in routes:
        dummies = route.chain[1:-1]
        if len(dummies) < 2:
            continue
        passes = sorted(map(_path_x, dummies))
        middle = passes[len(passes) // 2]
        for line in sorted(passes, key=lambda x: abs(x - middle)):
            centres = [line + item.x - _path_x(item) for item in dummies]
            if all(_room(item, x, *neighbours[id(item)]) for item, x in zip(dummies, centres, strict=True)):
                for item, x in zip(dummies, centres, strict=True):
                    item.x = x
                break


def _room(item: _Item, x: float, left: _Item | None, right: _Item | None) -> bool:
    half = item.width / 2 + _GAP
    return (left is None or left.x + left.width / 2 + half <= x) and (
        right is None or x + half + right.width / 2 <= right.x
    )


# drawing


def _draw(
    nodes: dict[str, MapNode],
    items: dict[str, _Item],
    boxes: dict[str, float],
    routes: list[_Route],
    ranks: list[list[_Item]],
    now: Mapping[str, int],
    arrived: Mapping[str, int],
) -> str:
    everything = [item for rank in ranks for item in rank]
    width = max(item.x + item.width / 2 for item in everything) + _MARGIN
    height = max(item.y + item.height / 2 for item in everything) + _MARGIN
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="journey-map" viewBox="0 0 {_n(width)} {_n(height)}"'
        f' width="{_n(width)}" height="{_n(height)}" aria-label="journey map"'
        f' font-family="{_FONT}" font-size="{_FONT_SIZE}">',
        f'<defs><marker id="{_ARROW_ID}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7"'
        f' orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="{_EDGE}"/></marker></defs>',
    ]
    ports = _ports(routes, boxes)
    loops: dict[str, float] = {}
    for index, route in enumerate(routes):
        out.append(_draw_route(index, route, ports, boxes, loops))
    for key, node in nodes.items():
        out.append(_draw_node(node, items[key], boxes[key], now, arrived))
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _path_x(item: _Item) -> float:
    """Where an edge passes a dummy: its centre, or the left of the box when the edge's label sits in it."""
    return item.x - item.width / 2 + 4 if item.lines else item.x


def _ports(routes: list[_Route], boxes: dict[str, float]) -> dict[tuple[int, str], float]:
    """Where each edge meets a node, spread along the node's bottom ("out") or top ("in") by where it goes."""
    ends: dict[tuple[int, str], list[tuple[float, int]]] = {}
    for i, route in enumerate(routes):
        upper, lower = route.chain[0], route.chain[-1]
        if upper is not lower:
            ends.setdefault((id(upper), "out"), []).append((_path_x(route.chain[1]), i))
            ends.setdefault((id(lower), "in"), []).append((_path_x(route.chain[-2]), i))
    by_id = {id(route.chain[end]): route.chain[end] for route in routes for end in (0, -1)}
    ports: dict[tuple[int, str], float] = {}
    for (item_id, side), found in ends.items():
        item = by_id[item_id]
        left, box = item.x - item.width / 2, boxes[item.key]
        for k, (_, i) in enumerate(sorted(found)):
            ports[(i, side)] = left + box * (k + 1) / (len(found) + 1)
    return ports


def _draw_route(
    index: int, route: _Route, ports: dict[tuple[int, str], float], boxes: dict[str, float], loops: dict[str, float]
) -> str:
    edge = route.edge
    upper, lower = route.chain[0], route.chain[-1]
    attrs = f' data-source="{_esc(edge.source)}" data-target="{_esc(edge.target)}" data-took="{route.took}"'
    attrs += ' data-back="true"' if route.back else ""
    dash = ' stroke-dasharray="6 4"' if edge.dashed else ""
    label = route.label
    if upper is lower:  # a loop beside the box, its label to the right of the loop
        right = upper.x - upper.width / 2 + boxes[upper.key] + loops.get(upper.key, 0.0)
        loops[upper.key] = loops.get(upper.key, 0.0) + _SELF_LOOP + label.width
        d = f"M{_n(right)},{_n(upper.y - 8)} C{_n(right + _SELF_LOOP)},{_n(upper.y - 24)}"
        d += f" {_n(right + _SELF_LOOP)},{_n(upper.y + 24)} {_n(right)},{_n(upper.y + 8)}"
        label.x, label.y = right + _SELF_LOOP + label.width / 2, upper.y
        centre = label.x
    else:
        points = [(ports[(index, "out")], upper.y + upper.height / 2)]
        for dummy in route.chain[1:-1]:
            x = _path_x(dummy)
            points += [(x, dummy.y - dummy.height / 2), (x, dummy.y + dummy.height / 2)]
        points.append((ports[(index, "in")], lower.y - lower.height / 2))
        d = _curve(points[::-1] if route.back else points)
        centre = label.x + 4
    parts = [
        f'<g class="path"{attrs}>',
        f'<path d="{d}" fill="none" stroke="{_EDGE}" stroke-width="1.4"{dash} marker-end="url(#{_ARROW_ID})"/>',
    ]
    top = label.y - (len(label.lines) * _LABEL_LINE) / 2
    halo = f'stroke="#ffffff" stroke-width="3" paint-order="stroke" font-size="{_LABEL_SIZE}"'
    for k, line in enumerate(label.lines):
        last = k == len(label.lines) - 1
        text = (
            f'<tspan class="took" fill="{_COUNT}" font-weight="bold">{route.took}</tspan> took' if last else _esc(line)
        )
        y = _n(top + (k + 1) * _LABEL_LINE - 3.5)
        parts.append(
            f'<text x="{_n(centre)}" y="{y}" text-anchor="middle" fill="{_TEXT}" {halo}{_bidi(line)}>{text}</text>'
        )
    parts.append("</g>")
    return "\n".join(parts)


def _curve(points: list[tuple[float, float]]) -> str:
    """A smooth path through the points: straight where they line up, else an S-curve between them."""
    (x0, y0), rest = points[0], points[1:]
    d = [f"M{_n(x0)},{_n(y0)}"]
    for x1, y1 in rest:
        if abs(x1 - x0) < 0.5:
            d.append(f"L{_n(x1)},{_n(y1)}")
        else:
            middle = (y0 + y1) / 2
            d.append(f"C{_n(x0)},{_n(middle)} {_n(x1)},{_n(middle)} {_n(x1)},{_n(y1)}")
        x0, y0 = x1, y1
    return " ".join(d)


def _draw_node(node: MapNode, item: _Item, box: float, now: Mapping[str, int], arrived: Mapping[str, int]) -> str:
    fill, stroke, dash = _STYLE[node.shape]
    left, top = item.x - item.width / 2, item.y - item.height / 2
    if _is_step(node):
        here, came = now.get(node.key, 0), arrived.get(node.key, 0)
        opening = f'<g class="step" data-step="{_esc(node.key)}" data-now="{here}" data-arrived="{came}"'
        counts = (
            f'<tspan class="now" font-weight="bold">{here}</tspan> now · '
            f'<tspan class="arrived" font-weight="bold">{came}</tspan> arrived'
        )
    else:
        opening = f'<g class="node" data-node="{_esc(node.key)}"'
        came = arrived.get(node.key)
        opening += f' data-arrived="{came}"' if came is not None else ""
        counts = f'<tspan class="arrived" font-weight="bold">{came}</tspan> arrived' if came is not None else ""
    rounded = min(item.height / 2, 18) if node.shape in ("start", "end") else 6 if node.shape == "step" else 2
    parts = [
        f'{opening} data-layer="{item.rank // 2}">',
        f'<rect class="box" x="{_n(left)}" y="{_n(top)}" width="{_n(box)}" height="{_n(item.height)}"'
        f' rx="{_n(rounded)}" fill="{fill}" stroke="{stroke}" stroke-width="{2 if node.shape == "choice" else 1.4}"'
        + (f' stroke-dasharray="{dash}"' if dash else "")
        + "/>",
    ]
    centre = _n(left + box / 2)
    colour = _MISSING_TEXT if node.shape == "missing" else _TEXT
    for k, line in enumerate(item.lines):
        weight = ' font-weight="bold"' if k == 0 else ""
        y = _n(top + _PAD_Y + (k + 1) * _LINE - 4)
        parts.append(
            f'<text x="{centre}" y="{y}" text-anchor="middle" fill="{colour}"{weight}{_bidi(line)}>{_esc(line)}</text>'
        )
    if counts:
        y = _n(top + _PAD_Y + (len(item.lines) + 1) * _LINE - 4)
        parts.append(
            f'<text class="counts" x="{centre}" y="{y}" text-anchor="middle" fill="{_COUNT}"{_bidi("now")}>'
            f"{counts}</text>"
        )
    parts.append("</g>")
    return "\n".join(parts)


def _bidi(text: str) -> str:
    """The line's direction, set on it so the page around the map cannot change it: left to right unless the
    line has right-to-left letters and no left-to-right ones (a wrapped line of a Persian message). Map labels
    are English-led ("send sms: ...", conditions), and the bidi algorithm orders a Persian phrase inside them."""
    kinds = {unicodedata.bidirectional(char) for char in text}
    rtl = bool(kinds & {"R", "AL"}) and "L" not in kinds
    return f' direction="{"rtl" if rtl else "ltr"}" unicode-bidi="embed"'


def _esc(text: str) -> str:
    """Text or attribute value as XML: markup escaped, and control characters (which XML forbids) dropped."""
    return escape("".join(ch for ch in text if ch in "\t\n" or unicodedata.category(ch) != "Cc"), quote=True)


def _n(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")
