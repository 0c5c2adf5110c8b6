"""Waiting for a state with a deadline, never for a guessed number of seconds.

`until` polls from a thread of its own (processes, servers in other threads); `eventually` from a coroutine, so
that the workers and servers on the same event loop go on running while it waits.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


def _timed_out(timeout: float, what: str, seen: Callable[[], object] | None) -> AssertionError:
    return AssertionError(f"timed out after {timeout:g} s waiting for {what}" + (f"; seen: {seen()}" if seen else ""))


def until(
    check: Callable[[], T], timeout: float, what: str, seen: Callable[[], object] | None = None, every: float = 0.1
) -> T:
    """Poll `check` until it returns something truthy, and return that; after `timeout` seconds fail, naming
    `what` was awaited and what was `seen` instead."""
    deadline = time.monotonic() + timeout
    while not (value := check()):
        if time.monotonic() > deadline:
            raise _timed_out(timeout, what, seen)
        time.sleep(every)
    return value


async def eventually(
    check: Callable[[], T | Awaitable[T]],
    timeout: float,
    what: str,
    seen: Callable[[], object] | None = None,
    every: float = 0.05,
) -> T:
    """`until` for coroutines: the event loop runs on between the polls; `check` may be a coroutine function."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value  # type: ignore[return-value]
        if time.monotonic() > deadline:
            raise _timed_out(timeout, what, seen)
        await asyncio.sleep(every)
