"""Jinja's filters with bounds: those that go through items count each as a step, those that build text
measure it before building it."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from jinja2 import pass_context
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
from jinja2.runtime import Context

from journeys.templates.budget import budget_of, counted
from journeys.templates.limits import MAX_JSON_INDENT, MAX_RANGE, MAX_VALUE, TemplateError
from journeys.templates.sizes import check_width, printf_problem, size_of, too_large


def _counting(go: Callable[..., Any]) -> Callable[..., Any]:
    """A filter that goes through its input item by item (`map`, `sort`, ...), with each item a step."""

    @pass_context
    def bounded(context: Context, value: Any, *args: Any, **kwargs: Any) -> Any:
        return go(context, counted(value, budget_of(context).step), *args, **kwargs)

    return bounded


COUNTING_FILTERS: dict[str, Callable[..., Any]] = {
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
    budget = budget_of(context)
    budget.step()
    check_width(width, "center")
    result = do_center(value, width)
    budget.make(len(result))
    return result


@pass_context
def _indent(context: Context, s: Any, width: int | str = 4, first: bool = False, blank: bool = False) -> str:
    budget = budget_of(context)
    budget.step()
    pad = len(width) if isinstance(width, str) else width
    text = str(s)
    if isinstance(pad, int) and len(text) + (text.count("\n") + 1) * pad > MAX_VALUE:
        raise too_large("indent")
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
    budget = budget_of(context)
    budget.step()
    if wrapstring is None:
        wrapstring = context.environment.newline_sequence
    if break_long_words and isinstance(width, int) and width > 0 and isinstance(s, str):
        letters = len("".join(s.split()))  # each line holds at most `width` of them
        if letters + (letters // width - 1) * len(wrapstring) > MAX_VALUE:  # known before wrapping, which is slow
            raise too_large("wordwrap")
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
        raise too_large("wordwrap")
    result = wrapstring.join([wrapstring.join(lines) for lines in paragraphs])
    budget.make(len(result))
    return result


@pass_context
def _replace(context: Context, s: Any, old: Any, new: Any, count: int | None = None) -> str:
    budget = budget_of(context)
    budget.step()
    text, old_text, new_text = str(s), str(old), str(new)
    hits = text.count(old_text) if old_text else len(text) + 1
    if isinstance(count, int) and count >= 0:
        hits = min(hits, count)
    if len(text) + hits * (len(new_text) - len(old_text)) > MAX_VALUE:
        raise too_large("replace")
    result = do_replace(context.eval_ctx, s, old, new, count)
    budget.make(len(result))
    return result


@pass_context
def _join(context: Context, value: Iterable[Any], d: str = "", attribute: str | int | None = None) -> str:
    budget = budget_of(context)
    items = value if isinstance(value, list) else list(counted(value, budget.step))
    budget.step(len(items) if items is value else 1)
    size = len(str(d)) * max(len(items) - 1, 0)
    if attribute is None:
        size += sum(size_of(item) for item in items)
    if size > MAX_VALUE:
        raise too_large("join")
    result = sync_do_join(context.eval_ctx, items, d, attribute)
    if len(result) > MAX_VALUE:
        raise too_large("join")
    budget.make(len(result))
    return result


@pass_context
def _format(context: Context, value: Any, *args: Any, **kwargs: Any) -> str:
    budget = budget_of(context)
    budget.step()
    problem = printf_problem(str(value))
    if problem:
        raise TemplateError(problem)
    result = do_format(value, *args, **kwargs)
    if len(result) > MAX_VALUE:
        raise too_large("format")
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
    budget = budget_of(context)
    budget.step()
    items = list(counted(value, budget.step))
    if default is not None:
        budget.make(size_of(default) * len(items))
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
    budget = budget_of(context)
    budget.step()
    text = str(value)
    links = [word for word in text.split() if "." in word or "@" in word or ":" in word]
    extra = len(str(target or "")) + len(str(rel or "")) + 60
    if len(text) + sum(len(word) + extra for word in links) > MAX_VALUE:
        raise too_large("urlize")
    result = do_urlize(context.eval_ctx, value, trim_url_limit, nofollow, target, rel, extra_schemes)
    budget.make(len(result))
    return result


def bounded_dumps(value: Any, **kwargs: Any) -> str:
    """`json.dumps` for `tojson`, a chunk at a time, stopping past the limit (an indent repeats on every line)."""
    indent = kwargs.get("indent")
    width = len(indent) if isinstance(indent, str) else indent if isinstance(indent, int) else 0
    if width > MAX_JSON_INDENT:
        raise TemplateError(f"tojson: an indent over {MAX_JSON_INDENT} is not allowed")
    parts, size = [], 0
    for chunk in json.JSONEncoder(**kwargs).iterencode(value):
        size += len(chunk)
        if size > MAX_VALUE:
            raise too_large("tojson")
        parts.append(chunk)
    return "".join(parts)


BOUNDED_FILTERS: dict[str, Callable[..., Any]] = {
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
