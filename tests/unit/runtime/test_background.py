"""The background loops beside a worker: each job runs again and again, a failing pass does not stop its loop
(nor the others), and leaving the block stops every loop, also one in the middle of a pass."""

from __future__ import annotations

import asyncio

from journeys.runtime.background import background


async def test_loops_go_on_after_a_failing_pass_and_stop_when_the_block_ends() -> None:
    passes = {"steady": 0, "flaky": 0}
    stopped_in_a_pass = asyncio.Event()

    async def steady() -> None:
        passes["steady"] += 1

    async def flaky() -> None:
        passes["flaky"] += 1
        if passes["flaky"] == 1:
            raise RuntimeError("the store did not answer")  # logged; tried again at the next interval
        try:
            await asyncio.sleep(3600)  # a long pass, under way when the worker stops
        except asyncio.CancelledError:
            stopped_in_a_pass.set()
            raise

    async with background({"steady": steady, "flaky": flaky}, interval=0.01) as tasks:
        while passes["steady"] < 5 or passes["flaky"] < 2:
            await asyncio.sleep(0.01)

    assert stopped_in_a_pass.is_set()
    assert all(task.done() for task in tasks)
    count = passes["steady"]
    await asyncio.sleep(0.05)
    assert passes["steady"] == count  # nothing runs after the block
