"""The `journeys` command: a few runs of the installed script, the rest in-process through `main`."""

from __future__ import annotations

import json
import re
import shutil
import textwrap
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from tests.support import ROOT
from tests.support.cli import run, run_script

DEFINITIONS = ROOT / "definitions"
MODEM_SWAP = DEFINITIONS / "modem_swap.yaml"
SCENARIO = DEFINITIONS / "scenarios" / "modem_swap"
START = "2026-11-23T08:00:00+03:30"
SIMULATE = [
    "simulate",
    str(MODEM_SWAP),
    "--customers",
    str(SCENARIO / "customers.yaml"),
    "--events",
    str(SCENARIO / "events.yaml"),
]

BROKEN = """\
id: Bad Id
name: broken
stepz: []
steps:
  - id: a
    wait: 3x
  - id: w
    wait_for: registered
"""


def assert_one_line_error(code: int, err: str) -> str:
    assert code != 0
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    return lines[0]


# --- the installed script -------------------------------------------------------------------------


def test_script_help_lists_the_commands() -> None:
    result = run_script("--help")
    assert result.returncode == 0, result.stderr
    for command in ("validate", "schema", "render", "simulate"):
        assert re.search(rf"\b{command}\b", result.stdout), command


def test_script_validate_accepts_every_shipped_definition() -> None:
    files = sorted(DEFINITIONS.glob("*.yaml"))
    assert files
    result = run_script("validate", *map(str, files))
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    for path in files:
        assert str(path) in result.stdout


