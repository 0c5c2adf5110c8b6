"""Sandboxed Jinja2 for expressions and message templates, and the template file lookup.

Template files live under `definitions/templates/` as YAML holding the same fields as an inline
`message:`. A step's `template: modem_swap/invite` for a customer with locale `fa-IR` on the email
channel is looked up as, in order:

    modem_swap/invite.fa-IR.email.yaml
    modem_swap/invite.fa.email.yaml
    modem_swap/invite.email.yaml

The first file that exists wins. Validation requires at least one file per channel used, and warns
when the locale-free fallback is missing.

Bounds. A template is the marketer's code, run for every customer, in the worker and inside workflows, so
it must neither escape the sandbox nor hang or eat memory. Jinja's immutable sandbox refuses `_` attributes
and changing data (`.append`, `.update`); on top of it, `_Sandbox`:

- refuses, while validating, what is bound to fail: dunder access, `|attr`, huge `range`, repetition,
  exponents, widths (`center`, `indent`, `%999999999s`), loops nested to over `MAX_STEPS` iterations,
  macros that call themselves, recursive loops, includes, and templates Python cannot compile;
- bounds every render: each string or list a template makes holds at most `MAX_VALUE` characters (checked
  before width filters, repetition, `%`, `str.format`, `replace` and `join` build it, and after `~`, `+` and
  list, tuple and dict literals), one render runs at most `MAX_STEPS` loop iterations, calls and bounded
  filters, makes at most `MAX_MADE` characters in loops, macros and such operations, and returns at most
  `MAX_OUTPUT` characters; inside `time_limit(clock)` it also takes at most `MAX_SECONDS` by that clock.
  Past a bound, a `TemplateError` says which.

No clock is read here unless a caller hands one in: the interpreter and the workflow render by counts alone,
so a replay decides as the first run did; the send activity, which may, bounds its renders in time too.

Loops, output inside loops and macros, `~` and literals are counted by rewriting the parsed template
(`_Guard`), so a template without them renders as fast as before.
"""

from __future__ import annotations

import ast
import difflib
import json
import math
import re
import string
import textwrap
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, nodes, pass_context
from jinja2.filters import (
    do_batch,
    do_center,
    do_format,
    do_indent,
    do_max,
    do_min,
    do_replace,
    do_sort,
    do_unique,
    do_urlize,
    sync_do_groupby,
    sync_do_join,
    sync_do_list,
    sync_do_map,
    sync_do_reject,
    sync_do_rejectattr,
    sync_do_select,
    sync_do_selectattr,
    sync_do_slice,
    sync_do_sum,
)
from jinja2.runtime import Context, Macro, Namespace, markup_join, str_join
from jinja2.sandbox import ImmutableSandboxedEnvironment, is_internal_attribute
from jinja2.utils import generate_lorem_ipsum
from jinja2.visitor import NodeTransformer

from journeys.errors import JourneysError

CONTEXT_NAMES = ("customer", "event", "journey", "now")
MAX_OUTPUT = 100_000  # characters one rendered field may hold
MAX_MESSAGE = 1_000_000  # characters of all the values `render_value` renders for one message (a webhook body)
MAX_VALUE = MAX_OUTPUT  # characters (roughly, as printed) of any one string, list or mapping a template makes
MAX_RANGE = 10_000  # items of `range()`, and the counts of `batch` and `slice`
MAX_STEPS = 100_000  # loop iterations, calls and bounded filters in one render
MAX_MADE = 1_000_000  # characters one render makes in loops, macros, `~`, `+`, `*`, `%` and width filters
MAX_SECONDS = 1.0  # one render's time, checked at every step
MAX_DEPTH = 40  # calls inside calls (a macro that calls itself)
MAX_EXPONENT = 64
MAX_INT_BITS = 4_096  # numbers a template computes with `*` and `**`
MAX_LIPSUM_WORDS = 10_000
MAX_JSON_INDENT = 100
MAX_LITERAL = 10_000  # characters of a rendered `update.set` value read back as a number, list or mapping

