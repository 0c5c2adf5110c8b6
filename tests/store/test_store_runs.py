from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from journeys.engine.interpreter import PastRun
from journeys.engine.runs import Progress, StepEntry
from journeys.format.customers import Profile
from journeys.store import (
    GoalConversion,
    MessageCount,
    OutcomeCount,
    SendReservation,
    Store,
    Transition,
    UnknownRun,
    VersionConflict,
)

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc)
H = timedelta(hours=1)


def test_create_run_is_idempotent(store: Store) -> None:
    assert store.create_run("journey:j:ada:1", "j", 1, "ada", 1, T0) is True
    assert store.create_run("journey:j:ada:1", "j", 2, "ada", 1, T0 + H) is False

    (run,) = store.runs_of("ada")
    assert (run.version, run.outcome, run.started_at, run.waiting_for, run.ended_at) == (1, "running", T0, [], None)


def test_update_run_records_where_the_run_is_and_how_it_ended(store: Store) -> None:
    store.create_run("w", "j", 1, "ada", 1, T0)

    store.update_run("w", current_step="wait_docs", waiting_for=["document_uploaded"], until=T0 + 2 * H, at=T0 + H)
    (waiting,) = store.live_runs("ada")
    store.update_run("w", outcome="exited", exit_event="swapped", ended_at=T0 + 3 * H, current_step=None, until=None)

    assert (waiting.current_step, waiting.waiting_for, waiting.until, waiting.updated_at) == (
        "wait_docs",
        ["document_uploaded"],
        T0 + 2 * H,
        T0 + H,
    )
    (ended,) = store.runs_of("ada")
    assert (ended.outcome, ended.exit_event, ended.ended_at, ended.current_step) == (
        "exited",
        "swapped",
        T0 + 3 * H,
        None,
    )
    assert store.live_runs("ada") == []


def test_update_run_refuses_unknown_runs_and_fields(store: Store) -> None:
    store.create_run("w", "j", 1, "ada", 1, T0)

    with pytest.raises(UnknownRun):
        store.update_run("nope", current_step="x")
    with pytest.raises(TypeError, match="colour"):
        store.update_run("w", colour="red")


def test_runs_of_lists_newest_first_and_filters_by_journey(store: Store) -> None:
    store.create_run("j:1", "j", 1, "ada", 1, T0)
    store.update_run("j:1", outcome="completed", ended_at=T0 + H)
    store.create_run("j:2", "j", 1, "ada", 2, T0 + 2 * H)
    store.create_run("k:1", "k", 1, "ada", 1, T0 + H)
    store.create_run("j:bob", "j", 1, "bob", 1, T0)

    assert [r.workflow_id for r in store.runs_of("ada")] == ["j:2", "k:1", "j:1"]
    assert [r.workflow_id for r in store.runs_of("ada", "j")] == ["j:2", "j:1"]
    assert [r.workflow_id for r in store.live_runs("ada", "j")] == ["j:2"]
    assert store.past_runs("ada", "j") == [PastRun(ended_at=None), PastRun(ended_at=T0 + H)]
    assert store.next_entry("ada", "j") == 3
    assert store.next_entry("ada", "other") == 1


def test_record_steps_skips_entries_logged_before(store: Store) -> None:
    entries = [("invite", None, T0), ("wait", "invite", T0)]
    store.record_steps("w", "j", 1, entries)
    store.record_steps("w", "j", 1, entries + [("remind", "wait", T0 + H)])  # a retried activity, one step more
    store.record_steps("w", "j", 1, [])

    report = store.journey_report("j")

    assert [(s.step, s.arrived) for s in report.steps] == [("invite", 1), ("wait", 1), ("remind", 1)]


def test_record_progress_records_the_run_its_steps_and_where_it_is_once_however_often_retried(
    store: Store,
) -> None:
    waiting = Progress(
        workflow_id="w",
        journey_id="j",
        version=1,
        customer_id="ada",
        entry=1,
        started_at=T0,
        entries=[StepEntry(step="invite", from_step=None, at=T0), StepEntry(step="wait", from_step="invite", at=T0)],
        current_step="wait",
        waiting_for=["registered"],
        until=T0 + 2 * H,
    )
    store.record_progress(waiting)  # before enrolment recorded the run: it is recorded here
    store.record_progress(waiting)  # a retried activity
    assert store.create_run("w", "j", 1, "ada", 1, T0) is False
    (run,) = store.runs_of("ada")
    assert (run.current_step, run.waiting_for, run.outcome) == ("wait", ["registered"], "running")

    ended = waiting.model_copy(
        update={
            "entries": [StepEntry(step="done", from_step="wait", at=T0 + H)],
            "current_step": None,
            "waiting_for": [],
            "until": None,
            "outcome": "completed",
            "ended_at": T0 + H,
        }
    )
    store.record_progress(ended)

    (run,) = store.runs_of("ada")
    assert (run.current_step, run.outcome, run.ended_at) == (None, "completed", T0 + H)
    assert [(s.step, s.arrived) for s in store.journey_report("j").steps] == [("invite", 1), ("wait", 1), ("done", 1)]


