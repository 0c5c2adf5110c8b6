"""Continuous entry (`entry.continuous: true`): a customer is enrolled when `entry.when` becomes true for them.

Whatever changes a customer (an import, an `update` step, an event, the API) only writes the store; nothing on
those paths waits for enrolment, so an import of 100,000 profiles is as fast with a continuous journey as
without. The `Enroller` follows afterwards: for each continuous journey it reads the customers whose profile
(`customer.updated_at`) or timeline (`event.recorded_at`) changed since the journey's cursor, decides entry for
each (`entry.when`, `unless`, `re_entry`) and enrols those who may enter, a page at a time, moving the cursor
only once a page is done. Enrolment is idempotent (`Store.register_run` under the customer's lock), so several
enrollers, a pass interrupted half-way, or the same customer seen twice make one run.

The cursor lags the clock by `OVERLAP`: a transaction stamps its rows before it commits, so a change may become
visible after a later-stamped one was read; every change committed within `OVERLAP` of its stamp is seen. An
enroller reads on from the last change it read, and reads the window again every `RESCAN` (a fresh enroller,
at once); what it decided inside the window it remembers (per customer and change), so it does not decide it
twice. A paused journey's cursor stands still; resumed, it enrols whoever became eligible meanwhile.
A journey's first pass starts from the beginning: whoever already matches is enrolled, as `enroll --all` would.

`signal` also enrols the one customer at once (`enrol_customer`), for low latency; the loop is the safety net.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path

from pydantic import BaseModel
from temporalio.client import Client

from journeys.engine import interpreter as engine
from journeys.format.models import Journey
from journeys.services.catalogue import Published, definitions, publish
from journeys.services.enrolment import Enrolment, JourneyPaused, enroll
from journeys.services.shared import RunEffect, utc_now
from journeys.settings import Settings
from journeys.store import Store

OVERLAP = timedelta(minutes=2)  # how long after its stamp a change may commit and still be seen
RESCAN = timedelta(seconds=20)  # how often an enroller reads the overlap window again
PAGE = 500  # changes decided and enrolled per step of the cursor


class EntryPass(BaseModel):
    """What one pass did for one continuous journey."""

    journey: str
    changed: int = 0  # customers whose change was decided on (not only read again)
    enrolled: int = 0
    paused: bool = False


class Enroller:
    """Enrols the customers of every continuous journey in the definitions folder whose change makes them
    eligible. Stateless but for what it remembers to save work: any number may run, and a fresh one (a worker
    restarted) only decides again what changed since the cursor."""

    def __init__(self, client: Client, store: Store, settings: Settings) -> None:
        self.client, self.store, self.settings = client, store, settings
        self.decided: dict[str, dict[str, datetime]] = {}  # definition hash → customer → newest change decided on
        self.reached: dict[str, tuple[datetime, str]] = {}  # definition hash → the last change read
        self.rescanned: dict[str, float] = {}  # definition hash → when the overlap window was last read again

    async def run_once(self) -> list[EntryPass]:
        """One pass over every continuous journey; what each did."""
        found = [path for path, journey in definitions(self.settings).items() if journey.entry.continuous]
        return [await self.journey_pass(publish(path)) for path in found]

    async def journey_pass(self, published: Published) -> EntryPass:
        """Decide and enrol what changed since the journey's cursor: from the last change this enroller read,
        and every `RESCAN` from the cursor itself, to find what committed late inside the overlap window."""
        journey, key = published.journey, published.hash
        done = EntryPass(journey=journey.id)
        if await asyncio.to_thread(self.store.is_paused, journey.id):
            done.paused = True
            return done
        started, clock = utc_now(), time.monotonic()
        horizon = started - OVERLAP - RESCAN  # a change read late is read by a rescan before the cursor passes it
        cursor = await asyncio.to_thread(self.store.entry_cursor, journey.id)
        decided = self.decided.setdefault(key, {})
        rescan = key not in self.rescanned or clock - self.rescanned[key] >= RESCAN.total_seconds()
        after = None if rescan else self.reached.get(key)
        while True:
            page = await asyncio.to_thread(self.store.changed_customers, cursor, after, PAGE)
            newest: dict[str, datetime] = {}
            for customer, stamp in page:
                newest[customer] = max(stamp, newest.get(customer, stamp))
            fresh = [(c, stamp) for c, stamp in newest.items() if c not in decided or decided[c] < stamp]
            eligible = await asyncio.to_thread(_eligible, self.store, journey, fresh, started)
            try:
                enrolled = await enroll(self.client, self.store, self.settings, published, eligible) if eligible else []
            except JourneyPaused:  # paused meanwhile: the cursor stays where it is
                done.paused = True
                return done
            done.changed += len(fresh)
            done.enrolled += _started(enrolled)
            decided.update(fresh)
            if page:
                after = page[-1][1], page[-1][0]
                self.reached[key] = after
                if len(page) == PAGE:  # more may follow: what came before this page's last change is handled
                    await self._advance(journey.id, min(after[0], horizon), cursor)
                    continue
            break  # every change up to this pass's start is handled
        await self._advance(journey.id, horizon, cursor)
        if rescan:
            self.rescanned[key] = clock
        self.decided[key] = {c: stamp for c, stamp in decided.items() if stamp >= horizon}
        return done

    async def _advance(self, journey_id: str, position: datetime, cursor: datetime | None) -> None:
        if cursor is None or position > cursor:
            await asyncio.to_thread(self.store.advance_entry_cursor, journey_id, position, utc_now())


def _eligible(store: Store, journey: Journey, changes: Sequence[tuple[str, datetime]], now: datetime) -> list[str]:
    """The changed customers who may enter now. A change from before their last run of the journey ended
    does not count (that run's own `update` step, say): `re_entry` lets a customer in again on a later change."""
    views = store.entry_views([customer_id for customer_id, _ in changes], journey.id)
    eligible = []
    for customer_id, stamp in changes:
        if customer_id not in views:
            continue
        customer, past = views[customer_id]
        ended = [run.ended_at for run in past if run.ended_at is not None]
        if ended and max(ended) >= stamp:
            continue
        if engine.enrolment_refusal(journey, customer, now, past) is None:
            eligible.append(customer_id)
    return eligible


def _started(enrolments: Sequence[Enrolment]) -> int:
    return sum(1 for e in enrolments if e.status == "started")


async def enrol_customer(
    client: Client,
    store: Store,
    settings: Settings,
    customer_id: str,
    journey_id: str | None = None,
    *,
    catalogue: Mapping[Path, Journey] | None = None,
) -> list[RunEffect]:
    """Enrol one customer who just changed in every continuous journey (or only `journey_id`) whose entry they
    now meet, at once (`signal` does, so a run starts with the event); paused journeys are left to the loop,
    which enrols on resume. `catalogue`: the definitions, when the caller has read them for many customers.
    The runs started."""
    started: list[RunEffect] = []
    for path, journey in (definitions(settings) if catalogue is None else catalogue).items():
        if not journey.entry.continuous or (journey_id and journey.id != journey_id):
            continue
        if not await asyncio.to_thread(_eligible, store, journey, [(customer_id, utc_now())], utc_now()):
            continue
        try:
            enrolled = await enroll(client, store, settings, publish(path), [customer_id])
        except JourneyPaused:
            continue
        started += [
            RunEffect(journey=journey.id, workflow_id=e.workflow_id or "", effect="started")
            for e in enrolled
            if e.status == "started"
        ]
    return started