RTL_LANGUAGES = frozenset({"ar", "fa", "he", "ku", "ps", "sd", "ug", "ur", "yi", "dv"})

_BUDGET = "journeys budget"  # key of the render's budget among its variables: a name no template can write
_MUTATING = frozenset(
    {"append", "extend", "insert", "pop", "popitem", "remove", "clear", "update", "setdefault", "add", "discard"}
    | {"sort", "reverse", "difference_update", "intersection_update", "symmetric_difference_update"}
)
_WIDTH_METHODS = frozenset({"center", "ljust", "rjust", "zfill"})
_INCLUDES = (nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)
_PRINTF = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")


class TemplateError(JourneysError):
    """A template or expression failed to render for one customer."""


# --- the render budget ----------------------------------------------------------------------------


class _Budget:
    """What one render may still do; made on first use and kept among the render's variables."""

    __slots__ = ("steps", "made", "depth", "clock", "deadline")

    def __init__(self) -> None:
        self.steps = MAX_STEPS
        self.made = MAX_MADE
        self.depth = 0
        self.clock = _clock.get()
        self.deadline = self.clock() + MAX_SECONDS if self.clock is not None else math.inf

    def step(self, count: int = 1) -> None:
        self.steps -= count
        if self.steps < 0:
            raise TemplateError(f"the template runs over {MAX_STEPS:,} loop iterations and calls")
        if self.clock is not None and self.clock() > self.deadline:
            raise TemplateError(f"the template takes over {MAX_SECONDS:g} s to render")

    def make(self, size: int) -> None:
        self.made -= size
        if self.made < 0:
            raise TemplateError(f"the template makes over {MAX_MADE:,} characters of text")


Clock = Callable[[], float]
_clock: ContextVar[Clock | None] = ContextVar("journeys_template_clock", default=None)


@contextmanager
def time_limit(clock: Clock) -> Iterator[None]:
    """Renders in this context (this thread or task) also stop after `MAX_SECONDS` by `clock`. Only code
    that need not decide the same way every time may pass one (the send activity; never a workflow, whose
    replay on another machine must decide as the first run did); elsewhere the counting bounds hold alone."""
    token = _clock.set(clock)
    try:
        yield
    finally:
        _clock.reset(token)


def _budget(context: Context) -> _Budget:
    budget = context.parent.get(_BUDGET)
    if budget is None:
        budget = context.parent[_BUDGET] = _Budget()
    return budget


def _size(value: Any, limit: int = MAX_VALUE) -> int:
    """About how many characters `value` prints as, counting a shared part each time it appears; stops past `limit`."""
    total, todo = 0, [value]
    while todo and total <= limit:
        item = todo.pop()
        if isinstance(item, str | bytes):
            total += len(item)
        elif isinstance(item, int):
            total += item.bit_length() // 3 + 1
        elif isinstance(item, list | tuple | set | frozenset):
            total += 2 * len(item) + 2
            todo.extend(item)
        elif isinstance(item, Mapping):
            total += 4 * len(item) + 2
            todo.extend(item.keys())
            todo.extend(item.values())
        elif isinstance(item, Namespace):
            todo.append(object.__getattribute__(item, "_Namespace__attrs"))
        else:
            total += 8
    return total


def _too_large(what: str) -> TemplateError:
    return TemplateError(f"{what} would be over the limit of {MAX_VALUE:,} characters")


def _checked(value: Any, what: str) -> Any:
    if _size(value) > MAX_VALUE:
        raise _too_large(what)
    return value


def _check_width(width: Any, what: str) -> None:
    if isinstance(width, int) and width > MAX_VALUE:
        raise TemplateError(f"{what}: width {width:,} is over the limit of {MAX_VALUE:,} characters")


