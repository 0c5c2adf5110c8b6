"""Bounds a template is bound to break whatever the customer (huge constants, widths, nested loops, a macro
that calls itself): found while validating, from the parsed template alone."""

from __future__ import annotations

import math
from typing import Any

from jinja2 import nodes

from journeys.templates.limits import (
    MAX_EXPONENT,
    MAX_INT_BITS,
    MAX_JSON_INDENT,
    MAX_LIPSUM_WORDS,
    MAX_RANGE,
    MAX_STEPS,
    MAX_VALUE,
)
from journeys.templates.sizes import printf_problem

_HUGE = math.inf  # a constant too large to compute while validating


def _const(node: nodes.Node) -> Any:
    """The value of a literal or of arithmetic on literals (`_HUGE` when too large to compute), else None."""
    if isinstance(node, nodes.Const):
        return node.value
    if isinstance(node, nodes.Neg | nodes.Pos):
        value = _const(node.node)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return -value if isinstance(node, nodes.Neg) else value
        return None
    if not isinstance(node, nodes.Add | nodes.Sub | nodes.Mul | nodes.Pow | nodes.FloorDiv):
        return None
    left, right = _const(node.left), _const(node.right)
    if _HUGE in (left, right) and isinstance(left, int | float) and isinstance(right, int | float):
        return _HUGE
    if not (type(left) is int and type(right) is int):
        return None
    if isinstance(node, nodes.Pow):
        if right < 0:
            return None
        if right > MAX_EXPONENT or left.bit_length() * right > MAX_INT_BITS:
            return _HUGE
        return left**right
    if isinstance(node, nodes.Mul):
        return _HUGE if left.bit_length() + right.bit_length() > MAX_INT_BITS else left * right
    if isinstance(node, nodes.FloorDiv):
        return left // right if right else None
    return left + right if isinstance(node, nodes.Add) else left - right


def _count(value: Any) -> str:
    """`value` for "range of … items", "run … times"."""
    return "a huge number of" if value is _HUGE else f"{value:,}"


def _number(value: Any) -> str:
    return "a huge number" if value is _HUGE else f"{value:,}"


def _range_length(call: nodes.Call) -> int | float | None:
    """How many items `range(...)` with constant arguments has (None when not constant)."""
    if not (isinstance(call.node, nodes.Name) and call.node.name == "range") or call.kwargs or call.dyn_args:
        return None
    args = [_const(a) for a in call.args]
    if not args or any(type(a) is not int and a is not _HUGE for a in args):
        return None
    if _HUGE in args:
        return _HUGE
    try:
        return len(range(*args))
    except (ValueError, OverflowError):
        return _HUGE


def _loop_length(loop: nodes.For) -> int | float | None:
    if isinstance(loop.iter, nodes.Call):
        return _range_length(loop.iter)
    if isinstance(loop.iter, nodes.List | nodes.Tuple):
        return len(loop.iter.items)
    return None


def _nested_loops(node: nodes.Node, runs: int | float, problems: list[str]) -> None:
    """Report loops whose nesting (of loops with a known length) runs their body over `MAX_STEPS` times."""
    for child in node.iter_child_nodes():
        inner = runs
        if isinstance(child, nodes.For):
            inner = runs * (_loop_length(child) or 1)
            if inner > MAX_STEPS and runs <= MAX_STEPS:
                problems.append(f"loops nested here run {_count(inner)} times, over the limit of {MAX_STEPS:,}")
        _nested_loops(child, inner, problems)


def macro_recursion(tree: nodes.Node) -> list[str]:
    macros = {m.name: m for m in tree.find_all(nodes.Macro)}
    calls = {
        name: {c.node.name for c in m.find_all(nodes.Call) if isinstance(c.node, nodes.Name) and c.node.name in macros}
        for name, m in macros.items()
    }
    problems = []
    for name in macros:
        seen, todo = set(), list(calls[name])
        while todo:
            callee = todo.pop()
            if callee == name:
                problems.append(f"macro {name!r} calls itself: recursion is not allowed")
                break
            if callee not in seen:
                seen.add(callee)
                todo += calls[callee]
    return problems


def _filter_bounds(flt: nodes.Filter) -> list[str]:
    first = _const(flt.args[0]) if flt.args else None
    if flt.name in ("center", "indent"):
        width = len(first) if isinstance(first, str) else first
        if isinstance(width, int | float) and width > MAX_VALUE:
            return [f"{flt.name}({_number(width)}) is wider than the limit of {MAX_VALUE:,} characters"]
    if flt.name in ("batch", "slice") and isinstance(first, int | float) and first > MAX_RANGE:
        return [f"{flt.name}({_number(first)}) is over the limit of {MAX_RANGE:,}"]
    if flt.name == "tojson" and isinstance(first, int | float) and first > MAX_JSON_INDENT:
        return [f"tojson({_number(first)}): an indent over {MAX_JSON_INDENT} is not allowed"]
    if flt.name == "format" and isinstance(fmt := _const(flt.node), str):
        problem = printf_problem(fmt)
        return [problem] if problem else []
    return []


def static_bounds(tree: nodes.Node) -> list[str]:
    """Bounds a template is bound to break, whatever the customer: found while validating."""
    problems: list[str] = []
    for call in tree.find_all(nodes.Call):
        length = _range_length(call)
        if length is not None and length > MAX_RANGE:
            problems.append(f"range of {_count(length)} items is over the limit of {MAX_RANGE:,}")
        if isinstance(call.node, nodes.Name) and call.node.name == "lipsum" and call.args:
            n, most = _const(call.args[0]), _const(call.args[3]) if len(call.args) > 3 else 100
            if isinstance(n, int | float) and isinstance(most, int | float) and n * most > MAX_LIPSUM_WORDS:
                problems.append(f"lipsum is over the limit of {MAX_LIPSUM_WORDS:,} words")
    for op in tree.find_all(nodes.Mul):
        left, right = _const(op.left), _const(op.right)
        text, count = (left, right) if isinstance(left, str) else (right, left)
        if isinstance(text, str) and isinstance(count, int | float) and len(text) * count > MAX_VALUE:
            problems.append(f"repeating a text {_count(count)} times is over the limit of {MAX_VALUE:,} characters")
        elif _const(op) is _HUGE:
            problems.append(f"a number over the limit of {MAX_INT_BITS:,} bits")
    for op in tree.find_all(nodes.Pow):
        exponent = _const(op.right)
        if isinstance(exponent, int | float) and exponent > MAX_EXPONENT:
            problems.append(f"exponent {_number(exponent)} is over the limit of {MAX_EXPONENT}")
        elif _const(op) is _HUGE:
            problems.append(f"a number over the limit of {MAX_INT_BITS:,} bits")
    for op in tree.find_all(nodes.Mod):
        fmt = _const(op.left)
        if isinstance(fmt, str) and (problem := printf_problem(fmt)):
            problems.append(problem)
    for flt in tree.find_all(nodes.Filter):
        problems += _filter_bounds(flt)
    _nested_loops(tree, 1, problems)
    return problems
