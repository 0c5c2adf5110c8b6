"""The environments templates render in: Jinja's immutable sandbox with the bounds of the package docstring
(bounded `range` and `lipsum`, checked operators and method calls, the bounded filters and the guard)."""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, nodes
from jinja2.runtime import Context, Macro, Namespace
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import generate_lorem_ipsum

from journeys.templates.budget import budget_of
from journeys.templates.filters import BOUNDED_FILTERS, COUNTING_FILTERS, bounded_dumps
from journeys.templates.guard import GUARD_FILTERS, Guard
from journeys.templates.limits import (
    MAX_DEPTH,
    MAX_EXPONENT,
    MAX_INT_BITS,
    MAX_LIPSUM_WORDS,
    MAX_OUTPUT,
    MAX_RANGE,
    MAX_VALUE,
    TemplateError,
)
from journeys.templates.sizes import check_width, checked, printf_problem, size_of, too_large

_WIDTH_METHODS = frozenset({"center", "ljust", "rjust", "zfill"})


@lru_cache(maxsize=1024)
def _format_problem(fmt: str) -> str | None:
    """As `printf_problem`, for `str.format` fields such as `{:>999999999}`."""
    try:
        fields = list(string.Formatter().parse(fmt))
    except ValueError:
        return None  # the call itself fails, with Python's reason
    for _, _, spec, _ in fields:
        if spec and "{" in spec:
            return "a format field inside a format spec is not allowed"
        for number in re.findall(r"\d+", spec or ""):
            if len(number) > 9 or int(number) > MAX_VALUE:
                return f"width {number} in a format is over the limit of {MAX_VALUE:,} characters"
    return None