@lru_cache(maxsize=1024)
def _printf_problem(fmt: str) -> str | None:
    """What is wrong with a `%` format string: a width or precision over the limit, or one given by `*`."""
    for match in _PRINTF.finditer(fmt):
        for number in match.groups():
            if number == "*":
                return "a * width in a % format is not allowed"
            if number and (len(number) > 9 or int(number) > MAX_VALUE):
                return f"width {number} in a % format is over the limit of {MAX_VALUE:,} characters"
    return None


@lru_cache(maxsize=1024)
def _format_problem(fmt: str) -> str | None:
    """As `_printf_problem`, for `str.format` fields such as `{:>999999999}`."""
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
        _check_width(args[0] if args else kwargs.get("width"), f".{name}()")
    elif name == "expandtabs":
        size = args[0] if args else kwargs.get("tabsize", 8)
        tab = "\t" if isinstance(owner, str) else b"\t"
        if isinstance(size, int) and len(owner) + owner.count(tab) * size > MAX_VALUE:  # type: ignore[arg-type]
            raise _too_large(".expandtabs()")
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
            raise _too_large(".replace()")
    elif name == "join" and args:
        items = list(args[0])
        size = len(owner) * max(len(items) - 1, 0) + sum(_size(item) for item in items)
        if size > MAX_VALUE:
            raise _too_large(".join()")
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


# --- filters with bounds --------------------------------------------------------------------------


def _counted(iterable: Iterable[Any], step: Callable[[], None]) -> Iterator[Any]:
    """`iterable`, one step per item: loops and filters that go through items are counted and timed."""
    for item in iterable:
        step()
        yield item


def _counting(go: Callable[..., Any]) -> Callable[..., Any]:
    """A filter that goes through its input item by item (`map`, `sort`, ...), with each item a step."""

    @pass_context
    def bounded(context: Context, value: Any, *args: Any, **kwargs: Any) -> Any:
        return go(context, _counted(value, _budget(context).step), *args, **kwargs)

    return bounded


_COUNTING_FILTERS: dict[str, Callable[..., Any]] = {
    "map": _counting(sync_do_map),
    "select": _counting(sync_do_select),
    "reject": _counting(sync_do_reject),
    "selectattr": _counting(sync_do_selectattr),
    "rejectattr": _counting(sync_do_rejectattr),
    "list": _counting(lambda _, value: sync_do_list(value)),
    "sum": _counting(lambda context, *args, **kwargs: sync_do_sum(context.environment, *args, **kwargs)),
    "sort": _counting(lambda context, *args, **kwargs: do_sort(context.environment, *args, **kwargs)),
    "unique": _counting(lambda context, *args, **kwargs: do_unique(context.environment, *args, **kwargs)),
    "min": _counting(lambda context, *args, **kwargs: do_min(context.environment, *args, **kwargs)),
    "max": _counting(lambda context, *args, **kwargs: do_max(context.environment, *args, **kwargs)),
}


@pass_context
def _center(context: Context, value: Any, width: int = 80) -> str:
    budget = _budget(context)
    budget.step()
    _check_width(width, "center")
    result = do_center(value, width)
    budget.make(len(result))
    return result


@pass_context
def _indent(context: Context, s: Any, width: int | str = 4, first: bool = False, blank: bool = False) -> str:
    budget = _budget(context)
    budget.step()
    pad = len(width) if isinstance(width, str) else width
    text = str(s)
    if isinstance(pad, int) and len(text) + (text.count("\n") + 1) * pad > MAX_VALUE:
        raise _too_large("indent")
    result = do_indent(s, width, first, blank)
    budget.make(len(result))
    return result


