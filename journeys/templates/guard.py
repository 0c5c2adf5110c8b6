"""`Guard` rewrites a parsed template so that its loops, repeated output, `~` and literals are counted and
bounded, through the filters it inserts; a template without them renders as fast as without the guard."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from jinja2 import TemplateSyntaxError, nodes, pass_context
from jinja2.runtime import Context, markup_join, str_join
from jinja2.visitor import NodeTransformer

from journeys.templates.budget import budget_of, counted
from journeys.templates.limits import MAX_VALUE
from journeys.templates.sizes import checked, size_of, too_large


@pass_context
def _loop(context: Context, iterable: Iterable[Any]) -> Iterator[Any]:
    """Around every `{% for %}`: each iteration is a step."""
    return counted(iterable, budget_of(context).step)


@pass_context
def _out(context: Context, value: Any) -> Any:
    """Around `{{ ... }}` inside loops, macros and call blocks: what they write is made text."""
    size = len(value) if isinstance(value, str) else size_of(value)
    if size > MAX_VALUE:
        raise too_large("an output")
    budget_of(context).make(size)
    return value


@pass_context
def _concat(context: Context, items: list[Any]) -> str:
    """`a ~ b`, measured before it is joined."""
    size = sum(len(item) if isinstance(item, str) else size_of(item) for item in items)
    if size > MAX_VALUE:
        raise too_large("~")
    budget_of(context).make(size)
    return (markup_join if context.eval_ctx.autoescape else str_join)(items)


def _value(value: Any) -> Any:
    """Around list, tuple and dict literals (which may hold other large values, each time they appear)."""
    return checked(value, "a list or mapping")


GUARD_FILTERS: dict[str, Callable[..., Any]] = {
    "_journeys_loop": _loop,
    "_journeys_out": _out,
    "_journeys_concat": _concat,
    "_journeys_value": _value,
}


def _wrap(node: nodes.Expr, name: str) -> nodes.Filter:
    return nodes.Filter(node, name, [], [], None, None, lineno=node.lineno)


class Guard(NodeTransformer):
    """Rewrites a parsed template so that its loops, repeated output, `~` and literals are counted and bounded."""

    def __init__(self) -> None:
        self.repeated = 0  # inside a loop, a macro or a call block: output there may be written many times

    def _inside(self, node: nodes.Node) -> nodes.Node:
        self.repeated += 1
        try:
            return self.generic_visit(node)
        finally:
            self.repeated -= 1

    def visit_For(self, node: nodes.For) -> nodes.Node:
        if node.recursive:
            raise TemplateSyntaxError("recursive loops are not allowed", node.lineno)
        node = self._inside(node)
        node.iter = _wrap(node.iter, "_journeys_loop")
        return node

    visit_Macro = visit_CallBlock = _inside

    def visit_Output(self, node: nodes.Output) -> nodes.Node:
        node = self.generic_visit(node)
        if self.repeated:
            node.nodes = [n if isinstance(n, nodes.TemplateData) else _wrap(n, "_journeys_out") for n in node.nodes]
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        node = self.generic_visit(node)
        return _wrap(nodes.List(node.nodes, lineno=node.lineno), "_journeys_concat")

    def visit_List(self, node: nodes.Expr) -> nodes.Node:
        return _wrap(self.generic_visit(node), "_journeys_value")

    visit_Dict = visit_List

    def visit_Tuple(self, node: nodes.Tuple) -> nodes.Node:
        node = self.generic_visit(node)
        return _wrap(node, "_journeys_value") if node.ctx == "load" else node