def _check_call(obj: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """Refuse a str/bytes method call that would build a huge value; the arguments to call it with."""
    method = getattr(obj, "__wrapped__", obj)  # the sandbox hands `str.format` out wrapped
    owner = getattr(method, "__self__", None)
    if not isinstance(owner, str | bytes):
        return args
    name = getattr(method, "__name__", "")
    if name in _WIDTH_METHODS:
        check_width(args[0] if args else kwargs.get("width"), f".{name}()")
    elif name == "expandtabs":
        size = args[0] if args else kwargs.get("tabsize", 8)
        tab = "\t" if isinstance(owner, str) else b"\t"
        if isinstance(size, int) and len(owner) + owner.count(tab) * size > MAX_VALUE:  # type: ignore[arg-type]
            raise too_large(".expandtabs()")
    elif (
        name == "replace"
        and len(args) >= 2
        and all(isinstance(a, str if isinstance(owner, str) else bytes) for a in args[:2])
    ):
        old, new = args[0], args[1]
        hits = owner.count(old) if old else len(owner) + 1
        if len(args) > 2 and isinstance(args[2], int) and args[2] >= 0:
            hits = min(hits, args[2])
        if len(owner) + hits * (len(new) - len(old)) > MAX_VALUE:
            raise too_large(".replace()")
    elif name == "join" and args:
        items = list(args[0])
        size = len(owner) * max(len(items) - 1, 0) + sum(size_of(item) for item in items)
        if size > MAX_VALUE:
            raise too_large(".join()")
        return (items, *args[1:])
    elif name in ("format", "format_map") and isinstance(owner, str):
        problem = _format_problem(owner)
        if problem:
            raise TemplateError(problem)
    return args


def _bounded_range(*args: int) -> range:
    r = range(*args)
    if len(r) > MAX_RANGE:
        raise TemplateError(f"range of {len(r)} items is over the limit of {MAX_RANGE}")
    return r


def _lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:  # noqa: A002 (Jinja's names)
    if isinstance(n, int) and isinstance(max, int) and n * max > MAX_LIPSUM_WORDS:
        raise TemplateError(f"lipsum of {n} paragraphs of up to {max} words is over {MAX_LIPSUM_WORDS:,} words")
    return generate_lorem_ipsum(n, html, min, max)


def _bounded_concat(chunks: Iterable[str]) -> str:
    """`Environment.concat`: joins a render's output (and macro and block output) after adding up its length."""
    parts = chunks if isinstance(chunks, list) else list(chunks)
    size = sum(map(len, parts))
    if size > MAX_OUTPUT:
        raise TemplateError(f"rendered text is {size} characters, over the limit of {MAX_OUTPUT}")
    return "".join(parts)


class Sandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox with the bounds described in the package docstring."""

    intercepted_binops = frozenset({"*", "**", "%", "+"})
    concat = staticmethod(_bounded_concat)  # type: ignore[assignment]

    def __init__(self, autoescape: bool) -> None:
        super().__init__(undefined=StrictUndefined, autoescape=autoescape, keep_trailing_newline=False)
        self.globals["range"] = _bounded_range
        self.globals["lipsum"] = _lipsum
        self.filters.update(COUNTING_FILTERS)
        self.filters.update(BOUNDED_FILTERS)
        self.filters.update(GUARD_FILTERS)
        self.policies["json.dumps_function"] = bounded_dumps

    def make_globals(self, d: Mapping[str, Any] | None) -> dict[str, Any]:  # type: ignore[override]
        """A template's globals as a plain dict, not Jinja's ChainMap: the globals never change after start-up, and
        copying a ChainMap into every render's context took half the time of rendering a short template."""
        return {**self.globals, **(d or {})}

    def _generate(
        self, source: nodes.Template, name: str | None, filename: str | None, defer_init: bool = False
    ) -> str:
        source = Guard().visit(source)
        source.set_environment(self)
        return super()._generate(source, name, filename, defer_init)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        both_ints = isinstance(left, int) and isinstance(right, int)
        if operator == "*":
            for seq, count in ((left, right), (right, left)):
                if isinstance(seq, str | bytes | list | tuple) and isinstance(count, int) and count > 1:
                    if size_of(seq, MAX_VALUE // count + 1) * count > MAX_VALUE:
                        raise TemplateError(f"repetition would be over the limit of {MAX_VALUE:,} characters")
            if both_ints and left.bit_length() + right.bit_length() > MAX_INT_BITS:
                raise TemplateError(f"the product is over the limit of {MAX_INT_BITS:,} bits")
        elif operator == "**":
            if isinstance(right, int) and right > MAX_EXPONENT:
                raise TemplateError(f"exponent is over the limit of {MAX_EXPONENT}")
            if both_ints and right > 0 and left.bit_length() * right > MAX_INT_BITS:
                raise TemplateError(f"the power is over the limit of {MAX_INT_BITS:,} bits")
        elif operator == "%" and isinstance(left, str):
            problem = printf_problem(left)
            if problem:
                raise TemplateError(problem)
        result = super().call_binop(context, operator, left, right)
        if isinstance(result, str | bytes):
            if len(result) > MAX_VALUE:
                raise too_large(f"the result of {operator}")
            budget_of(context).make(len(result))
        elif isinstance(result, list | tuple):
            checked(result, f"the result of {operator}")
        return result

    def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        budget = budget_of(context)
        budget.step()
        if isinstance(obj, Macro):  # macros (and `caller`) are how a template calls itself
            budget.depth += 1
            try:
                if budget.depth > MAX_DEPTH:
                    raise TemplateError(f"calls nest over {MAX_DEPTH} deep (a macro that calls itself?)")
                result = super().call(context, obj, *args, **kwargs)
            finally:
                budget.depth -= 1
        else:
            result = super().call(context, obj, *_check_call(obj, args, kwargs), **kwargs)
        if isinstance(result, str | bytes):
            if len(result) > MAX_VALUE:
                raise too_large("the result of a call")
            budget.make(len(result))
        elif isinstance(result, list | tuple | dict | Namespace):
            checked(result, "the result of a call")
        return result


TEXT_ENV = Sandbox(autoescape=False)
HTML_ENV = Sandbox(autoescape=True)


def reason(exc: BaseException) -> str:
    """Why a render or a compile failed, in a few words."""
    if isinstance(exc, MemoryError):
        return "out of memory"
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    return str(exc) or type(exc).__name__