@pass_context
def _wordwrap(
    context: Context,
    s: str,
    width: int = 79,
    break_long_words: bool = True,
    wrapstring: str | None = None,
    break_on_hyphens: bool = True,
) -> str:
    """Jinja's `wordwrap`, measuring the result before joining it."""
    budget = _budget(context)
    budget.step()
    if wrapstring is None:
        wrapstring = context.environment.newline_sequence
    if break_long_words and isinstance(width, int) and width > 0 and isinstance(s, str):
        letters = len("".join(s.split()))  # each line holds at most `width` of them
        if letters + (letters // width - 1) * len(wrapstring) > MAX_VALUE:  # known before wrapping, which is slow
            raise _too_large("wordwrap")
    paragraphs = [
        textwrap.wrap(
            line,
            width=width,
            expand_tabs=False,
            replace_whitespace=False,
            break_long_words=break_long_words,
            break_on_hyphens=break_on_hyphens,
        )
        for line in s.splitlines()
    ]
    joins = sum(max(len(lines) - 1, 0) for lines in paragraphs) + max(len(paragraphs) - 1, 0)
    if sum(len(line) for lines in paragraphs for line in lines) + joins * len(wrapstring) > MAX_VALUE:
        raise _too_large("wordwrap")
    result = wrapstring.join([wrapstring.join(lines) for lines in paragraphs])
    budget.make(len(result))
    return result


@pass_context
def _replace(context: Context, s: Any, old: Any, new: Any, count: int | None = None) -> str:
    budget = _budget(context)
    budget.step()
    text, old_text, new_text = str(s), str(old), str(new)
    hits = text.count(old_text) if old_text else len(text) + 1
    if isinstance(count, int) and count >= 0:
        hits = min(hits, count)
    if len(text) + hits * (len(new_text) - len(old_text)) > MAX_VALUE:
        raise _too_large("replace")
    result = do_replace(context.eval_ctx, s, old, new, count)
    budget.make(len(result))
    return result


@pass_context
def _join(context: Context, value: Iterable[Any], d: str = "", attribute: str | int | None = None) -> str:
    budget = _budget(context)
    items = value if isinstance(value, list) else list(_counted(value, budget.step))
    budget.step(len(items) if items is value else 1)
    size = len(str(d)) * max(len(items) - 1, 0)
    if attribute is None:
        size += sum(_size(item) for item in items)
    if size > MAX_VALUE:
        raise _too_large("join")
    result = sync_do_join(context.eval_ctx, items, d, attribute)
    if len(result) > MAX_VALUE:
        raise _too_large("join")
    budget.make(len(result))
    return result


@pass_context
def _format(context: Context, value: Any, *args: Any, **kwargs: Any) -> str:
    budget = _budget(context)
    budget.step()
    problem = _printf_problem(str(value))
    if problem:
        raise TemplateError(problem)
    result = do_format(value, *args, **kwargs)
    if len(result) > MAX_VALUE:
        raise _too_large("format")
    budget.make(len(result))
    return result


def _batch(value: Iterable[Any], linecount: int, fill_with: Any = None) -> Iterator[list[Any]]:
    if fill_with is not None and isinstance(linecount, int) and linecount > MAX_RANGE:
        raise TemplateError(f"batch of {linecount:,} is over the limit of {MAX_RANGE:,}")
    return do_batch(value, linecount, fill_with)


def _slice(value: Any, slices: int, fill_with: Any = None) -> Iterator[list[Any]]:
    if isinstance(slices, int) and slices > MAX_RANGE:
        raise TemplateError(f"slice into {slices:,} is over the limit of {MAX_RANGE:,}")
    return sync_do_slice(value, slices, fill_with)


@pass_context
def _groupby(
    context: Context, value: Iterable[Any], attribute: str | int, default: Any = None, case_sensitive: bool = False
) -> list[Any]:
    """Jinja's `groupby`; a `default` stands in (and is lower-cased, a copy each time) for every item lacking it."""
    budget = _budget(context)
    budget.step()
    items = list(_counted(value, budget.step))
    if default is not None:
        budget.make(_size(default) * len(items))
    return sync_do_groupby(context.environment, items, attribute, default, case_sensitive)


@pass_context
def _urlize(
    context: Context,
    value: Any,
    trim_url_limit: int | None = None,
    nofollow: bool = False,
    target: str | None = None,
    rel: str | None = None,
    extra_schemes: Iterable[str] | None = None,
) -> str:
    """Jinja's `urlize`; `target` and `rel` are written into every link, so they count once per word like a link."""
    budget = _budget(context)
    budget.step()
    text = str(value)
    links = [word for word in text.split() if "." in word or "@" in word or ":" in word]
    extra = len(str(target or "")) + len(str(rel or "")) + 60
    if len(text) + sum(len(word) + extra for word in links) > MAX_VALUE:
        raise _too_large("urlize")
    result = do_urlize(context.eval_ctx, value, trim_url_limit, nofollow, target, rel, extra_schemes)
    budget.make(len(result))
    return result


def _bounded_dumps(value: Any, **kwargs: Any) -> str:
    """`json.dumps` for `tojson`, a chunk at a time, stopping past the limit (an indent repeats on every line)."""
    indent = kwargs.get("indent")
    width = len(indent) if isinstance(indent, str) else indent if isinstance(indent, int) else 0
    if width > MAX_JSON_INDENT:
        raise TemplateError(f"tojson: an indent over {MAX_JSON_INDENT} is not allowed")
    parts, size = [], 0
    for chunk in json.JSONEncoder(**kwargs).iterencode(value):
        size += len(chunk)
        if size > MAX_VALUE:
            raise _too_large("tojson")
        parts.append(chunk)
    return "".join(parts)


_BOUNDED_FILTERS: dict[str, Callable[..., Any]] = {
    "urlize": _urlize,
    "groupby": _groupby,
    "center": _center,
    "indent": _indent,
    "wordwrap": _wordwrap,
    "replace": _replace,
    "join": _join,
    "format": _format,
    "batch": _batch,
    "slice": _slice,
}


# --- what `_Guard` inserts ------------------------------------------------------------------------


@pass_context
def _loop(context: Context, iterable: Iterable[Any]) -> Iterator[Any]:
    """Around every `{% for %}`: each iteration is a step."""
    return _counted(iterable, _budget(context).step)


@pass_context
def _out(context: Context, value: Any) -> Any:
    """Around `{{ ... }}` inside loops, macros and call blocks: what they write is made text."""
    size = len(value) if isinstance(value, str) else _size(value)
    if size > MAX_VALUE:
        raise _too_large("an output")
    _budget(context).make(size)
    return value


@pass_context
def _concat(context: Context, items: list[Any]) -> str:
    """`a ~ b`, measured before it is joined."""
    size = sum(len(item) if isinstance(item, str) else _size(item) for item in items)
    if size > MAX_VALUE:
        raise _too_large("~")
    _budget(context).make(size)
    return (markup_join if context.eval_ctx.autoescape else str_join)(items)


def _value(value: Any) -> Any:
    """Around list, tuple and dict literals (which may hold other large values, each time they appear)."""
    return _checked(value, "a list or mapping")


_GUARD_FILTERS: dict[str, Callable[..., Any]] = {
    "_journeys_loop": _loop,
    "_journeys_out": _out,
    "_journeys_concat": _concat,
    "_journeys_value": _value,
}


def _wrap(node: nodes.Expr, name: str) -> nodes.Filter:
    return nodes.Filter(node, name, [], [], None, None, lineno=node.lineno)


class _Guard(NodeTransformer):
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


# --- the sandbox ----------------------------------------------------------------------------------


class _Sandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox with the bounds described in this module's docstring."""

    intercepted_binops = frozenset({"*", "**", "%", "+"})
    concat = staticmethod(_bounded_concat)  # type: ignore[assignment]

    def __init__(self, autoescape: bool) -> None:
        super().__init__(undefined=StrictUndefined, autoescape=autoescape, keep_trailing_newline=False)
        self.globals["range"] = _bounded_range
        self.globals["lipsum"] = _lipsum
        self.filters.update(_COUNTING_FILTERS)
        self.filters.update(_BOUNDED_FILTERS)
        self.filters.update(_GUARD_FILTERS)
        self.policies["json.dumps_function"] = _bounded_dumps

    def make_globals(self, d: Mapping[str, Any] | None) -> dict[str, Any]:  # type: ignore[override]
        """A template's globals as a plain dict, not Jinja's ChainMap: the globals never change after start-up, and
        copying a ChainMap into every render's context took half the time of rendering a short template."""
        return {**self.globals, **(d or {})}

    def _generate(
        self, source: nodes.Template, name: str | None, filename: str | None, defer_init: bool = False
    ) -> str:
        source = _Guard().visit(source)
        source.set_environment(self)
        return super()._generate(source, name, filename, defer_init)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        both_ints = isinstance(left, int) and isinstance(right, int)
        if operator == "*":
            for seq, count in ((left, right), (right, left)):
                if isinstance(seq, str | bytes | list | tuple) and isinstance(count, int) and count > 1:
                    if _size(seq, MAX_VALUE // count + 1) * count > MAX_VALUE:
                        raise TemplateError(f"repetition would be over the limit of {MAX_VALUE:,} characters")
            if both_ints and left.bit_length() + right.bit_length() > MAX_INT_BITS:
                raise TemplateError(f"the product is over the limit of {MAX_INT_BITS:,} bits")
        elif operator == "**":
            if isinstance(right, int) and right > MAX_EXPONENT:
                raise TemplateError(f"exponent is over the limit of {MAX_EXPONENT}")
            if both_ints and right > 0 and left.bit_length() * right > MAX_INT_BITS:
                raise TemplateError(f"the power is over the limit of {MAX_INT_BITS:,} bits")
        elif operator == "%" and isinstance(left, str):
            problem = _printf_problem(left)
            if problem:
                raise TemplateError(problem)
        result = super().call_binop(context, operator, left, right)
        if isinstance(result, str | bytes):
            if len(result) > MAX_VALUE:
                raise _too_large(f"the result of {operator}")
            _budget(context).make(len(result))
        elif isinstance(result, list | tuple):
            _checked(result, f"the result of {operator}")
        return result

    def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        budget = _budget(context)
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
                raise _too_large("the result of a call")
            budget.make(len(result))
        elif isinstance(result, list | tuple | dict | Namespace):
            _checked(result, "the result of a call")
        return result


TEXT_ENV = _Sandbox(autoescape=False)
HTML_ENV = _Sandbox(autoescape=True)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, MemoryError):
        return "out of memory"
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    return str(exc) or type(exc).__name__


# --- static checks --------------------------------------------------------------------------------


def _refused_attribute(name: str) -> bool:
    return name.startswith("_") or is_internal_attribute(object, name) or name in {"mro", "format", "format_map"}


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


def _macro_recursion(tree: nodes.Node) -> list[str]:
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
        problem = _printf_problem(fmt)
        return [problem] if problem else []
    return []


def _static_bounds(tree: nodes.Node) -> list[str]:
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
        if isinstance(fmt, str) and (problem := _printf_problem(fmt)):
            problems.append(problem)
    for flt in tree.find_all(nodes.Filter):
        problems += _filter_bounds(flt)
    _nested_loops(tree, 1, problems)
    return problems


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
    return problems + _macro_recursion(tree) + _static_bounds(tree)


def _compile_problem(compile_it: Callable[[], Any]) -> list[str]:
    """Compile what passed the checks (Python refuses, for one, blocks nested over 20 deep)."""
    try:
        compile_it()
    except TemplateSyntaxError as exc:
        return [f"template does not compile (line {exc.lineno}): {exc.message}"]
    except Exception as exc:  # SyntaxError, RecursionError, MemoryError from Python's compiler
        return [f"template does not compile: {_reason(exc)}"]
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


# --- rendering ------------------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def _compiled_expression(source: str) -> Any:
    return TEXT_ENV.compile_expression(source, undefined_to_none=False)


@lru_cache(maxsize=4096)
def _compiled_template(source: str, html: bool) -> Any:
    return (HTML_ENV if html else TEXT_ENV).from_string(source)


def evaluate(source: str, context: Mapping[str, Any]) -> Any:
    """Evaluate an expression for one customer; any failure is a `TemplateError`."""
    try:
        return _compiled_expression(source)(**context)
    except TemplateError:
        raise
    except Exception as exc:  # the sandbox, undefined names and the user's own code all raise here
        raise TemplateError(f"{source!r}: {_reason(exc)}") from None


def render(source: str, context: Mapping[str, Any], html: bool = False) -> str:
    """Render a template string for one customer (HTML-escaped when `html`)."""
    try:
        text = _compiled_template(source, html).render(**context)
    except TemplateError:
        raise
    except Exception as exc:
        raise TemplateError(_reason(exc)) from None
    if len(text) > MAX_OUTPUT:
        raise TemplateError(f"rendered text is {len(text)} characters, over the limit of {MAX_OUTPUT}")
    return text


def render_value(value: Any, context: Mapping[str, Any]) -> Any:
    """Render every string inside a mapping/list (webhook bodies, `update.set` values), `MAX_MESSAGE` in all."""
    left = [MAX_MESSAGE]

    def walk(item: Any) -> Any:
        if isinstance(item, str):
            text = render(item, context)
            left[0] -= len(text)
            if left[0] < 0:
                raise TemplateError(f"rendered values are over the limit of {MAX_MESSAGE:,} characters in all")
            return text
        if isinstance(item, Mapping):
            return {k: walk(v) for k, v in item.items()}
        if isinstance(item, list):
            return [walk(v) for v in item]
        return item

    return walk(value)


def literal(value: str) -> Any:
    """A rendered `update.set` value read back as a number/bool (or list, mapping) when it looks like one.

    Whatever a customer's data makes the text say, the result is plain JSON data or the text itself: a value
    Python's parser chokes on (`1+1+…`, `{{}}`), or one JSON cannot hold (`1e999`, `1j`, `{1}`), stays text."""
    if len(value) > MAX_LITERAL:
        return value
    try:
        result = ast.literal_eval(value)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return value
    return result if _is_json(result, 0) else value


def _is_json(value: Any, depth: int) -> bool:
    if depth > 20:
        return False
    if value is None or isinstance(value, bool | str):
        return True
    if isinstance(value, int):
        return abs(value) <= 2**63 - 1
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list | tuple):
        return all(_is_json(item, depth + 1) for item in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_json(v, depth + 1) for k, v in value.items())
    return False


