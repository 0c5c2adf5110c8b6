"""Changing live journeys: move one customer, migrate runs to a new version, pause and resume."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from journeys.engine.runs import RunInput, workflow_id
from journeys.errors import JourneysError
from journeys.format.customers import Profile
from journeys.services.catalogue import publish
from journeys.services.control import cancel, migrate, move, set_paused, settle
from journeys.services.delivery import signal
from journeys.services.enrolment import enroll
from journeys.services.status import status as customer_status
from journeys.settings import Settings
from journeys.store import Store
from tests.support import ROOT
from tests.support.clock import midday_zone
from tests.temporal.test_store_reads import awake

MODEM_SWAP = ROOT / "definitions" / "modem_swap.yaml"

DAILY_V1 = """
id: daily
name: Daily check
version: {version}
exit_on: [stop]
steps:
  - {{id: ping, send: sms, message: {{text: "{text}"}}, max_visits: 10, on_max: done}}
  - {{id: {pause}, wait_for: answered, since: step, timeout: 1d, on_timeout: ping}}
  - {{id: answered, end: answered}}
  - {{id: done, end: gave_up}}
"""

REMINDER = """
id: reminder
name: Reminder
exit_on: [stop]
steps:
  - {id: later, wait: 1d}
  - {id: nudge, send: sms, message: {text: "nudge"}, on_pause: ON_PAUSE}
  - {id: after, wait: 1d}
