"""Journeys entered by an event (`entry.trigger`): only the event enrols, and a paused one enrols no one
without making `signal` fail after the event was recorded."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from journeys.errors import JourneysError
from journeys.format.customers import Profile
from journeys.services.catalogue import publish
from journeys.services.control import set_paused, settle
from journeys.services.delivery import signal
from journeys.services.enrolment import enroll
from journeys.settings import Settings
from journeys.store import Store
from tests.support.journey_files import FOLLOWUP

SURVEY = """
id: survey
name: Survey
steps:
  - {id: await_complaint, wait_for: complaint_filed, timeout: 30d}
  - {id: done, end: heard}
"""


@pytest.fixture
def definitions(tmp_path: Path, settings: Settings) -> Settings:
    folder = tmp_path / "definitions"
    folder.mkdir()
    (folder / "followup.yaml").write_text(FOLLOWUP, encoding="utf-8")
    (folder / "survey.yaml").write_text(SURVEY, encoding="utf-8")
    return settings.model_copy(update={"definitions": folder})


async def test_enroll_refuses_a_journey_entered_by_its_event(
    client: Client, store: Store, definitions: Settings
) -> None:
    store.upsert_customers([Profile(id="k1", phone="+989121000001")])
    with pytest.raises(JourneysError, match="complaint_filed"):
        await enroll(client, store, definitions, publish(definitions.definitions / "followup.yaml"), ["k1"])
    assert store.runs_of("k1") == [] and store.messages_of("k1") == []


async def test_paused_trigger_journey_enrols_no_one_and_signal_still_delivers_the_event(
    env: WorkflowEnvironment, client: Client, store: Store, definitions: Settings
) -> None:
    store.upsert_customers([Profile(id="k1", phone="+989121000001")])
    (survey,) = await enroll(client, store, definitions, publish(definitions.definitions / "survey.yaml"), ["k1"])
    await settle(client, survey.workflow_id)
    await set_paused(client, store, definitions, "followup", True)

    result = await signal(client, store, definitions, "k1", "complaint_filed", {"ref": "K-1"}, "complaint-1")

    assert [e.id for e in store.events_of("k1")] == ["complaint-1"]  # the event counts
    effects = {r.journey: (r.effect, r.reason) for r in result.runs}
    assert effects["survey"] == ("advanced", None)  # and reaches the customer's other runs
    effect, reason = effects["followup"]
    assert effect == "skipped" and "paused" in (reason or "")  # signal says the paused journey enrolled no one
    assert (await settle(client, survey.workflow_id)).outcome == "completed"
    assert [r.journey_id for r in store.runs_of("k1")] == ["survey"]
    assert store.messages_of("k1") == []

    # resumed, the journey enrols on its next event (not on the one it missed while paused)
    await set_paused(client, store, definitions, "followup", False)
    again = await signal(client, store, definitions, "k1", "complaint_filed", {"ref": "K-2"}, "complaint-2")
    (started,) = again.runs
    assert (started.journey, started.effect) == ("followup", "started")
    await settle(client, started.workflow_id)
    assert [m.body for m in store.messages_of("k1")] == ["We have your complaint K-2"]