def test_script_validate_reports_every_problem_of_a_broken_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(BROKEN, encoding="utf-8")
    result = run_script("validate", str(broken), cwd=tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 4, result.stderr
    positions = []
    for line in lines:
        match = re.match(rf"^{re.escape(str(broken))}:(\d+):(\d+): \S", line)
        assert match, line
        positions.append((int(match[1]), int(match[2])))
    assert positions == [(1, 5), (3, 1), (6, 11), (7, 5)]  # id, stepz, 3x, wait_for without timeout
    assert "did you mean 'steps'" in result.stderr


def test_script_simulate_json_is_one_json_object() -> None:
    result = run_script(*SIMULATE, "--start", START, "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["journey"] == "modem-swap"
    assert [c["id"] for c in data["customers"]] == ["c1", "c2", "c3", "c4", "c5", "c6"]


def test_script_unknown_option_is_one_line() -> None:
    result = run_script(*SIMULATE, "--bogus")
    line = assert_one_line_error(result.returncode, result.stderr)
    assert "--bogus" in line
    assert result.stdout == ""


# --- validate ---------------------------------------------------------------------------------------


def test_validate_shipped_definitions_exit_zero() -> None:
    code, out, err = run("validate", *map(str, sorted(DEFINITIONS.glob("*.yaml"))))
    assert code == 0, err
    assert "modem-swap v3" in out


def test_validate_broken_file_exits_one_with_positions(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        textwrap.dedent(
            """\
            id: bad
            name: x
            steps:
              - id: a
                wait: 3d
              - id: a
                goto: nowhere
              - id: w
                wait_for: foo
                timeout: 1d
                on_timeout: missing
            """
        ),
        encoding="utf-8",
    )
    code, out, err = run("validate", str(broken))
    assert code == 1
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines == [
        f"{broken}:6:9: duplicate step id 'a' (first used at line 4)",
        f"{broken}:7:11: step 'a': goto: there is no step 'nowhere'",
        f"{broken}:11:17: step 'w': on_timeout: there is no step 'missing'",
    ]


def test_validate_yaml_syntax_error_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "syntax.yaml"
    bad.write_text("id: [\n", encoding="utf-8")
    missing = tmp_path / "missing.yaml"
    code, _, err = run("validate", str(bad), str(missing))
    assert code == 1
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 2
    assert re.match(rf"^{re.escape(str(bad))}:\d+:\d+: YAML syntax error", lines[0])
    assert lines[1].startswith(f"{missing}:1:1: ")


def test_validate_one_bad_file_among_good_ones_fails(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(BROKEN, encoding="utf-8")
    code, out, _ = run("validate", str(MODEM_SWAP), str(broken))
    assert code == 1
    assert str(MODEM_SWAP) in out


def test_validate_json_shape(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(BROKEN, encoding="utf-8")
    code, out, _ = run("validate", "--json", str(MODEM_SWAP), str(broken))
    assert code == 1
    report = json.loads(out)
    assert isinstance(report, list) and len(report) == 2
    good, bad = report
    assert good == {"file": str(MODEM_SWAP), "valid": True, "journey": "modem-swap", "problems": []}
    assert bad["file"] == str(broken)
    assert bad["valid"] is False
    assert bad["journey"] is None
    assert len(bad["problems"]) == 4
    for problem in bad["problems"]:
        assert set(problem) >= {"line", "col", "severity", "message"}
        assert isinstance(problem["line"], int) and isinstance(problem["col"], int)
        assert problem["severity"] in ("error", "warning")
        assert isinstance(problem["message"], str) and problem["message"]
    assert [(p["line"], p["col"]) for p in bad["problems"]] == [(1, 5), (3, 1), (6, 11), (7, 5)]


def test_validate_json_of_valid_files_exits_zero() -> None:
    code, out, _ = run("validate", "--json", *map(str, sorted(DEFINITIONS.glob("*.yaml"))))
    assert code == 0
    assert all(entry["valid"] for entry in json.loads(out))


# --- schema and render ------------------------------------------------------------------------------


def test_schema_prints_a_json_schema() -> None:
    code, out, _ = run("schema")
    assert code == 0
    schema = json.loads(out)
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert "steps" in schema.get("properties", {})


def test_render_mermaid_is_a_flowchart() -> None:
    code, out, _ = run("render", "--format", "mermaid", str(MODEM_SWAP))
    assert code == 0
    assert out.startswith("flowchart")
    for step in ("invite", "remind", "happy_call", "give_up"):
        assert step in out


def test_render_default_format_is_mermaid() -> None:
    code, out, _ = run("render", str(MODEM_SWAP))
    assert code == 0
    assert out.startswith("flowchart")


def test_render_dot_is_a_digraph() -> None:
    code, out, _ = run("render", "--format", "dot", str(MODEM_SWAP))
    assert code == 0
    assert out.lstrip().startswith("digraph")
    assert out.rstrip().endswith("}")
    assert "invite" in out and "->" in out


def test_render_dot_to_output_file(tmp_path: Path) -> None:
    target = tmp_path / "map.dot"
    code, _, _ = run("render", "-f", "dot", "-o", str(target), str(MODEM_SWAP))
    assert code == 0
    assert target.read_text(encoding="utf-8").startswith("digraph")


@pytest.mark.skipif(shutil.which("dot") is not None, reason="Graphviz dot is installed")
@pytest.mark.parametrize("fmt", ["svg", "png"])
def test_render_image_without_graphviz_is_one_line(fmt: str) -> None:
    code, out, err = run("render", "--format", fmt, str(MODEM_SWAP))
    assert code == 1
    line = assert_one_line_error(code, err)
    assert "dot" in line
    assert out == ""


def test_render_invalid_definition_lists_problems(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(BROKEN, encoding="utf-8")
    code, out, err = run("render", str(broken))
    assert code == 1
    assert out == ""
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 4
    assert all(line.startswith(f"{broken}:") for line in lines)


def test_render_unknown_format_is_a_usage_error() -> None:
    code, _, err = run("render", "--format", "gif", str(MODEM_SWAP))
    line = assert_one_line_error(code, err)
    assert "--format" in line


# --- simulate ---------------------------------------------------------------------------------------


def _is(value: Any, *types: type) -> bool:
    # bool is an int in Python: a count or offset must not be a bool
    if bool not in types and isinstance(value, bool):
        return False
    return isinstance(value, types)


def test_simulate_json_has_the_spec_keys_and_types() -> None:
    code, out, err = run(*SIMULATE, "--start", START, "--days", "30", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert set(data) >= {"journey", "version", "days", "started_at", "customers", "totals"}
    assert data["journey"] == "modem-swap"
    assert data["version"] == 3 and _is(data["version"], int)
    assert data["days"] == 30 and _is(data["days"], int)
    assert data["started_at"] == START
    started = datetime.fromisoformat(data["started_at"])
    outcomes = {"completed", "exited", "cancelled", "holdout", "failed", "running", "skipped"}
    all_messages = []
    for customer in data["customers"]:
        assert set(customer) >= {
            "id",
            "enrolled",
            "skipped_reason",
            "outcome",
            "exit_event",
            "end_label",
            "ended_offset_s",
            "current_step",
            "steps",
            "messages",
        }
        assert _is(customer["id"], str)
        assert _is(customer["enrolled"], bool)
        assert customer["skipped_reason"] is None or _is(customer["skipped_reason"], str)
        assert customer["outcome"] in outcomes
        assert customer["exit_event"] is None or _is(customer["exit_event"], str)
        assert customer["end_label"] is None or _is(customer["end_label"], str)
        assert customer["ended_offset_s"] is None or _is(customer["ended_offset_s"], int)
        assert customer["current_step"] is None or _is(customer["current_step"], str)
        assert (customer["outcome"] == "skipped") == (not customer["enrolled"])
        assert (customer["skipped_reason"] is not None) == (customer["outcome"] == "skipped")
        assert (customer["current_step"] is not None) == (customer["outcome"] == "running")
        for step in customer["steps"]:
            assert set(step) >= {"offset_s", "step"}
            assert _is(step["offset_s"], int) and step["offset_s"] >= 0
            assert _is(step["step"], str)
        for message in customer["messages"]:
            assert set(message) >= {"offset_s", "at", "step", "channel", "to", "subject", "body"}
            assert _is(message["offset_s"], int)
            assert _is(message["at"], str)
            at = datetime.fromisoformat(message["at"])
            assert at.tzinfo is not None
            assert (at - started).total_seconds() == message["offset_s"]
            assert message["channel"] in ("email", "sms", "voice", "webhook")
            assert _is(message["to"], str) and message["to"]
            assert message["subject"] is None or _is(message["subject"], str)
            assert (message["subject"] is not None) == (message["channel"] == "email")
            assert _is(message["body"], str) and message["body"]
        offsets = [m["offset_s"] for m in customer["messages"]]
        assert offsets == sorted(offsets)
        all_messages += customer["messages"]
    totals = data["totals"]
    assert set(totals) >= {"messages", "by_channel", "outcomes"}
    assert totals["messages"] == len(all_messages) and _is(totals["messages"], int)
    assert sum(totals["by_channel"].values()) == len(all_messages)
    for channel, count in totals["by_channel"].items():
        assert count == sum(1 for m in all_messages if m["channel"] == channel)
    assert sum(totals["outcomes"].values()) == len(data["customers"])
    assert set(totals["outcomes"]) <= outcomes


def test_simulate_json_tells_the_scenario() -> None:
    code, out, _ = run(*SIMULATE, "--start", START, "--json")
    assert code == 0
    customers = {c["id"]: c for c in json.loads(out)["customers"]}
    assert (customers["c1"]["outcome"], customers["c1"]["end_label"]) == ("completed", "converted")
    assert (customers["c3"]["outcome"], customers["c3"]["exit_event"]) == ("exited", "swapped")
    assert customers["c4"]["enrolled"] is False and "swapped" in customers["c4"]["skipped_reason"]
    assert customers["c5"]["enrolled"] is False and customers["c5"]["messages"] == []
    assert customers["c1"]["messages"][0]["subject"] == "Sara, your free 4G modem is waiting"
    assert customers["c1"]["messages"][0]["to"] == "sara@example.com"
    assert customers["c1"]["steps"][0] == {"offset_s": 0, "step": "invite"}


def test_simulate_days_defaults_to_30_and_start_to_now() -> None:
    before = datetime.now(timezone.utc).replace(microsecond=0)
    code, out, _ = run(*SIMULATE, "--json")
    after = datetime.now(timezone.utc)
    assert code == 0
    data = json.loads(out)
    assert data["days"] == 30
    started = datetime.fromisoformat(data["started_at"])
    assert started.tzinfo is not None
    assert started.microsecond == 0
    assert "." not in data["started_at"]
    assert before - timedelta(seconds=1) <= started <= after + timedelta(seconds=1)


def test_simulate_days_option() -> None:
    code, out, _ = run(*SIMULATE, "--start", START, "--days", "2", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["days"] == 2
    offsets = [m["offset_s"] for customer in data["customers"] for m in customer["messages"]]
    assert offsets and max(offsets) <= 2 * 86400  # messages in the first two days, none after


def test_simulate_human_output_names_customers_and_totals() -> None:
    code, out, err = run(*SIMULATE, "--start", START)
    assert code == 0, err
    for customer_id in ("c1", "c2", "c3", "c4", "c5", "c6"):
        assert re.search(rf"\b{customer_id}\b", out), customer_id
    assert "totals" in out
    assert "messages" in out
    with pytest.raises(json.JSONDecodeError):
        json.loads(out)


def test_simulate_start_without_offset_is_one_line() -> None:
    code, out, err = run(*SIMULATE, "--start", "2026-11-23T08:00:00")
    line = assert_one_line_error(code, err)
    assert "--start" in line and "offset" in line
    assert out == ""


def test_simulate_start_not_a_date_is_one_line() -> None:
    code, _, err = run(*SIMULATE, "--start", "next tuesday")
    assert "--start" in assert_one_line_error(code, err)


def test_simulate_missing_customers_file_is_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "nobody.csv"
    code, _, err = run("simulate", str(MODEM_SWAP), "--customers", str(missing))
    line = assert_one_line_error(code, err)
    assert str(missing) in line


def test_simulate_customers_csv_bad_row_is_one_line(tmp_path: Path) -> None:
    customers = tmp_path / "customers.csv"
    customers.write_text("id,name,plan\nc1,Sara,wimax\nc2,Ali,wimax,extra\n", encoding="utf-8")
    code, _, err = run("simulate", str(MODEM_SWAP), "--customers", str(customers))
    line = assert_one_line_error(code, err)
    assert f"{customers}:3" in line


def test_simulate_events_unknown_customer_is_one_line(tmp_path: Path) -> None:
    events = tmp_path / "events.yaml"
    events.write_text("- {customer: c1, event: registered, after: 1d}\n- {customer: zz, event: registered}\n")
    args = ["simulate", str(MODEM_SWAP), "--customers", str(SCENARIO / "customers.yaml"), "--events", str(events)]
    code, _, err = run(*args)
    line = assert_one_line_error(code, err)
    assert f"{events}:2" in line and "'zz'" in line


def test_simulate_unknown_option_is_one_line() -> None:
    code, _, err = run(*SIMULATE, "--bogus")
    assert "--bogus" in assert_one_line_error(code, err)


def test_simulate_missing_customers_option_is_one_line() -> None:
    code, _, err = run("simulate", str(MODEM_SWAP))
    assert "--customers" in assert_one_line_error(code, err)


def test_simulate_negative_days_is_one_line() -> None:
    code, _, err = run(*SIMULATE, "--days", "-1")
    assert "--days" in assert_one_line_error(code, err)


def test_simulate_invalid_definition_lists_problems(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(BROKEN, encoding="utf-8")
    code, out, err = run("simulate", str(broken), "--customers", str(SCENARIO / "customers.yaml"))
    assert code == 1
    assert out == ""
    assert "Traceback" not in err
    assert all(line.startswith(f"{broken}:") for line in err.splitlines() if line.strip())


def test_unknown_command_is_one_line() -> None:
    code, _, err = run("frobnicate")
    assert "frobnicate" in assert_one_line_error(code, err)


@pytest.mark.parametrize("who", [["--all"], ["--customer", "k1"]])
def test_enroll_refuses_a_trigger_journey_in_one_line(
    who: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # nothing answers at this address: the refusal comes before anything is asked of Temporal or the store
    monkeypatch.setenv("JOURNEYS_TEMPORAL_ADDRESS", "127.0.0.1:1")
    monkeypatch.setenv("JOURNEYS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("JOURNEYS_DATABASE_URL", f"sqlite:///{tmp_path}/store.db")
    monkeypatch.setenv("JOURNEYS_DEFINITIONS", str(DEFINITIONS))
    code, out, err = run("enroll", "complaint-followup", *who)
    line = assert_one_line_error(code, err)
    assert code == 1 and out == ""
    assert "complaint_filed" in line and "entry.trigger" in line and "journeys signal" in line
    assert not (tmp_path / "store.db").exists()


def test_signal_output_says_a_paused_trigger_journey_enrolled_no_one() -> None:
    import io

    from rich.console import Console

    from journeys.cli.views import print_signal
    from journeys.services.delivery import SignalResult
    from journeys.services.shared import RunEffect

    paused = "journey paused: it enrols no one until journeys resume complaint-followup"
    result = SignalResult(
        event_id="e1",
        customer="k1",
        event="complaint_filed",
        duplicate=False,
        runs=[
            RunEffect(journey="survey", workflow_id="journey:survey:k1:1", effect="advanced"),
            RunEffect(journey="complaint-followup", workflow_id="", effect="skipped", reason=paused),
        ],
    )
    out = io.StringIO()
    print_signal(Console(file=out, width=200, no_color=True), result)
    lines = out.getvalue().splitlines()
    assert lines[0] == "recorded complaint_filed for k1 (id e1)"
    assert lines[1].split() == ["survey:", "advanced", "journey:survey:k1:1"]
    assert lines[2].strip() == f"complaint-followup: skipped ({paused})"
    runs = result.model_dump(mode="json")["runs"]
    assert runs[1] == {"journey": "complaint-followup", "workflow_id": "", "effect": "skipped", "reason": paused}


def test_report_by_anything_but_day_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOURNEYS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("JOURNEYS_DATABASE_URL", f"sqlite:///{tmp_path}/store.db")
    code, out, err = run("report", "modem-swap", "--by", "week")
    assert "--by 'week'" in assert_one_line_error(code, err) and out == ""
    assert not (tmp_path / "store.db").exists()


def test_report_view_shows_each_cohort_with_its_lift_the_answers_and_the_days() -> None:
    import io

    from rich.console import Console

    from journeys.cli.views import print_report
    from journeys.store import JourneyReport
    from journeys.store.conversion import Answers, CohortConversion, Conversion, Day

    report = JourneyReport(
        journey="onboarding",
        version=1,
        versions=[1],
        runs=30,
        live=0,
        steps=[],
        paths=[],
        outcomes=[],
        messages=[],
        goals=[],
        conversion=Conversion(
            window="14d",
            goals=["first_purchase"],
            cohorts={
                "a": CohortConversion(enrolled=10, converted=3, rate=0.3, lift_vs_holdout=0.5),
                "holdout": CohortConversion(enrolled=10, converted=2, rate=0.2),
            },
            unsplit=10,
        ),
        answers={"satisfaction_rated": Answers(count=3, by_answer={"4": 1, "5": 2}, mean=14 / 3)},
        days=[Day(day="2026-11-23", enrolled=30, messages=20, converted=5)],
    )
    out = io.StringIO()
    print_report(Console(file=out, width=200, no_color=True), report)
    lines = [line.split() for line in out.getvalue().splitlines()]
    assert ["a", "│", "10", "│", "3", "│", "30%", "│", "+50%"] in lines
    assert ["holdout", "│", "10", "│", "2", "│", "20%", "│"] in lines
    assert ["goals:", "first_purchase;", "10", "run(s)", "not", "split", "yet"] in lines
    assert ["satisfaction_rated", "│", "3", "│", "4.67", "│", "4:", "1,", "5:", "2"] in lines
    assert ["2026-11-23", "│", "30", "│", "20", "│", "5"] in lines