"""


def customer(cid: str) -> Profile:
    return Profile(
        id=cid,
        name="Sara",
        email=f"{cid}@example.com",
        phone="+989121000001",
        locale="en",
        timezone=midday_zone(),
        attributes={"plan": "wimax", "wimax_id": f"W-{cid}"},
    )


def sms_bodies(store: Store, cid: str) -> list[str]:
    return [m.body or "" for m in store.messages_of(cid) if m.status == "sent"]


def write_daily(folder: Path, version: int, text: str, pause: str) -> Path:
    path = folder / "daily.yaml"
    path.write_text(DAILY_V1.format(version=version, text=text, pause=pause), encoding="utf-8")
    return path


async def test_move_into_a_wait_for_whose_event_already_came_goes_straight_on(
    env: WorkflowEnvironment, client: Client, store: Store, settings: Settings
) -> None:
    store.upsert_customers([customer("c1")])
    (enrolment,) = await enroll(client, store, settings, publish(MODEM_SWAP), ["c1"])
    await settle(client, enrolment.workflow_id)
    # the modem was delivered (registration done by phone): the event came before the run got there
    delivered = await signal(client, store, settings, "c1", "delivered", {})
    assert [r.effect for r in delivered.runs] == ["ignored"]
    moved = await move(client, store, "c1", "modem-swap", "await_delivery", "registered by phone", "agent-7")
    assert (moved.from_step, moved.to_step, moved.by) == ("await_registration", "await_delivery", "agent-7")
    status = await settle(client, enrolment.workflow_id)
    assert status.current_step == "await_id"  # through check_id (no ID on file) and ask_id, at once
    assert [m.step for m in store.messages_of("c1")] == ["invite", "ask_id"]
    (audit,) = store.audits_of(enrolment.workflow_id)
    assert (audit.kind, audit.by, audit.reason, audit.from_step, audit.to_step) == (
        "move",
        "agent-7",
        "registered by phone",
        "await_registration",
        "await_delivery",
    )
    (run,) = (await customer_status(client, store, "c1"))["runs"]
    assert [(a["action"], a["by"], a["reason"]) for a in run["audit"]] == [("move", "agent-7", "registered by phone")]


async def test_move_to_a_step_the_journey_lacks_is_refused(client: Client, store: Store, settings: Settings) -> None:
    store.upsert_customers([customer("c2")])
    (enrolment,) = await enroll(client, store, settings, publish(MODEM_SWAP), ["c2"])
    await settle(client, enrolment.workflow_id)
    with pytest.raises(JourneysError, match="no step 'nowhere'"):
        await move(client, store, "c2", "modem-swap", "nowhere", "typo", None)
    assert store.audits_of(enrolment.workflow_id) == []


async def test_migration_across_continue_as_new_keeps_visits_and_send_counter(
    env: WorkflowEnvironment, client: Client, store: Store, settings: Settings, tmp_path: Path
) -> None:
    folder = tmp_path / "definitions"
    folder.mkdir()
    settings = settings.model_copy(update={"definitions": folder})
    v1 = publish(write_daily(folder, 1, "ping v1", "pause"))
    store.upsert_customers([customer("c3")])
    wid = workflow_id("daily", "c3", 1)
    await client.start_workflow(
        "Journey",
        RunInput(journey=v1.journey, customer_id="c3", history_limit=10),
        id=wid,
        task_queue=settings.task_queue,
    )
    store.create_run(wid, "daily", 1, "c3", 1, await env.get_current_time())
    store.save_version("daily", 1, v1.source, v1.hash, await env.get_current_time())
    await env.sleep(timedelta(days=2, hours=1))
    first_run = (await client.get_workflow_handle(wid).describe()).run_id
    await env.sleep(timedelta(days=1))
    assert (await client.get_workflow_handle(wid).describe()).run_id != first_run  # continued as new
    assert sms_bodies(store, "c3") == ["ping v1"] * 4

    write_daily(folder, 2, "ping v2", "rest")  # version 2 renames the waiting step
    refused = await migrate(client, store, settings, "daily", 2, {}, dry_run=False)
    assert refused.unmapped == [{"from_version": 1, "step": "pause", "runs": 1}] and refused.migrated == 0
    preview = await migrate(client, store, settings, "daily", 2, {"pause": "rest"}, dry_run=True)
    assert preview.moves == [{"from_version": 1, "from_step": "pause", "to_step": "rest", "runs": 1}]
    assert preview.migrated == 0 and store.runs_of("c3")[0].version == 1
    done = await migrate(client, store, settings, "daily", 2, {"pause": "rest"}, dry_run=False, by="lead-2")
    assert done.migrated == 1 and done.failed == []

    status = await settle(client, wid)
    assert (status.version, status.current_step) == (2, "rest")
    await env.sleep(timedelta(days=7))
    bodies = sms_bodies(store, "c3")
    assert bodies == ["ping v1"] * 4 + ["ping v2"] * 6  # visits carried over: max_visits 10 in all
    keys = [m.key for m in store.messages_of("c3")]
    assert len(keys) == len(set(keys)) == 10  # the send counter carried across both boundaries
    (run,) = store.runs_of("c3")
    assert (run.version, run.outcome, run.end_label) == (2, "completed", "gave_up")
    (audit,) = store.audits_of(wid)
    assert (audit.kind, audit.by, audit.from_version, audit.to_version, audit.from_step, audit.to_step) == (
        "migrate",
        "lead-2",
        1,
        2,
        "pause",
        "rest",
    )


@pytest.mark.parametrize("on_pause", ["hold", "skip"])
async def test_paused_journey_sends_nothing_but_still_takes_events(
    env: WorkflowEnvironment, client: Client, store: Store, settings: Settings, tmp_path: Path, on_pause: str
) -> None:
    folder = tmp_path / "definitions"
    folder.mkdir()
    (folder / "reminder.yaml").write_text(REMINDER.replace("ON_PAUSE", on_pause), encoding="utf-8")
    settings = settings.model_copy(update={"definitions": folder})
    published = publish(folder / "reminder.yaml")
    store.upsert_customers([customer("a"), customer("b")])
    runs = {e.customer: e.workflow_id for e in await enroll(client, store, settings, published, ["a", "b"])}
    await set_paused(client, store, settings, "reminder", True)
    with pytest.raises(JourneysError, match="paused"):
        await enroll(client, store, settings, published, ["a"])
    await env.sleep(timedelta(days=1, hours=6))
    assert store.messages_of("a") == []  # the nudge fell due while paused
    stopped = await signal(client, store, settings, "b", "stop", {})
    assert [r.effect for r in stopped.runs] == ["exited"]  # an exit event still ends a paused journey's run

    await set_paused(client, store, settings, "reminder", False)
    status = await settle(client, runs["a"])
    if on_pause == "hold":
        assert sms_bodies(store, "a") == ["nudge"] and status.current_step == "after"
    else:
        assert sms_bodies(store, "a") == [] and status.current_step == "after"
    assert store.messages_of("b") == []


async def test_editing_the_yaml_never_changes_a_live_run_only_new_enrolments(
    env: WorkflowEnvironment, client: Client, store: Store, settings: Settings, tmp_path: Path
) -> None:
    folder = tmp_path / "definitions"
    folder.mkdir()
    store.upsert_customers([customer("early"), customer("late")])
    (first,) = await enroll(client, store, settings, publish(write_daily(folder, 1, "ping v1", "pause")), ["early"])
    await settle(client, first.workflow_id)

    write_daily(folder, 2, "ping v2", "rest")  # the file now says something else, under a new version
    (second,) = await enroll(client, store, settings, publish(folder / "daily.yaml"), ["late"])
    await env.sleep(timedelta(days=2, hours=1))

    assert sms_bodies(store, "early") == ["ping v1"] * 3  # the run keeps the definition it was enrolled with
    assert sms_bodies(store, "late") == ["ping v2"] * 3
    assert [r.version for r in store.runs_of("early")] == [1] and [r.version for r in store.runs_of("late")] == [2]


async def enrolled(client: Client, store: Store, settings: Settings, profile: Profile) -> str:
    """The customer in the store and in modem-swap, its run settled at its first wait; the run's id."""
    store.upsert_customers([profile])
    (enrolment,) = await enroll(client, store, settings, publish(MODEM_SWAP), [profile.id])
    await settle(client, enrolment.workflow_id)
    return enrolment.workflow_id


