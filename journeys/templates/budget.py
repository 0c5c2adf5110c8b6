"""What one render may still do: steps, characters made, call depth and, when a caller hands in a clock,
time. The limits are read from `limits` at each render, so a test may lower them there."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from jinja2.runtime import Context

from journeys.templates import limits
from journeys.templates.limits import TemplateError

_BUDGET = "journeys budget"  # key of the render's budget among its variables: a name no template can write


class Budget:
    """What one render may still do; made on first use and kept among the render's variables."""

    __slots__ = ("steps", "made", "depth", "clock", "deadline")

    def __init__(self) -> None:
        self.steps = limits.MAX_STEPS
        self.made = limits.MAX_MADE
        self.depth = 0
        self.clock = _clock.get()
        self.deadline = self.clock() + limits.MAX_SECONDS if self.clock is not None else math.inf

    def step(self, count: int = 1) -> None:
        self.steps -= count
        if self.steps < 0:
            raise TemplateError(f"the template runs over {limits.MAX_STEPS:,} loop iterations and calls")
        if self.clock is not None and self.clock() > self.deadline:
            raise TemplateError(f"the template takes over {limits.MAX_SECONDS:g} s to render")

    def make(self, size: int) -> None:
        self.made -= size
        if self.made < 0:
            raise TemplateError(f"the template makes over {limits.MAX_MADE:,} characters of text")


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


def budget_of(context: Context) -> Budget:
    """The budget of the render `context` belongs to."""
    budget = context.parent.get(_BUDGET)
    if budget is None:
        budget = context.parent[_BUDGET] = Budget()
    return budget


def counted(iterable: Iterable[Any], step: Callable[[], None]) -> Iterator[Any]:
    """`iterable`, one step per item: loops and filters that go through items are counted and timed."""
    for item in iterable:
        step()
        yield item
