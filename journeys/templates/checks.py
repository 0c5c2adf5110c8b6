"""Validation of expressions and templates: syntax, names the context lacks, what the sandbox would refuse,
the static bounds, and whether Python can compile it."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from typing import Any

from jinja2 import TemplateSyntaxError, nodes
from jinja2.sandbox import is_internal_attribute

from journeys.templates.limits import CONTEXT_NAMES
from journeys.templates.sandbox import TEXT_ENV, reason
from journeys.templates.static_bounds import macro_recursion, static_bounds

_MUTATING = frozenset(
    {"append", "extend", "insert", "pop", "popitem", "remove", "clear", "update", "setdefault", "add", "discard"}
    | {"sort", "reverse", "difference_update", "intersection_update", "symmetric_difference_update"}
)
_INCLUDES = (nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)


def _refused_attribute(name: str) -> bool:
    return name.startswith("_") or is_internal_attribute(object, name) or name in {"mro", "format", "format_map"}


def _check_tree(tree: nodes.Node, allowed: Iterable[str]) -> list[str]:
    """Find what the sandbox would refuse, and names the context does not have."""
    problems: list[str] = []
    macros = {m.name for m in tree.find_all(nodes.Macro)}
    special = {"loop"} if any(True for _ in tree.find_all(nodes.For)) else set()
    special |= {"varargs", "kwargs"} if macros else set()
    special |= {"caller"} if any(True for _ in tree.find_all(nodes.CallBlock)) else set()
    allowed = set(allowed) | set(TEXT_ENV.globals) | macros | special
    assigned = {n.name for n in tree.find_all(nodes.Name) if n.ctx in ("store", "param")}
    for name in tree.find_all(nodes.Name):
        if name.ctx == "load" and name.name not in allowed and name.name not in assigned:
            hint = difflib.get_close_matches(name.name, sorted(allowed), n=1)
            problems.append(
                f"unknown name {name.name!r}"
                + (f", did you mean {hint[0]!r}?" if hint else "")
                + f" (the context has {', '.join(CONTEXT_NAMES)})"
            )
    for attr in tree.find_all(nodes.Getattr):
        if _refused_attribute(attr.attr):
            problems.append(f"the sandbox refuses access to attribute {attr.attr!r}")
    for item in tree.find_all(nodes.Getitem):
        if isinstance(item.arg, nodes.Const) and isinstance(item.arg.value, str) and _refused_attribute(item.arg.value):
            problems.append(f"the sandbox refuses access to {item.arg.value!r}")
    for call in tree.find_all(nodes.Call):
        if isinstance(call.node, nodes.Getattr) and call.node.attr in _MUTATING:
            problems.append(f"the sandbox refuses changing data (.{call.node.attr}())")
    for flt in tree.find_all(nodes.Filter):
        if flt.name == "attr":
            problems.append("the sandbox refuses the |attr filter; use dotted access")
        elif flt.name not in TEXT_ENV.filters or flt.name.startswith("_"):
            problems.append(f"unknown filter {flt.name!r}")
    for test in tree.find_all(nodes.Test):
        if test.name not in TEXT_ENV.tests:
            problems.append(f"unknown test {test.name!r}")
    if any(True for _ in tree.find_all(_INCLUDES)):
        problems.append("a template cannot include, import or extend other templates")
    if any(loop.recursive for loop in tree.find_all(nodes.For)):
        problems.append("recursive loops are not allowed")
    return problems + macro_recursion(tree) + static_bounds(tree)


def _compile_problem(compile_it: Callable[[], Any]) -> list[str]:
    """Compile what passed the checks (Python refuses, for one, blocks nested over 20 deep)."""
    try:
        compile_it()
    except TemplateSyntaxError as exc:
        return [f"template does not compile (line {exc.lineno}): {exc.message}"]
    except Exception as exc:  # SyntaxError, RecursionError, MemoryError from Python's compiler
        return [f"template does not compile: {reason(exc)}"]
    return []


def check_expression(source: str, allowed: Iterable[str] = CONTEXT_NAMES) -> list[str]:
    """Problems with an expression: syntax, names the context lacks, access the sandbox refuses, bounds."""
    if not isinstance(source, str) or not source.strip():
        return ["empty expression"]
    try:
        tree = TEXT_ENV.parse("{{ " + source + " }}")
        return _check_tree(tree, allowed) or _compile_problem(lambda: TEXT_ENV.compile_expression(source))
    except TemplateSyntaxError as exc:
        return [f"expression does not parse: {exc.message}"]
    except RecursionError:
        return ["expression is nested too deeply"]


def check_template(source: str, allowed: Iterable[str] = CONTEXT_NAMES) -> list[str]:
    """Problems with a template string, as `check_expression`."""
    try:
        tree = TEXT_ENV.parse(source)
        return _check_tree(tree, allowed) or _compile_problem(lambda: TEXT_ENV.compile(source))
    except TemplateSyntaxError as exc:
        return [f"template does not parse (line {exc.lineno}): {exc.message}"]
    except RecursionError:
        return ["template is nested too deeply"]


def names_read(source: str, expression: bool = False) -> frozenset[str]:
    """The context names a template (or an expression) reads; every name when it does not parse, so a caller
    deciding what a template may need errs on the side of too much."""
    try:
        tree = TEXT_ENV.parse("{{ " + source + " }}" if expression else source)
    except (TemplateSyntaxError, RecursionError):
        return frozenset(CONTEXT_NAMES)
    return frozenset(name.name for name in tree.find_all(nodes.Name) if name.ctx == "load")
