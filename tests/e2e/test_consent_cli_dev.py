"""`journeys consent` typed against `journeys dev`: the consent is set, the audit trail says so, and a journey
that exits on opted_out ends."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.support.devserver import Dev
from tests.support.personal import noon_zone


def test_consent_through_the_cli(dev: Dev, tmp_path: Path) -> None:
    customers = tmp_path / "customers.csv"
    customers.write_text(
        f"id,name,email,phone,timezone,plan,wimax_id\nc1,Sara,c1@example.com,+989121000001,{noon_zone()},wimax,W-1\n",
        encoding="utf-8",
    )
    assert dev.run("customers", "import", str(customers)).returncode == 0
    (enrolment,) = dev.json("enroll", "modem-swap", "--all")["enrolments"]  # type: ignore[index]

    denied: Any = dev.json("consent", "c1", "email", "--deny", "--reason", "asked by phone", "--by", "kim")
    assert (denied["status"], denied["by"], denied["reason"]) == ("opted_out", "kim", "asked by phone")
    assert [(r["workflow_id"], r["effect"]) for r in denied["runs"]] == [(enrolment["workflow_id"], "exited")]

    status: Any = dev.json("status", "c1")
    assert status["customer"]["consent"]["email"]["status"] == "opted_out"
    assert [(a["action"], a["by"], a["reason"], a["details"]) for a in status["audit"]] == [
        ("consent", "kim", "asked by phone", {"channel": "email", "status": "opted_out"})
    ]
    (run,) = status["runs"]
    assert (run["outcome"], run["exit_event"]) == ("exited", "opted_out")

    allowed = dev.run("consent", "c1", "email", "--allow", "--reason", "changed their mind")
    assert allowed.returncode == 0 and "email allowed" in allowed.stdout, allowed.stderr
    assert dev.json("status", "c1")["customer"]["consent"]["email"]["status"] == "opted_in"  # type: ignore[index]
    unknown = dev.run("consent", "nobody", "sms", "--deny", "--reason", "asked")
    assert unknown.returncode == 1 and unknown.stderr.strip() == "error: no customer 'nobody' in the store"
