"""What the bare baseline did in this process, counted where a benchmark can wait on it. A module of its own,
passed through the sandbox, so a sandboxed `Bare` counts into the same place as its activity."""

from __future__ import annotations

import asyncio
import time


class Ran:
    """No-op activities completed (so a benchmark knows all bare runs wait)."""

    count = 0


class Nudged:
    """`nudge` signals taken in by a bare workflow (not counted again when a run is replayed), so a benchmark
    knows when the signals it sent have all been handled."""

    count = 0


async def reached(tally: type[Ran] | type[Nudged], target: int, deadline: float, what: str, every: float) -> None:
    """Until `tally.count` reaches `target`, asked every `every` s; past `deadline` (`time.perf_counter`), a
    TimeoutError saying how many are missing, then `what`."""
    while tally.count < target:
        if time.perf_counter() > deadline:
            raise TimeoutError(f"{target - tally.count} {what}")
        await asyncio.sleep(every)
