"""The bounds every template render keeps, and the error a template fails with (see the package docstring)."""

from __future__ import annotations

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


class TemplateError(JourneysError):
    """A template or expression failed to render for one customer."""
