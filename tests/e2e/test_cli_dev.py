"""End to end through the `journeys` command on the embedded default: `journeys dev` in one process,
the support commands in others, as a person would type them."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import httpx

from tests.support import ROOT
from tests.support.clock import midday_zone
from tests.support.devserver import JOURNEYS, Dev, free_port
from tests.support.polling import until


def test_import_enroll_signal_status_cancel_through_the_cli(dev: Dev, tmp_path: Path) -> None:
    customers = tmp_path / "customers.csv"
    customers.write_text(
        "id,name,email,phone,locale,timezone,plan,wimax_id\n"
        f"c1,Sara,sara@example.com,+989121000001,en,{midday_zone()},wimax,W-1\n"
        "c2,Reza,reza@example.com,+989121000002,fa,Asia/Tehran,wimax,W-2\n"
        "c3,Bad,not-an-email,+989121000003,fa,Asia/Tehran,wimax,W-3\n",
        encoding="utf-8",
    )
    imported = dev.run("customers", "import", str(customers))
    assert imported.returncode == 1 and "customers.csv:4: email" in imported.stderr  # the bad row, by line
    assert "2 imported" in imported.stdout

    enrolled = dev.json("enroll", "modem-swap", "--all")
    assert sorted(e["status"] for e in enrolled["enrolments"]) == ["started", "started"]
    again = dev.json("enroll", "modem-swap", "--customer", "c1")
    assert again["enrolments"][0]["status"] == "already"

    swapped = dev.json("signal", "c2", "swapped", "--id", "sale-1")
    assert swapped["duplicate"] is False
    assert [(r["journey"], r["effect"]) for r in swapped["runs"]] == [("modem-swap", "exited")]
    assert dev.json("signal", "c2", "swapped", "--id", "sale-1")["duplicate"] is True

    # the API on the same server, with the admin key `journeys dev` printed
    printed = re.search(r"^API: (\S+) with the admin key (\S+) \(kept in .*\)$", "".join(dev.said), re.MULTILINE)
    assert printed is not None, dev.said
    base, key = printed.groups()
    api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=30)
    journeys = {j["id"]: j for j in api.get(f"{base}/journeys").json()}
    assert journeys["modem-swap"]["live_runs"] == 1  # c1's; c2's run exited
    assert api.get(f"{base}/customers/c2").json()["runs"][0]["exit_event"] == "swapped"
    assert api.post(f"{base}/events", json={"customer": "nobody", "event": "x"}).status_code == 404

    # the console on the same server, as the admin `journeys dev` made and printed
    console = re.search(
        r"^Console: (\S+) as (\S+) with the password (\S+) \(kept in .*\)$", "".join(dev.said), re.MULTILINE
    )
    assert console is not None, dev.said
    address, user, password = console.groups()
    with httpx.Client(base_url=address, timeout=30) as browser:
        form = browser.get("sign-in").text
        token = re.search(r'name="csrf" value="([^"]+)"', form)
        assert token is not None
        browser.post("sign-in", data={"username": user, "password": password, "csrf": token.group(1)})
        story = browser.get("customers/c2")
    assert story.status_code == 200 and 'data-kind="event"' in story.text and "swapped" in story.text

    registered = dev.json("signal", "c1", "registered", "--data", "source=phone")
    assert [r["effect"] for r in registered["runs"]] == ["advanced"]

    status = dev.json("status", "c1")
    assert status["customer"]["id"] == "c1"
    (run,) = status["runs"]
    keys = {"journey", "version", "workflow_id", "outcome", "exit_event", "current_step", "waiting_for", "until"}
    assert keys <= set(run)
    assert (run["journey"], run["version"], run["outcome"]) == ("modem-swap", 3, "running")
    assert run["current_step"] == "await_delivery" and run["waiting_for"] == ["delivered"]
    assert [m["step"] for m in run["messages"]] == ["invite"] or run["messages"] == []  # quiet hours may hold it
    assert dev.json("status", "c2")["runs"][0]["outcome"] == "exited"

    events = tmp_path / "events.jsonl"
    events.write_text(
        '{"customer": "c1", "event": "delivered", "data": {"courier": "post"}}\n{"customer": "nobody", "event": "x"}\n',
        encoding="utf-8",
    )
    bulk = dev.run("events", "import", str(events), "--json")
    report = json.loads(bulk.stdout)
    assert bulk.returncode == 1  # a bad line: reported by its number, the good one taken
    assert (report["recorded"], report["rejected"], report["effects"]["advanced"]) == (1, 1, 1)
    assert report["problems"] == [f"{events}:2: customer: no customer 'nobody' in the store"]
    again = json.loads(dev.run("events", "import", str(events), "--json").stdout)
    assert (again["recorded"], again["duplicates"]) == (0, 1)  # the same file again changes nothing
    until(lambda: dev.json("status", "c1")["runs"][0]["current_step"] != "await_delivery", 10, "delivered taken")

    no_reason = dev.run("cancel", "c1")
    assert no_reason.returncode == 2 and "--reason" in no_reason.stderr  # a usage error: nothing was cancelled
    cancelled = dev.json("cancel", "c1", "--reason", "moved abroad", "--by", "agent-7")
    assert [r["effect"] for r in cancelled["runs"]] == ["cancelled"]
    assert (cancelled["by"], cancelled["reason"]) == ("agent-7", "moved abroad")
    until(lambda: dev.json("status", "c1")["runs"][0]["outcome"] == "cancelled", 10, "the run to be cancelled")

    story = dev.json("status", "c1")
    assert {"customer", "consent", "events", "runs", "audit", "live"} <= set(story) and story["live"] is True
    assert story["consent"] == {"email": True, "sms": True, "voice": True, "webhook": True}
    assert [(e["name"], e["data"], e["source"]) for e in story["events"]] == [
        ("registered", {"source": "phone"}, "cli"),
        ("delivered", {"courier": "post"}, "import"),
    ]
    (run,) = story["runs"]
    assert [s["step"] for s in run["steps"]][:3] == ["invite", "await_registration", "await_delivery"]
    assert all({"step", "at"} <= set(s) for s in run["steps"])
    assert all({"at", "step", "channel", "to", "status", "subject", "body"} <= set(m) for m in run["messages"])
    assert [(a["action"], a["by"], a["reason"]) for a in run["audit"]] == [("cancel", "agent-7", "moved abroad")]

    # Temporal does not answer: the store's story, saying so, at once and with exit 0
    dead = {**dev.env, "JOURNEYS_TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}"}
    alone = subprocess.run(
        [*JOURNEYS, "status", "c1", "--json"], env=dead, cwd=dev.cwd, capture_output=True, text=True, timeout=60
    )
    assert alone.returncode == 0, alone.stderr
    assert json.loads(alone.stdout) == {**story, "live": False, "runs": [{**run, "state_from": "store"}]}
    table = subprocess.run(
        [*JOURNEYS, "status", "c1", "--text"],
        env={**dead, "COLUMNS": "200"},
        cwd=dev.cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert table.returncode == 0, table.stderr
    assert "from the store alone" in table.stdout
    lines = table.stdout.splitlines()
    assert any("registered" in line and "cli" in line for line in lines)  # the timeline, with each event's source
    assert all(m["subject"] in table.stdout for m in run["messages"] if m["subject"])  # --text: messages as rendered
    assert "cancelled by agent-7: moved abroad" in table.stdout


def test_state_survives_a_restart_of_journeys_dev(dev: Dev, tmp_path: Path) -> None:
    customers = tmp_path / "customers.yaml"
    customers.write_text("- {id: c1, name: Sara, email: sara@example.com, plan: wimax, wimax_id: W-1}\n")
    assert dev.run("customers", "import", str(customers)).returncode == 0
    (enrolment,) = dev.json("enroll", "modem-swap", "--all")["enrolments"]
    assert dev.stop() == 0  # Ctrl-C stops everything cleanly

    # meanwhile a continuous journey is deployed: who already matches is enrolled once it runs, as is who is
    # imported later, by the dev server itself (nobody types `enroll`)
    definitions = tmp_path / "definitions"
    shutil.copytree(ROOT / "definitions", definitions)
    (definitions / "wimax_welcome.yaml").write_text(WIMAX_WELCOME, encoding="utf-8")
    dev.env["JOURNEYS_DEFINITIONS"] = str(definitions)
    dev.start()
    (swap,) = [run for run in dev.json("status", "c1")["runs"] if run["journey"] == "modem-swap"]
    assert (swap["workflow_id"], swap["outcome"]) == (enrolment["workflow_id"], "running")
    result = dev.json("signal", "c1", "swapped", "--journey", "modem-swap")
    assert [r["effect"] for r in result["runs"]] == ["exited"]  # the run lived on in the dev server's file

    more = tmp_path / "more.csv"
    more.write_text("id,name,phone,plan\nc2,Reza,+989121000002,wimax\nc3,Nima,+989121000003,lte\n", encoding="utf-8")
    assert dev.run("customers", "import", str(more)).returncode == 0

    def welcomed() -> list[str]:
        return sorted(
            c for c in ("c1", "c2", "c3") for run in dev.json("status", c)["runs"] if run["journey"] == "wimax-welcome"
        )

    until(lambda: welcomed() == ["c1", "c2"], 30, "the dev server to enrol c1 and c2 in the continuous journey")
    assert dev.json("report", "wimax-welcome")["runs"] == 2


WIMAX_WELCOME = """
id: wimax-welcome
name: Welcome to WiMAX
entry: {when: "customer.attributes.plan == 'wimax'", continuous: true}
steps:
  - {id: welcome, wait: 7d}
"""


def test_client_commands_say_in_one_line_when_nothing_answers(tmp_path: Path) -> None:
    env = {**os.environ, "JOURNEYS_TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}", "JOURNEYS_DATA_DIR": str(tmp_path)}
    result = subprocess.run(
        [*JOURNEYS, "cancel", "c1", "--reason", "asked"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "no Temporal server answers" in lines[0] and "Traceback" not in result.stderr
