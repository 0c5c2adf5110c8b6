"""The baselines of the runtime figures: the tiniest workflow Temporal can run, on the same server.

`Bare` runs one no-op activity and, when asked to, then waits for a `finish` signal (a `nudge` signal is
taken in and changes nothing: the baseline of an event that a waiting run ignores). Its figures say what
the server, the SDK and this machine cost on their own, so a journey figure divided by its baseline is
what journeys itself adds.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import Worker

with workflow.unsafe.imports_passed_through():  # this module holds a workflow: the sandbox re-imports it per run
    from bench.tally import Nudged, Ran
    from journeys.runtime.temporal import workflow_runner, write_bytecode

TASK_QUEUE = "bench-bare"


@activity.defn(name="bench_noop")
async def noop() -> None:
    """Does nothing (but count): the cost of scheduling, running and completing one activity."""
    Ran.count += 1


@workflow.defn(name="BenchBare")
class Bare:
    def __init__(self) -> None:
        self.finished = False

    @workflow.signal
    def finish(self) -> None:
        self.finished = True

    @workflow.signal
    def nudge(self) -> None:
        """Taken in, changes nothing (but the count)."""
        if not workflow.unsafe.is_replaying():
            Nudged.count += 1

    @workflow.run
    async def run(self, wait: bool) -> None:
        await workflow.execute_activity(noop, start_to_close_timeout=timedelta(seconds=30))
        if wait:
            await workflow.wait_condition(lambda: self.finished)


def bare_worker(client: Client, cached: int, sandboxed: bool) -> Worker:
    """A worker for `Bare`, in or out of the sandbox as the journey worker is, caching as many runs (and, in
    the sandbox, its bytecode written, as the journey worker's is)."""
    if sandboxed:
        write_bytecode(Bare)
    return Worker(
        client,
        task_queue=TASK_QUEUE,
        workflows=[Bare],
        activities=[noop],
        workflow_runner=workflow_runner(sandboxed),
        max_cached_workflows=cached,
    )


async def start_bare(client: Client, workflow_id: str, *, wait: bool) -> None:
    await client.start_workflow(Bare.run, wait, id=workflow_id, task_queue=TASK_QUEUE)
