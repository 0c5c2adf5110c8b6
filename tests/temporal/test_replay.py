"""Recorded histories of the shipped journeys must replay on the current workflow code.

A failure here means a workflow change is not deterministic: live runs would break on deploy. Guard the
change with `workflow.patched(...)` (see the upgrade-path test below) and record new histories beside these.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from journeys.engine.runs import PATCHES
from journeys.runtime.temporal import workflow_runner
from journeys.workflows.journey import LOCAL_STORE, JourneyWorkflow
from journeys.workflows.journey_v2 import JourneyV2Workflow

HISTORIES_DIR = Path(__file__).parent / "histories"
HISTORIES = sorted(HISTORIES_DIR.glob("*.json"))
BORN_WITH_PATCHES = "born-with-patches"  # runs enrolled as `JourneyV2`, their changes in their input


@pytest.mark.parametrize("sandboxed", [False, True], ids=["unsandboxed", "sandboxed"])
@pytest.mark.parametrize("path", HISTORIES, ids=lambda p: p.stem)
async def test_recorded_history_replays_on_current_workflow_code(path: Path, sandboxed: bool) -> None:
    history = WorkflowHistory.from_json(path.stem, path.read_text(encoding="utf-8"))
    replayer = Replayer(
        workflows=[JourneyWorkflow, JourneyV2Workflow],
        data_converter=pydantic_data_converter,
        workflow_runner=workflow_runner(sandboxed),
    )
    result = await replayer.replay_workflow(history, raise_on_replay_failure=True)
    assert result.replay_failure is None


def test_histories_are_recorded() -> None:
    assert {p.stem for p in HISTORIES} >= {
        f"{tag}.modem_swap_{who}"
        for tag in ("original", LOCAL_STORE, "carried-snapshots", BORN_WITH_PATCHES)
        for who in ("swapper", "converter")
    }


def _activities_scheduled(path: Path) -> set[str]:
    events = json.loads(path.read_text(encoding="utf-8"))["events"]
    return {
        e["activityTaskScheduledEventAttributes"]["activityType"]["name"]
        for e in events
        if e["eventType"] == "EVENT_TYPE_ACTIVITY_TASK_SCHEDULED"
    }


def test_patched_upgrade_path_keeps_runs_started_before_the_change_on_their_old_commands() -> None:
    """The upgrade path for a workflow change: guard it with `workflow.patched(ID)`, record histories under
    that ID, keep the older ones. Runs started before `LOCAL_STORE` scheduled the store activities as
    ordinary activities; runs after it record them as local-activity markers. Both replay on this code
    (the test above), so a deploy neither breaks the old runs nor keeps new runs on the old path."""
    original = HISTORIES_DIR / "original.modem_swap_converter.json"
    patched = HISTORIES_DIR / f"{LOCAL_STORE}.modem_swap_converter.json"
    assert _activities_scheduled(original) >= {"load_customer", "record_progress", "send_message"}
    assert _activities_scheduled(patched) == {"send_message"}
    assert _patches(original) == set() and _patches(patched) == {LOCAL_STORE}


def _patches(path: Path) -> set[str]:
    """The patch ids a history's markers record."""
    found = set()
    for event in json.loads(path.read_text(encoding="utf-8"))["events"]:
        marker = event.get("markerRecordedEventAttributes", {})
        if marker.get("markerName") == "core_patch":
            (payload,) = marker["details"]["patch-data"]["payloads"]
            found.add(json.loads(base64.b64decode(payload["data"]))["id"])
    return found


def test_a_run_enrolled_with_its_changes_takes_them_without_markers_or_search_attribute_writes() -> None:
    """Runs enrolled as `JourneyV2` carry `PATCHES` in their input: the store calls are local activities (the
    `LOCAL_STORE` path) and the history holds no patch marker and no `TemporalChangeVersion` upsert, the
    server's visibility write that made an event's first delivery to a run twice as slow."""
    for who in ("swapper", "converter"):
        path = HISTORIES_DIR / f"{BORN_WITH_PATCHES}.modem_swap_{who}.json"
        events = json.loads(path.read_text(encoding="utf-8"))["events"]
        started = events[0]["workflowExecutionStartedEventAttributes"]
        (payload,) = started["input"]["payloads"]
        assert started["workflowType"]["name"] == "JourneyV2"
        assert tuple(json.loads(base64.b64decode(payload["data"]))["patches"]) == PATCHES
        assert _patches(path) == set() and _activities_scheduled(path) == {"send_message"}
        assert not [e for e in events if e["eventType"] == "EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES"]