def test_journey_report_counts_steps_paths_outcomes_messages_and_goals(store: Store) -> None:
    runs = {
        "r1": ("completed", None, None, [("invite", None), ("wait", "invite"), ("remind", "wait"), ("done", "remind")]),
        "r2": ("exited", "swapped", None, [("invite", None), ("wait", "invite")]),
        "r3": ("exited", "swapped", None, [("invite", None)]),
        "r4": ("running", None, "wait", [("invite", None), ("wait", "invite")]),
        "r5": ("completed", None, "vip", [("invite", None), ("wait", "invite"), ("done", "wait")]),
    }
    for i, (wid, (outcome, exit_event, step_or_label, steps)) in enumerate(runs.items()):
        store.create_run(wid, "j", 1, f"c{i}", 1, T0)
        store.record_steps(wid, "j", 1, [(step, came_from, T0 + n * H) for n, (step, came_from) in enumerate(steps)])
        if outcome == "running":
            store.update_run(wid, current_step=step_or_label)
        else:
            store.update_run(wid, outcome=outcome, exit_event=exit_event, end_label=step_or_label, ended_at=T0)
    _send(store, "m1", "email", "sent")
    _send(store, "m2", "email", "sent")
    _send(store, "m3", "email", "failed")
    _send(store, "m4", "sms", "sent")
    store.create_run("other", "k", 1, "c0", 1, T0)
    store.record_steps("other", "k", 1, [("invite", None, T0)])

    report = store.journey_report("j")

    assert (report.runs, report.live, report.versions) == (5, 1, [1])
    assert [(s.step, s.arrived, s.now, s.left) for s in report.steps] == [
        ("invite", 5, 0, {"wait": 4}),
        ("wait", 4, 1, {"remind": 1, "done": 1}),
        ("done", 2, 0, {}),  # first arrived together with remind: then by name
        ("remind", 1, 0, {"done": 1}),
    ]
    assert report.paths[0] == Transition(from_step=None, step="invite", count=5)
    assert report.outcomes == [
        OutcomeCount(outcome="completed", end_label=None, count=1),
        OutcomeCount(outcome="completed", end_label="vip", count=1),
        OutcomeCount(outcome="exited", end_label=None, count=2),
        OutcomeCount(outcome="running", end_label=None, count=1),
    ]
    assert report.messages == [
        MessageCount(channel="email", status="failed", count=1),
        MessageCount(channel="email", status="sent", count=2),
        MessageCount(channel="sms", status="sent", count=1),
    ]
    assert report.goals == [GoalConversion(exit_event="swapped", runs=2, total=5, rate=0.4)]
    assert store.journey_report("nothing").runs == 0


def _send(store: Store, key: str, channel: str, status: str) -> None:
    store.upsert_customers([Profile(id="c0")])
    message = SendReservation(
        key=key, workflow_id="r1", journey_id="j", customer_id="c0", step="invite", visit=1, channel=channel
    )
    store.reserve_send(message, [], T0)
    store.complete_send(key, status, provider="outbox", at=T0)


def test_save_version_keeps_the_first_text_and_refuses_a_changed_definition(store: Store) -> None:
    store.save_version("j", 1, "id: j\n", "h1", T0)
    store.save_version("j", 1, "id: j\n", "h1", T0 + H)

    with pytest.raises(VersionConflict, match="bump"):
        store.save_version("j", 1, "id: j\nname: changed\n", "h2", T0 + H)
    assert store.version_text("j", 1) == "id: j\n"
    assert store.version_text("j", 2) is None


def test_pause_and_resume(store: Store) -> None:
    assert store.is_paused("j") is False

    store.set_paused("j", True, T0)
    assert store.is_paused("j") is True
    store.set_paused("j", False, T0 + H)
    assert store.is_paused("j") is False


def test_steps_a_retried_workflow_task_enters_again_later_are_logged_once_by_their_numbers(store: Store) -> None:
    def progress(at: datetime) -> Progress:
        steps = [("invite", None, 1), ("wait", "invite", 2)]
        return Progress(
            workflow_id="w",
            journey_id="j",
            version=1,
            customer_id="ada",
            entry=1,
            started_at=T0,
            entries=[StepEntry(step=s, from_step=f, at=at, seq=n) for s, f, n in steps],
            current_step="wait",
        )

    store.record_progress(progress(T0))
    store.record_progress(progress(T0 + H))  # the worker died: another one ran the same task an hour later

    assert [(s.step, s.arrived) for s in store.journey_report("j").steps] == [("invite", 1), ("wait", 1)]
    assert [(s.step, s.seq) for s in store.steps_of_run("w")] == [("invite", 1), ("wait", 2)]


def test_live_runs_are_counted_per_version_and_ended_ones_left_out(store: Store) -> None:
    for n, version in enumerate([1, 1, 2, 2, 2]):
        store.create_run(f"j:{n}", "j", version, f"c{n}", 1, T0)
    store.create_run("other:0", "other", 1, "c0", 1, T0)
    store.update_run("j:0", outcome="exited", exit_event="swapped", ended_at=T0 + H, current_step=None, until=None)

    assert store.live_runs_by_version("j") == {1: 1, 2: 3}
    assert store.live_runs_by_version("nobody") == {}
