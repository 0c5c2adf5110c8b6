"""Continuous entry (`entry.continuous: true`): a customer is enrolled when `entry.when` becomes true for them,
whatever made it so (an import, an `update` step of another journey, an event), once per `re_entry`, never
twice at a time, and not while the journey is paused (but as soon as it is resumed); on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from temporalio.client import Client

from journeys.format.customers import Profile
from journeys.services.catalogue import publish
from journeys.services.continuous import Enroller
from journeys.services.control import set_paused, settle
from journeys.services.delivery import signal
from journeys.services.enrolment import enroll
from journeys.services.importing import import_customers
from journeys.settings import Settings
from journeys.store import Store

SWAP = """
id: swap
name: Modem swap
entry: {when: "customer.attributes.plan == 'wimax'", continuous: true}
steps:
  - {id: invite, send: sms, message: {text: "Your free modem is waiting"}}
  - {id: await_registration, wait_for: registered, timeout: 3d}
"""

ID_CHECK = """
id: id-check
name: Thank you for your ID
entry: {when: "'national_id' in customer.documents", continuous: true}
steps:
  - {id: thanks, send: sms, message: {text: "We have your ID"}}
"""

HOLD = """
id: hold
name: Hold WiMAX customers
entry: {when: "customer.attributes.plan == 'wimax'", continuous: true}
steps:
  - {id: hold, wait: 30d}
"""

UPGRADE = """
id: upgrade
name: Move to WiMAX
steps:
  - {id: move, update: {set: {plan: wimax}}}
"""


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(request: pytest.FixtureRequest, settings: Settings) -> Settings:
    """Continuous entry on both stores: the test's SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return settings
    return settings.model_copy(update={"database_url": request.getfixturevalue("postgres_url")})


@pytest.fixture
def definitions(tmp_path: Path, settings: Settings) -> Settings:
    folder = tmp_path / "definitions"
    folder.mkdir()
    for name, text in (("swap", SWAP), ("id-check", ID_CHECK), ("upgrade", UPGRADE)):
        (folder / f"{name}.yaml").write_text(text, encoding="utf-8")
    return settings.model_copy(update={"definitions": folder})


def customers_file(folder: Path, plans: dict[str, str]) -> Path:
    path = folder / "customers.csv"
    rows = [f"{customer},+98912{i:07},{plan}" for i, (customer, plan) in enumerate(plans.items())]
    path.write_text("\n".join(["id,phone,plan", *rows]) + "\n", encoding="utf-8")
    return path


def run_journeys(store: Store, customer: str) -> list[str]:
    return sorted(r.journey_id for r in store.runs_of(customer))


async def test_imported_profiles_that_match_are_enrolled_once(
    tmp_path: Path, client: Client, store: Store, definitions: Settings
) -> None:
    import_customers(customers_file(tmp_path, {"w1": "wimax", "w2": "wimax", "l1": "lte"}), store)
    enroller = Enroller(client, store, definitions)

    enrolled = {p.journey: p.enrolled for p in await enroller.run_once()}

    assert enrolled == {"swap": 2, "id-check": 0}
    assert [run_journeys(store, c) for c in ("w1", "w2", "l1")] == [["swap"], ["swap"], []]
    # the next pass, by this enroller or a fresh one (another worker), enrols no one again
    assert [p.enrolled for p in await enroller.run_once()] == [0, 0]
    assert [p.enrolled for p in await Enroller(client, store, definitions).run_once()] == [0, 0]
    assert len(store.runs_of("w1")) == 1


async def test_a_profile_changed_by_an_update_step_of_another_journey_is_enrolled(
    client: Client, store: Store, definitions: Settings
) -> None:
    store.upsert_customers([Profile(id="c1", phone="+989121000001", attributes={"plan": "lte"})])
    enroller = Enroller(client, store, definitions)
    assert sum(p.enrolled for p in await enroller.run_once()) == 0

    (moved,) = await enroll(client, store, definitions, publish(definitions.definitions / "upgrade.yaml"), ["c1"])
    assert (await settle(client, moved.workflow_id or "")).outcome == "completed"
    await enroller.run_once()

    assert run_journeys(store, "c1") == ["swap", "upgrade"]
    (swap,) = store.runs_of("c1", "swap")
    assert (await settle(client, swap.workflow_id)).current_step == "await_registration"
    assert [m.body for m in store.messages_of("c1")] == ["Your free modem is waiting"]


