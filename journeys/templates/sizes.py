"""How large a value a template makes is, and the refusal of one past `MAX_VALUE` characters (as a value,
a width or a `%` format's width)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from jinja2.runtime import Namespace

from journeys.templates.limits import MAX_VALUE, TemplateError

_PRINTF = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")


def size_of(value: Any, limit: int = MAX_VALUE) -> int:
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


def too_large(what: str) -> TemplateError:
    return TemplateError(f"{what} would be over the limit of {MAX_VALUE:,} characters")


def checked(value: Any, what: str) -> Any:
    if size_of(value) > MAX_VALUE:
        raise too_large(what)
    return value


def check_width(width: Any, what: str) -> None:
    if isinstance(width, int) and width > MAX_VALUE:
        raise TemplateError(f"{what}: width {width:,} is over the limit of {MAX_VALUE:,} characters")


@lru_cache(maxsize=1024)
def printf_problem(fmt: str) -> str | None:
    """What is wrong with a `%` format string: a width or precision over the limit, or one given by `*`."""
    for match in _PRINTF.finditer(fmt):
        for number in match.groups():
            if number == "*":
                return "a * width in a % format is not allowed"
            if number and (len(number) > 9 or int(number) > MAX_VALUE):
                return f"width {number} in a % format is over the limit of {MAX_VALUE:,} characters"
    return None
