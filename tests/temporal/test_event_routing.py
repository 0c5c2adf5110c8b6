"""An event reaches a run only when the run's definition can act on it: a page view never wakes a run that
waits for a registration (nor grows its history), and the answer still lists that run as ignoring it. A
migration to a version that acts on more events hands the run those it was not given."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import Client

from journeys.format.customers import Profile
from journeys.services.catalogue import publish
from journeys.services.control import migrate, settle
from journeys.services.delivery import signal
from journeys.services.enrolment import enroll
from journeys.settings import Settings
from journeys.store import Store

ORDER = """
id: order
name: Order follow-up
version: {version}
exit_on: [cancelled]
steps:
  - {{id: hello, send: sms, message: {{text: "{text}"}}}}
  - {{id: await, wait_for: {awaited}, timeout: 30d, on_timeout: late}}
  - {{id: done, end: done}}
  - {{id: late, end: late}}
"""


def write_order(folder: Path, version: int = 1, awaited: str = "paid", text: str = "Thanks") -> Path:
    path = folder / "order.yaml"
    path.write_text(ORDER.format(version=version, awaited=awaited, text=text), encoding="utf-8")
    return path


@pytest.fixture
def definitions(tmp_path: Path, settings: Settings) -> Settings:
    folder = tmp_path / "definitions"
    folder.mkdir()
    return settings.model_copy(update={"definitions": folder})


async def _enrolled(client: Client, store: Store, settings: Settings, path: Path) -> str:
    store.upsert_customers([Profile(id="c1", phone="+989121000001")])
    (run,) = await enroll(client, store, settings, publish(path), ["c1"])
    assert run.workflow_id is not None
    await settle(client, run.workflow_id)
    return run.workflow_id


async def _history(client: Client, wid: str) -> int:
    return (await client.get_workflow_handle(wid).describe()).history_length


async def test_an_event_the_journey_never_names_is_ignored_without_waking_the_run(
    client: Client, store: Store, definitions: Settings
) -> None:
    wid = await _enrolled(client, store, definitions, write_order(definitions.definitions))
    before = await _history(client, wid)

    viewed = await signal(client, store, definitions, "c1", "page_viewed", {"page": "/pricing"})

    (effect,) = viewed.runs
    assert (effect.workflow_id, effect.effect, effect.reason) == (
        wid,
        "ignored",
        "version 1 of order does not act on page_viewed",
    )
    assert viewed.delivered and store.pending_of("c1") == []
    assert await _history(client, wid) == before  # the run was never woken
    assert [e.name for e in store.events_of("c1")] == ["page_viewed"]  # on the timeline all the same

    paid = await signal(client, store, definitions, "c1", "paid", {})
    assert [r.effect for r in paid.runs] == ["advanced"]
    assert (await settle(client, wid)).end_label == "done"


async def test_a_run_whose_message_reads_the_last_event_is_given_every_event(
    client: Client, store: Store, definitions: Settings
) -> None:
    path = write_order(definitions.definitions, text="Thanks{{ ' for ' ~ event.name if event else '' }}")
    wid = await _enrolled(client, store, definitions, path)
    before = await _history(client, wid)

    viewed = await signal(client, store, definitions, "c1", "page_viewed", {})

    assert [(r.effect, r.reason) for r in viewed.runs] == [("ignored", None)]  # the run itself said so
    assert await _history(client, wid) > before
    assert store.runs_of("c1")[0].listens is None


async def test_migrating_to_a_version_that_waits_for_an_event_already_recorded_goes_straight_on(
    client: Client, store: Store, definitions: Settings
) -> None:
    folder = definitions.definitions
    wid = await _enrolled(client, store, definitions, write_order(folder, 1, awaited="shipped"))
    paid = await signal(client, store, definitions, "c1", "paid", {}, "pay-1")
    assert [r.effect for r in paid.runs] == ["ignored"]  # version 1 waits for shipping: not given to the run

    write_order(folder, 2, awaited="paid")  # version 2 waits for the payment instead, at the same step
    done = await migrate(client, store, definitions, "order", 2, {}, dry_run=False)

    assert done.migrated == 1 and done.failed == []
    status = await settle(client, wid)
    assert (status.version, status.outcome, status.end_label) == (2, "completed", "done")  # paid since enrolment
    (run,) = store.runs_of("c1")
    assert run.listens == ["cancelled", "paid"]