async def test_cancel_keeps_who_when_and_why_and_status_tells_the_whole_story(
    client: Client, store: Store, settings: Settings
) -> None:
    wid = await enrolled(client, store, settings, awake("c5"))  # no quiet hours hold the invitation
    await signal(client, store, settings, "c5", "registered", {"via": "phone"}, "reg-1")
    await signal(client, store, settings, "c5", "replied", {"text": "yes"}, "sms-1", source="provider")
    store.change_consent("c5", "sms", "opted_out", by="agent-7", reason="asked by phone")
    await settle(client, wid)

    cancelled = await cancel(client, store, "c5", "modem-swap", "moved abroad", "agent-7")

    assert [(r.workflow_id, r.effect) for r in cancelled.runs] == [(wid, "cancelled")]
    assert (cancelled.by, cancelled.reason) == ("agent-7", "moved abroad")
    await client.get_workflow_handle(wid).result()
    story = await customer_status(client, store, "c5")
    assert story["live"] is True
    assert story["consent"] == {"email": True, "sms": False, "voice": True, "webhook": True}
    assert [(e["id"], e["name"], e["source"], e["data"]) for e in story["events"]] == [
        ("reg-1", "registered", "cli", {"via": "phone"}),
        ("sms-1", "replied", "provider", {"text": "yes"}),
    ]
    (run,) = story["runs"]
    assert (run["workflow_id"], run["outcome"], run["version"]) == (wid, "cancelled", 3)
    assert [s["step"] for s in run["steps"]][:3] == ["invite", "await_registration", "await_delivery"]
    assert all(s["at"] >= run["started_at"] for s in run["steps"])
    (message,) = run["messages"]
    assert (message["step"], message["channel"], message["to"], message["status"]) == (
        "invite",
        "email",
        "c5@example.com",
        "sent",
    )
    assert message["subject"] and message["body"]  # the rendered text, as it went out
    (audit,) = run["audit"]
    assert (audit["action"], audit["by"], audit["reason"]) == ("cancel", "agent-7", "moved abroad")
    assert audit["at"] == cancelled.at
    assert [(a["action"], a["by"], a["reason"]) for a in story["audit"]] == [("consent", "agent-7", "asked by phone")]


async def test_cancel_records_nothing_when_no_run_was_live(client: Client, store: Store, settings: Settings) -> None:
    wid = await enrolled(client, store, settings, customer("c6"))
    await signal(client, store, settings, "c6", "swapped", {})
    await client.get_workflow_handle(wid).result()

    cancelled = await cancel(client, store, "c6", None, "too late", "agent-7")

    assert cancelled.runs == [] and store.audits_of(wid) == []


async def test_cancel_without_a_reason_is_refused_and_ends_nothing(
    client: Client, store: Store, settings: Settings
) -> None:
    wid = await enrolled(client, store, settings, customer("c7"))
    with pytest.raises(JourneysError, match="--reason is required"):
        await cancel(client, store, "c7", None, "  ", "agent-7")
    assert (await settle(client, wid)).outcome == "running"


async def test_status_without_temporal_tells_what_the_store_last_recorded(
    client: Client, store: Store, settings: Settings
) -> None:
    wid = await enrolled(client, store, settings, awake("c8"))  # no quiet hours hold the invitation
    await signal(client, store, settings, "c8", "registered", {}, "reg-8")
    await settle(client, wid)
    live = await customer_status(client, store, "c8")

    alone = await customer_status(None, store, "c8")

    assert (alone["live"], live["live"]) == (False, True)
    (run,) = alone["runs"]
    assert (run["state_from"], live["runs"][0]["state_from"]) == ("store", "run")
    for key in ("outcome", "current_step", "waiting_for", "until", "steps", "messages", "audit"):
        assert run[key] == live["runs"][0][key], key
    assert (run["outcome"], run["current_step"]) == ("running", "await_delivery")
    assert [e["id"] for e in alone["events"]] == ["reg-8"]
