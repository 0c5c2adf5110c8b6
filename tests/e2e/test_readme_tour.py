"""The README's tour, as a new user types it: `journeys dev` in one terminal, then every command of the
tour's other blocks (those marked `<!-- not run -->` for the docs lane, since they need the server) in
another, against it. Each must succeed, and the story must come out as the README tells it."""

from __future__ import annotations

import json
import subprocess

from tests.support import ROOT
from tests.support.devserver import JOURNEYS, Dev
from tests.support.markdown import blocks, commands

TOUR = [c for b in blocks(ROOT / "README.md", "sh") if b.not_run for c in commands(b) if c.argv[1] != "dev"]


def journeys(dev: Dev, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*JOURNEYS, *args], cwd=ROOT, env=dev.env, capture_output=True, text=True, timeout=120)


def test_the_readme_tour_runs_on_journeys_dev_and_tells_its_story(dev: Dev) -> None:
    assert [c.argv[1] for c in TOUR][:3] == ["customers", "signal", "enroll"], "the tour's commands were not found"
    for command in TOUR:
        done = journeys(dev, *command.argv[1:])
        assert done.returncode == command.expected, f"`{command.text}`:\n{done.stdout}\n{done.stderr}"
    status = json.loads(journeys(dev, "status", "c3", "--json").stdout)
    assert [run["outcome"] for run in status["runs"]] == ["exited"]  # "c3's run ends at once"
    skipped = json.loads(journeys(dev, "status", "c4", "--json").stdout)
    assert skipped["runs"] == []  # "c4 skipped (entry.unless)"

    # what marketers ask first: c3's swap converts; an answer to the satisfaction call is counted
    answered = journeys(dev, "signal", "c1", "satisfaction_rated", "--data", "digits=5")
    assert answered.returncode == 0, answered.stderr
    report = json.loads(journeys(dev, "report", "modem-swap", "--by", "day", "--json").stdout)
    assert (report["journey"], report["version"], report["runs"]) == ("modem-swap", 3, 4)  # c1, c2, c3, c6
    assert report["conversion"]["window"] == "30d"
    assert report["conversion"]["cohorts"] == {
        "all": {"enrolled": 4, "converted": 1, "rate": 0.25, "lift_vs_holdout": None}
    }
    assert report["answers"] == {"satisfaction_rated": {"count": 1, "by_answer": {"5": 1}, "mean": 5.0}}
    days = report["days"]
    assert [sum(d[k] for d in days) for k in ("enrolled", "converted")] == [4, 1]
    assert sum(d["messages"] for d in days) == sum(m["count"] for m in report["messages"])  # quiet hours hold some
