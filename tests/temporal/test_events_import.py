"""`journeys events import` on the time-skipping server: each good line has the effect of `signal` (an exit
event ends a live run, a trigger event starts its journey), one customer's lines are taken in file order,
importing the same file again changes nothing, and an import that Temporal failed is finished by running it
again."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session, select
from temporalio.client import Client

from journeys.errors import JourneysError
from journeys.format.customers import Profile
from journeys.services.catalogue import publish
from journeys.services.control import settle
from journeys.services.enrolment import enroll
from journeys.services.events_import import import_events
from journeys.settings import Settings
from journeys.store import EventRow, Store
from tests.support.importing import write
from tests.support.journey_files import FOLLOWUP
from tests.support.temporal import cuttable

SWAP = """
id: swap
name: Modem swap
exit_on: [swapped]
steps:
  - {id: await_registered, wait_for: registered, timeout: 30d}
  - {id: await_delivered, wait_for: delivered, timeout: 30d}
  - {id: done, end: delivered}
"""


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(request: pytest.FixtureRequest, settings: Settings) -> Settings:
    """The import on both stores: the test's SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return settings
    return settings.model_copy(update={"database_url": request.getfixturevalue("postgres_url")})


@pytest.fixture
def definitions(tmp_path: Path, settings: Settings) -> Settings:
    folder = tmp_path / "definitions"
    folder.mkdir()
    (folder / "swap.yaml").write_text(SWAP, encoding="utf-8")
    (folder / "followup.yaml").write_text(FOLLOWUP, encoding="utf-8")
    return settings.model_copy(update={"definitions": folder})


async def enrolled(client: Client, store: Store, settings: Settings, *customers: str) -> list[str]:
    """The customers, in the store and waiting in the swap journey; their runs' workflow ids."""
    store.upsert_customers([Profile(id=c, phone=f"+98912100000{n}") for n, c in enumerate(customers)])
    runs = await enroll(client, store, settings, publish(settings.definitions / "swap.yaml"), list(customers))
    for run in runs:
        await settle(client, run.workflow_id or "")
    return [run.workflow_id or "" for run in runs]


def timeline(store: Store) -> list[tuple[str, str, str, str | None]]:
    """Every event in the store: customer, name, id, source."""
    with Session(store.engine) as session:
        rows = session.exec(select(EventRow).order_by(EventRow.customer_id, EventRow.at, EventRow.id))
        return [(r.customer_id, r.name, r.id, r.source) for r in rows]


def state(store: Store) -> tuple[object, ...]:
    """What an import may change: the timelines, the runs (but when their row was last written), the messages."""
    runs = [r.model_dump(exclude={"updated_at"}) for c in ("k1", "k2") for r in store.runs_of(c)]
    return timeline(store), runs, store.messages_of("k1"), store.messages_of("k2")


async def test_imported_exit_event_ends_a_live_run_a_trigger_starts_a_journey_and_the_same_file_again_changes_nothing(
    client: Client, store: Store, definitions: Settings, tmp_path: Path
) -> None:
    k1_run, _ = await enrolled(client, store, definitions, "k1", "k2")
    path = write(
        tmp_path,
        "customer,event,id,at,data\n"
        "k1,swapped,,,\n"
        'k2,complaint_filed,complaint-1,2026-11-23T08:00:00Z,"{""ref"": ""K-1""}"\n'
        "nobody,swapped,,,\n"
        "k2,complaint_filed,,tomorrow,\n",
        "events.csv",
    )

    report = await import_events(client, store, definitions, path)

    assert (report.lines, report.recorded, report.duplicates, report.rejected) == (4, 2, 0, 2)
    assert report.problems == [
        f"{path}:4: customer: no customer 'nobody' in the store",
        f"{path}:5: at: not an ISO 8601 date-time: 'tomorrow'",
    ]
    assert (report.effects["exited"], report.effects["started"], report.complete) == (1, 1, False)
    assert (await settle(client, k1_run)).outcome == "exited"
    (followup,) = [r for r in store.runs_of("k2") if r.journey_id == "followup"]
    await settle(client, followup.workflow_id)
    assert [m.body for m in store.messages_of("k2")] == ["We have your complaint K-1"]
    before = state(store)
    assert {source for *_, source in timeline(store)} == {"import"}

    again = await import_events(client, store, definitions, path)

    assert (again.recorded, again.duplicates, again.rejected) == (0, 2, 2)
    assert again.effects["started"] == again.effects["exited"] == again.effects["advanced"] == 0
    await settle(client, followup.workflow_id)
    assert state(store) == before


async def test_one_customers_lines_are_taken_in_file_order_while_customers_go_concurrently(
    client: Client, store: Store, definitions: Settings, tmp_path: Path
) -> None:
    customers = [f"k{n}" for n in range(8)]
    runs = await enrolled(client, store, definitions, *customers)
    lines = [f"{c},registered,,,\n{c},delivered,,,\n" for c in customers]
    path = write(tmp_path, "customer,event,id,at,data\n" + "".join(lines), "events.csv")

    report = await import_events(client, store, definitions, path, parallel=4)

    assert (report.recorded, report.effects["advanced"], report.complete) == (16, 16, True)
    for run in runs:  # `delivered` before `registered` would have been ignored, leaving the run waiting
        assert (await settle(client, run)).outcome == "completed"


async def test_only_the_named_journeys_runs_take_the_events(
    client: Client, store: Store, definitions: Settings, tmp_path: Path
) -> None:
    (run,) = await enrolled(client, store, definitions, "k1")
    path = write(
        tmp_path, '{"customer": "k1", "event": "swapped"}\n{"customer": "k1", "event": "complaint_filed"}\n', "e.jsonl"
    )

    report = await import_events(client, store, definitions, path, journey_id="followup")

    assert (report.recorded, report.effects["started"], report.effects["exited"]) == (2, 1, 0)
    assert (await settle(client, run)).outcome == "running"
    other = write(tmp_path, '{"customer": "k1", "event": "x"}\n', "other.jsonl")
    with pytest.raises(JourneysError, match="no journey 'nosuch'"):  # told before any line is taken
        await import_events(client, store, definitions, other, journey_id="nosuch")
    assert sorted(name for _, name, *_ in timeline(store)) == ["complaint_filed", "swapped"]


async def test_lines_recorded_while_temporal_is_down_are_reported_and_the_same_import_again_delivers_them(
    client: Client, store: Store, definitions: Settings, tmp_path: Path
) -> None:
    first, second = await enrolled(client, store, definitions, "k1", "k2")
    path = write(tmp_path, "customer,event\nk1,swapped\nk2,swapped\n", "events.csv")
    async with cuttable(client) as (relayed, cut):
        await cut()  # Temporal stops answering after the import has connected
        report = await import_events(relayed, store, definitions, path, parallel=1)

    assert (report.recorded, report.undelivered, report.not_taken, report.complete) == (0, 1, 1, False)
    recorded, untaken = report.problems
    assert recorded.startswith(f"{path}:2: recorded as event import-")
    assert "(Temporal did not take event import-" in recorded
    assert recorded.endswith("): run the same import again to deliver it (its id makes that safe)")
    assert untaken == (
        f"{path}: 1 good line(s) not taken after that failure (the first at line 3): "
        "run the same import again to take them"
    )
    assert [name for _, name, *_ in timeline(store)] == ["swapped"]

    again = await import_events(client, store, definitions, path)

    assert (again.recorded, again.duplicates, again.effects["exited"], again.complete) == (1, 1, 2, True)
    assert [(await settle(client, run)).outcome for run in (first, second)] == ["exited", "exited"]
