"""One customer's run of one journey: a thin, deterministic driver of `journeys.engine.interpreter`.

The interpreter decides; this class only performs: activities for every side effect, durable timers for
waits, an update handler through which events arrive (so `journeys signal` returns once the run has
taken the event in), queries for status, and continue-as-new before the history grows large.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError
from temporalio.workflow import ActivityCancellationType

with workflow.unsafe.imports_passed_through():
    from journeys.engine import interpreter as engine
    from journeys.engine.interpreter import RunState
    from journeys.engine.runs import (
        LOCAL_STORE,
        PATCHES,
        QUIET_IGNORED,
        Change,
        MigrateRequest,
        MoveRequest,
        ProfileUpdate,
        Progress,
        RunInput,
        RunStatus,
        SendOutcome,
        SendRequest,
        Snapshot,
        StepEntry,
        send_queue,
    )
    from journeys.format.customers import Event
    from journeys.format.models import Journey, SendStep
    from journeys.templates import TemplateError, literal, render_value

STORE_TIMEOUT = timedelta(seconds=30)
# A snapshot handed to the run (by enrolment, by its last send) stands in for a store read while this fresh;
# sends check caps and consent again as they go out, so a few seconds' age only matters to branch conditions.
CARRIED_FRESH = timedelta(seconds=10)
SEND_TIMEOUT = timedelta(minutes=1)  # a worker that died mid-send is noticed after this; channels time out first
RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), backoff_coefficient=2, maximum_interval=timedelta(minutes=5))
SEND_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    backoff_coefficient=2,
    maximum_interval=timedelta(minutes=10),
    maximum_attempts=20,
)


@workflow.defn(name="Journey")
class JourneyWorkflow:
    def __init__(self) -> None:
        self.input: RunInput | None = None
        self.state: RunState | None = None
        self.waiting: engine.Wait | None = None
        self.woken = False
        self.entries: list[StepEntry] = []
        self.last_step: str | None = None
        self.logged = 0  # steps entered so far in this run (across continue-as-new): each entry's number
        self.simulated_now: datetime | None = None  # simulation: the moment the run was last woken for
        self.carried: Snapshot | None = None  # handed over by enrolment or the last send; an event voids it

    # --- handlers ---------------------------------------------------------------------------------

    @workflow.update
    async def deliver(self, event: Event) -> str:
        """Take an event in; returns the effect: exited, advanced or ignored."""
        await workflow.wait_condition(lambda: self.state is not None)
        assert self.input is not None and self.state is not None
        if self.input.simulated:
            self.simulated_now = event.at
        effect = engine.receive(self.input.journey, self.state, event, self._now())
        if effect == "ignored" and not self._history_is_long() and self._patched(QUIET_IGNORED):
            # nothing to decide again: the wait goes on (a send deciding later reads the customer afresh)
            self.carried = None
        else:
            self._wake()
        return effect

    @workflow.update
    async def cancel(self, reason: str) -> str:
        await workflow.wait_condition(lambda: self.state is not None)
        assert self.state is not None
        was_live = self.state.live
        engine.cancel(self.state, self._now())
        self._wake()
        return "cancelled" if was_live else "ignored"

    @workflow.update
    async def move(self, request: MoveRequest) -> Change:
        """Support staff put the run at a step now (the CLI records who and why)."""
        state, journey = await self._settled()
        change = Change(
            from_step=state.step, to_step=request.to_step, from_version=state.version, to_version=state.version
        )
        self._log(engine.move(journey, state, request.to_step, self._now()))
        self._wake()
        return change

    @move.validator
    def _validate_move(self, request: MoveRequest) -> None:
        assert self.input is not None
        if request.to_step not in {s.id for s in self.input.journey.steps}:
            raise ValueError(f"journey {self.input.journey.id} has no step {request.to_step!r}")
        if self.state is not None and not self.state.live:
            raise ValueError("the run is no longer live")

    @workflow.update
    async def migrate(self, request: MigrateRequest) -> Change:
        """Move the run onto another version of its journey (see `interpreter.migrate`)."""
        state, journey = await self._settled()
        assert self.input is not None
        change = Change(
            from_step=state.step, to_step=None, from_version=state.version, to_version=request.journey.version
        )
        change.to_step = engine.migrate(journey, request.journey, state, request.step_map, self._now(), request.missed)
        self.input = self.input.model_copy(
            update={"journey": request.journey, "templates": request.templates, "definition": None}
        )
        self._wake()
        return change

    @migrate.validator
    def _validate_migrate(self, request: MigrateRequest) -> None:
        if self.state is None or not self.state.live or self.state.step is None:
            raise ValueError("the run is no longer live")
        target = request.step_map.get(self.state.step, self.state.step)
        if target not in {s.id for s in request.journey.steps}:
            raise ValueError(f"step {self.state.step!r} is not mapped onto a step of version {request.journey.version}")

    @workflow.update
    async def resume(self) -> str:
        """The journey was resumed: a send held while it was paused may go now."""
        self._wake()
        return "resumed"

    @workflow.query
    def status(self) -> RunStatus:
        assert self.input is not None
        state = self.state
        waiting = self.waiting if state is not None and state.live else None
        return RunStatus(
            journey=self.input.journey.id,
            version=self.input.journey.version,
            customer_id=self.input.customer_id,
            outcome=state.outcome or "running" if state else "running",
            current_step=state.step if state and state.live else None,
            waiting_for=waiting.events if waiting else [],
            until=waiting.until if waiting else None,
            exit_event=state.exit_event if state else None,
            end_label=state.end_label if state else None,
            idle=waiting is not None or (state is not None and not state.live),
        )

    # --- the run ----------------------------------------------------------------------------------

    @workflow.run
    async def run(self, input: RunInput) -> RunStatus:
        if unknown := [change for change in input.patches if change not in PATCHES]:
            # enrolled by newer code during a rolling deploy: fail the task, a worker with that code takes it
            raise RuntimeError(f"this worker's workflow code predates the run's changes {unknown}: upgrade it")
        self.input = input
        self.simulated_now = input.simulated_start
        self.carried = input.snapshot
        if input.state is None:
            state, entered = engine.start(input.journey, input.customer_id, self._now(), input.trigger)
            for event in input.missed:
                engine.receive(input.journey, state, event, self._now())
            self.state = state
            self._log(entered)
        else:
            self.state = state = input.state
            self.last_step = input.step_before
            self.logged = input.steps_before
        while state.live:
            self.woken = False  # an event from here on must wake the wait below, even one during an activity
            try:
                snapshot = self._carried() or await self._snapshot()
            except ActivityError as exc:  # the customer is gone from the store: nothing sensible is left to do
                engine.fail(state, self._now(), f"cannot read the customer: {exc.cause or exc}")
                break
            journey = self.input.journey  # a migration may have changed it
            # Jinja2 takes a lock in its caches; evaluation is pure, and bounded by counts, not by the clock
            with workflow.unsafe.sandbox_unrestricted():
                decision = engine.advance(
                    journey, state, snapshot.customer, self._now(), snapshot.ledger, paused=snapshot.paused
                )
            self._log(decision.entered)
            command = decision.command
            if isinstance(command, engine.Send):
                outcome = await self._send(command, snapshot)
                self.carried = None if self.woken else outcome.snapshot  # an event during the send voids it
                if outcome.event is not None:  # e.g. opted_out: it may end this run (exit_on) like any event
                    engine.receive(journey, state, outcome.event, self._now())
                if outcome.status == "deferred":  # nothing went out: the interpreter says how long to hold
                    hold = engine.defer(state, outcome.until, outcome.why)
                    if hold is not None:
                        await self._hold(hold)
                else:
                    self._log(engine.complete(journey, state, outcome.status, self._now()))
            elif isinstance(command, engine.ApplyUpdate):
                await self._update(command, snapshot)
                self._log(engine.complete(journey, state, "done", self._now()))
            elif isinstance(command, engine.Wait):
                self.waiting = command  # recorded: status and report read where the run waits, until when
                await self._record()
                await self._hold(command)
                if state.live and self._history_is_long():
                    await workflow.wait_condition(workflow.all_handlers_finished)
                    workflow.continue_as_new(
                        self.input.model_copy(
                            update={
                                "state": state,
                                "trigger": None,
                                "snapshot": None,
                                "step_before": self.last_step,
                                "steps_before": self.logged,
                                "simulated_start": self.simulated_now,
                            }
                        )
                    )
        await workflow.wait_condition(workflow.all_handlers_finished)
        await self._record()
        return self.status()

    # --- helpers ----------------------------------------------------------------------------------

    async def _settled(self) -> tuple[RunState, Journey]:
        """The run's state once no send or update is half done (a change must not land in the middle)."""
        await workflow.wait_condition(lambda: self.state is not None and self.state.pending is None)
        assert self.input is not None and self.state is not None
        return self.state, self.input.journey

    async def _hold(self, wait: engine.Wait) -> None:
        """Wait as the interpreter said: until its time, or until an event wakes the run."""
        self.waiting = wait
        await self._sleep_until(wait.until)
        self.waiting = None

    def _wake(self) -> None:
        """Let the run loop look again; until it waits again it is busy (the status query says so)."""
        self.woken = True
        self.waiting = None
        self.carried = None  # the event may have changed the customer: read them again

    def _carried(self) -> Snapshot | None:
        """The snapshot handed to the run, once, if fresh (from history: a replay decides alike)."""
        carried, self.carried = self.carried, None
        if carried is None or carried.read_at is None or self.input is None or self.input.simulated:
            return None
        return carried if workflow.now() - carried.read_at <= CARRIED_FRESH else None

    def _patched(self, change: str) -> bool:
        """Whether the run takes a guarded change's path: one enrolled with it does, without a marker (see
        `PATCHES`); an older run asks Temporal, as it always did."""
        assert self.input is not None
        return change in self.input.patches or workflow.patched(change)

    def _history_is_long(self) -> bool:
        assert self.input is not None
        info = workflow.info()
        return info.is_continue_as_new_suggested() or info.get_current_history_length() >= self.input.history_limit

    def _now(self) -> datetime:
        """The time decisions are made at: the workflow's clock, or in simulation the moment woken for."""
        if self.simulated_now is not None:
            return self.simulated_now
        return workflow.now()

    def _log(self, entered: list[str]) -> None:
        for step in entered:
            self.logged += 1
            self.entries.append(StepEntry(step=step, from_step=self.last_step, at=self._now(), seq=self.logged))
            self.last_step = step

    async def _sleep_until(self, until: datetime | None) -> None:
        """Until `until` or until an event arrives (any event: exit_on ends the run from the handler)."""
        assert self.input is not None
        timeout = until - (workflow.now() + self.input.clock_offset) if until is not None else None
        if timeout is None or timeout > timedelta(0):
            try:
                await workflow.wait_condition(lambda: self.woken, timeout=timeout)
                return
            except asyncio.TimeoutError:
                pass
        if self.input.simulated and not self.woken:
            self.simulated_now = until

    async def _snapshot(self) -> Snapshot:
        assert self.input is not None
        return await self._store_activity(
            "load_customer", self.input.customer_id, self.input.journey.id, self._now(), result_type=Snapshot
        )

    async def _send(self, command: engine.Send, snapshot: Snapshot) -> SendOutcome:
        assert self.input is not None and self.state is not None
        journey = self.input.journey
        step = journey.step(command.step)
        assert isinstance(step, SendStep)
        context = engine.expression_context(journey, self.state, snapshot.customer, self._now())
        request = SendRequest(
            workflow_id=workflow.info().workflow_id,
            journey_id=journey.id,
            version=journey.version,
            customer_id=self.input.customer_id,
            step=command.step,
            visit=command.visit,
            seq=command.seq,
            channel=command.channel,
            message=self.input.message_for(step, snapshot.customer.locale),
            context={k: v for k, v in context.items() if k != "customer"},
            limits=list(journey.limits),
            now=self._now(),
            exit_on=list(journey.exit_on),
            on_pause=step.on_pause,
        )
        sending = workflow.start_activity(
            "send_message",
            request,
            result_type=SendOutcome,
            task_queue=send_queue(workflow.info().task_queue, command.channel),
            schedule_to_start_timeout=None,
            start_to_close_timeout=SEND_TIMEOUT,
            retry_policy=SEND_RETRY,
            cancellation_type=ActivityCancellationType.TRY_CANCEL,
        )
        # A provider's rate limit may keep the send queued; a run that ends meanwhile must not send.
        await workflow.wait_condition(lambda: sending.done() or not self.state.live)  # type: ignore[union-attr]
        if not sending.done():
            sending.cancel()
            return SendOutcome(status="skipped", error="the run ended before the send started")
        try:
            return await sending
        except ActivityError as exc:  # retries ran out: the step's on_failure decides what follows
            return SendOutcome(status="failed", error=str(exc.cause or exc))

    async def _update(self, command: engine.ApplyUpdate, snapshot: Snapshot) -> None:
        assert self.input is not None and self.state is not None
        context = engine.expression_context(self.input.journey, self.state, snapshot.customer, self._now())
        try:
            with workflow.unsafe.sandbox_unrestricted():
                values = render_value(command.update.set, context)
        except TemplateError as exc:
            engine.fail(self.state, self._now(), f"step '{command.step}': {exc}")
            return
        update = ProfileUpdate(
            customer_id=self.input.customer_id,
            set={k: literal(v) if isinstance(v, str) else v for k, v in values.items()},
            add_tags=command.update.tags.add,
            remove_tags=command.update.tags.remove,
        )
        await self._store_activity("apply_profile_update", update)

    async def _record(self) -> None:
        """Tell the store where the run is (batched step arrivals, what it waits for, or how it ended)."""
        assert self.input is not None and self.state is not None
        state, waiting = self.state, self.waiting
        progress = Progress(
            workflow_id=workflow.info().workflow_id,
            journey_id=self.input.journey.id,
            version=self.input.journey.version,
            customer_id=self.input.customer_id,
            entry=self.input.entry,
            started_at=state.enrolled_at,
            entries=self.entries,
            current_step=state.step if state.live else None,
            waiting_for=waiting.events if waiting and state.live else [],
            until=waiting.until if waiting and state.live else None,
            outcome=state.outcome or "running",
            ended_at=state.ended_at,
            exit_event=state.exit_event,
            end_label=state.end_label,
            failure=state.failure,
            cohort=state.cohort,
        )
        self.entries = []
        await self._store_activity("record_progress", progress)

    async def _store_activity(self, name: str, *args: object, result_type: type | None = None) -> Any:
        """A store read or write. Local activities since `LOCAL_STORE`: they run inside the workflow task on
        the journey worker, saving a task round trip and three history events each; runs started before
        keep scheduling them as ordinary activities, so their histories replay unchanged."""
        if self._patched(LOCAL_STORE):
            return await workflow.execute_local_activity(
                name, args=args, result_type=result_type, start_to_close_timeout=STORE_TIMEOUT, retry_policy=RETRY
            )
        return await workflow.execute_activity(
            name, args=args, result_type=result_type, start_to_close_timeout=STORE_TIMEOUT, retry_policy=RETRY
        )
