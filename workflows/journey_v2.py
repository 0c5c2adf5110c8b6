"""The journey workflow as runs are enrolled now: the same code as `Journey`, under a type of its own because
these runs carry the workflow changes they were enrolled with (`RunInput.patches`) and take those paths
without a patch marker. A worker older than this type cannot take them; one that has it but lacks a run's
change fails the task, and a newer worker takes the run."""

from __future__ import annotations

from temporalio import workflow

from journeys.workflows.journey import JourneyWorkflow  # re-imported by the sandbox, as this module is

with workflow.unsafe.imports_passed_through():
    from journeys.engine.runs import RUN_TYPE, RunInput, RunStatus


@workflow.defn(name=RUN_TYPE)
class JourneyV2Workflow(JourneyWorkflow):
    @workflow.run
    async def run(self, input: RunInput) -> RunStatus:
        return await super().run(input)