async def test_an_event_that_makes_when_true_enrols_at_once(
    client: Client, store: Store, definitions: Settings
) -> None:
    store.upsert_customers([Profile(id="c1", phone="+989121000001")])
    await Enroller(client, store, definitions).run_once()
    assert run_journeys(store, "c1") == []

    result = await signal(client, store, definitions, "c1", "document_uploaded", {"kind": "national_id"}, "doc-1")

    (started,) = result.runs
    assert (started.journey, started.effect) == ("id-check", "started")
    assert (await settle(client, started.workflow_id)).outcome == "completed"
    assert [m.body for m in store.messages_of("c1")] == ["We have your ID"]
    # the loop, coming after, finds the change handled: re_entry never keeps the customer out
    assert sum(p.enrolled for p in await Enroller(client, store, definitions).run_once()) == 0
    assert len(store.runs_of("c1", "id-check")) == 1


async def test_re_entry_never_enrols_a_customer_once_however_often_they_change(
    client: Client, store: Store, definitions: Settings
) -> None:
    store.upsert_customers([Profile(id="c1", phone="+989121000001", attributes={"plan": "wimax"})])
    enroller = Enroller(client, store, definitions)
    await enroller.run_once()
    (run,) = store.runs_of("c1", "swap")
    await signal(client, store, definitions, "c1", "registered", {}, "reg-1")  # the run completes
    assert (await settle(client, run.workflow_id)).outcome == "completed"

    for n in range(3):  # still matching, changed again and again
        store.apply_update("c1", {"visits": n})
        await enroller.run_once()

    assert len(store.runs_of("c1", "swap")) == 1


async def test_two_enrollers_at_once_make_one_run_per_customer(
    tmp_path: Path, client: Client, store: Store, definitions: Settings
) -> None:
    import_customers(customers_file(tmp_path, {f"w{i}": "wimax" for i in range(20)}), store)

    passes = await asyncio.gather(*(Enroller(client, store, definitions).run_once() for _ in range(2)))

    assert sum(p.enrolled for found in passes for p in found) == 20
    assert all(len(store.runs_of(f"w{i}", "swap")) == 1 for i in range(20))


async def test_a_paused_journey_enrols_no_one_and_resumed_enrols_who_became_eligible_meanwhile(
    tmp_path: Path, client: Client, store: Store, definitions: Settings
) -> None:
    store.upsert_customers([Profile(id="early", phone="+989121000001", attributes={"plan": "wimax"})])
    enroller = Enroller(client, store, definitions)
    await enroller.run_once()
    await set_paused(client, store, definitions, "swap", True)
    await set_paused(client, store, definitions, "id-check", True)

    import_customers(customers_file(tmp_path, {"w1": "wimax", "l1": "lte"}), store)
    store.apply_update("l1", {"plan": "wimax"})
    result = await signal(client, store, definitions, "w1", "document_uploaded", {"kind": "national_id"}, "doc-1")
    passes = await enroller.run_once()

    assert result.runs == [] and all(p.paused for p in passes)
    assert run_journeys(store, "w1") == [] and run_journeys(store, "l1") == []

    await set_paused(client, store, definitions, "swap", False)
    await set_paused(client, store, definitions, "id-check", False)
    await enroller.run_once()

    assert run_journeys(store, "w1") == ["id-check", "swap"]
    assert run_journeys(store, "l1") == ["swap"]
    assert len(store.runs_of("early")) == 1


async def test_every_eligible_customer_of_a_large_import_is_enrolled_and_reported(
    tmp_path: Path, client: Client, store: Store, settings: Settings
) -> None:
    folder = tmp_path / "definitions"
    folder.mkdir()
    (folder / "hold.yaml").write_text(HOLD, encoding="utf-8")
    plans = {f"c{i:05}": "wimax" if i % 4 == 0 else "lte" for i in range(2000)}
    report = import_customers(customers_file(tmp_path, plans), store)
    assert report.created == 2000

    (done,) = await Enroller(client, store, settings.model_copy(update={"definitions": folder})).run_once()

    eligible = [c for c, plan in plans.items() if plan == "wimax"]
    assert done.enrolled == len(eligible) == 500
    assert sum(len(store.runs_of(c, "hold")) for c in eligible) == 500
    assert store.journey_report("hold").runs == 500
