"""Rendering for one customer: expressions, templates, whole values (webhook bodies), and reading a rendered
`update.set` value back as data; and which way a locale's text runs."""

from __future__ import annotations

import ast
import math
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from journeys.templates.limits import MAX_LITERAL, MAX_MESSAGE, MAX_OUTPUT, TemplateError
from journeys.templates.sandbox import HTML_ENV, TEXT_ENV, reason

RTL_LANGUAGES = frozenset({"ar", "fa", "he", "ku", "ps", "sd", "ug", "ur", "yi", "dv"})


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
        raise TemplateError(f"{source!r}: {reason(exc)}") from None


def render(source: str, context: Mapping[str, Any], html: bool = False) -> str:
    """Render a template string for one customer (HTML-escaped when `html`)."""
    try:
        text = _compiled_template(source, html).render(**context)
    except TemplateError:
        raise
    except Exception as exc:
        raise TemplateError(reason(exc)) from None
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
    """Whether text in `locale` runs right to left (`fa-IR`, `ar`)."""
    return bool(locale) and locale.replace("_", "-").split("-")[0].lower() in RTL_LANGUAGES
