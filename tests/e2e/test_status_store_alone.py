"""`journeys status` when Temporal does not answer: the whole story from the store alone, saying so, on SQLite
and on PostgreSQL, through the installed command."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from journeys.engine.runs import Progress, StepEntry
from journeys.format.customers import Event, Profile
from journeys.store import RunAuditRow, SendReservation, Store
from tests.support.cli import run_script
from tests.support.devserver import free_port

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc)
H = timedelta(hours=1)
WID = "journey:modem-swap:c1:1"


def write_story(store: Store) -> None:
    """A customer with events from three doors, a run that moved by hand, a message sent and a consent change."""
    store.upsert_customers([Profile(id="c1", name="Sara", email="sara@example.com", phone="+989121000001")])
    store.record_event("c1", Event(id="e1", name="registered", data={"via": "phone"}, at=T0 + H), source="cli")
    store.record_event("c1", Event(id="e2", name="delivered", at=T0 + 2 * H), source="api")
    store.record_event("c1", Event(id="e3", name="sms_received", data={"text": "ok"}, at=T0 + 3 * H), source="provider")
    store.create_run(WID, "modem-swap", 3, "c1", 1, T0)
    store.record_progress(
        Progress(
            workflow_id=WID,
            journey_id="modem-swap",
            version=3,
            customer_id="c1",
            entry=1,
            started_at=T0,
            entries=[
                StepEntry(step="invite", from_step=None, at=T0),
                StepEntry(step="await_registration", from_step="invite", at=T0),
            ],
            current_step="await_registration",
            waiting_for=["registered"],
            until=T0 + 72 * H,
        )
    )
    reservation = SendReservation(
        key=f"{WID}#invite#1",
        workflow_id=WID,
        journey_id="modem-swap",
        customer_id="c1",
        step="invite",
        visit=1,
        channel="email",
        recipient="sara@example.com",
        subject="Your free 4G modem",
        body="Register at the link below.",
    )
    store.reserve_send(reservation, [], T0)
    store.complete_send(reservation.key, "sent", provider="outbox", at=T0)
    store.record_audit(
        RunAuditRow(
            workflow_id=WID,
            kind="move",
            at=T0 + H,
            by="agent-7",
            reason="registered by phone",
            from_step="await_registration",
            to_step="await_delivery",
        )
    )
    store.change_consent("c1", "sms", "opted_out", by="agent-7", reason="asked by phone", at=T0 + 4 * H)


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_status_tells_the_stores_story_when_temporal_does_not_answer(
    tmp_path: Path, database: str, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue("postgres_url") if database == "postgresql" else f"sqlite:///{tmp_path}/s.db"
    store = Store.open(url)
    try:
        write_story(store)
    finally:
        store.close()
    env = {
        "JOURNEYS_DATABASE_URL": url,
        "JOURNEYS_DATA_DIR": str(tmp_path / "data"),
        "JOURNEYS_TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",  # nothing answers there
        "COLUMNS": "200",
    }

    result = run_script("status", "c1", "--json", cwd=tmp_path, env=env)

    assert result.returncode == 0, result.stderr
    story = json.loads(result.stdout)
    assert story["live"] is False
    assert story["consent"] == {"email": True, "sms": False, "voice": True, "webhook": True}
    assert [(e["id"], e["name"], e["source"]) for e in story["events"]] == [
        ("e1", "registered", "cli"),
        ("e2", "delivered", "api"),
        ("e3", "sms_received", "provider"),
    ]
    assert story["events"][0]["data"] == {"via": "phone"} and story["events"][0]["at"].startswith("2026-11-23T09:00")
    (run,) = story["runs"]
    assert (run["outcome"], run["current_step"], run["waiting_for"], run["state_from"]) == (
        "running",
        "await_registration",
        ["registered"],
        "store",
    )
    assert [s["step"] for s in run["steps"]] == ["invite", "await_registration"]
    (message,) = run["messages"]
    assert (message["channel"], message["to"], message["status"], message["subject"]) == (
        "email",
        "sara@example.com",
        "sent",
        "Your free 4G modem",
    )
    assert [(a["action"], a["by"], a["reason"]) for a in run["audit"]] == [("move", "agent-7", "registered by phone")]
    assert [(a["action"], a["details"]) for a in story["audit"]] == [
        ("consent", {"channel": "sms", "status": "opted_out"})
    ]

    table = run_script("status", "c1", "--text", cwd=tmp_path, env=env)

    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert "from the store alone" in lines[0]
    assert any("await_registration" in line and "last recorded" in line for line in lines)
    assert any("sms_received" in line and "provider" in line for line in lines)
    assert "Register at the link below." in table.stdout  # --text: the message as it went out
    assert any("moved await_registration → await_delivery by agent-7: registered by phone" in line for line in lines)
    assert "sms denied" in table.stdout