def is_rtl(locale: str | None) -> bool:
    return bool(locale) and locale.replace("_", "-").split("-")[0].lower() in RTL_LANGUAGES


# --- template files -------------------------------------------------------------------------------


def locale_chain(locale: str | None) -> list[str | None]:
    """`fa-IR` → [`fa-IR`, `fa`, None]: the order in which template files are tried."""
    chain: list[str | None] = []
    if locale:
        locale = locale.replace("_", "-")
        chain.append(locale)
        language = locale.split("-")[0]
        if language != locale:
            chain.append(language)
    chain.append(None)
    return chain


class TemplateFiles:
    """Finds template files under a templates folder (see this module's docstring)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._cache: dict[tuple[str, str, str | None], Path | None] = {}

    def path(self, name: str, channel: str, locale: str | None = None) -> Path:
        middle = f".{locale}" if locale else ""
        return self.root / f"{name}{middle}.{channel}.yaml"

    def find(self, name: str, channel: str, locale: str | None = None) -> Path | None:
        """The file used for a customer with this locale, or None when there is none at all."""
        key = (name, channel, locale)
        if key not in self._cache:
            self._cache[key] = next(
                (p for loc in locale_chain(locale) if (p := self.path(name, channel, loc)).is_file()), None
            )
        return self._cache[key]

    def variants(self, name: str, channel: str) -> list[Path]:
        """Every file of this template for this channel (the fallback and each locale)."""
        if ".." in Path(name).parts or Path(name).is_absolute():
            return []
        folder = (self.root / name).parent
        stem = Path(name).name
        if not folder.is_dir():
            return []
        return sorted(p for p in folder.glob(f"{stem}.*{channel}.yaml") if p.name.split(".")[0] == stem and p.is_file())
