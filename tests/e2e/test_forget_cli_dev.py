"""`journeys customers forget` typed against `journeys dev`: the run ends, its history leaves Temporal, the
customer's name, email and phone leave the store, an audit entry stays, and mistakes are one line."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

from sqlalchemy import create_engine
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from tests.support.devserver import Dev
from tests.support.personal import found_in, noon_zone, stored_values
from tests.support.polling import until

SARA = ["Sara", "Karimi", "sara.karimi@example.com", "+989121000001", "989121000001"]
REZA = ["Reza", "reza@example.com", "+989121000002"]


def _one_line_error(result: subprocess.CompletedProcess[str], exit_code: int = 1) -> str:
    assert result.returncode == exit_code, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


async def _temporal_holds(address: str, wid: str) -> bool:
    client = await Client.connect(address)
    try:
        await client.get_workflow_handle(wid).describe()
        return True
    except RPCError as exc:
        assert exc.status == RPCStatusCode.NOT_FOUND
    return bool([e async for e in client.list_workflows(f"WorkflowId = '{wid}'")])


def test_forget_through_the_cli(dev: Dev, tmp_path: Path) -> None:
    zone = noon_zone()  # no quiet hours hold the invitation
    customers = tmp_path / "customers.csv"
    customers.write_text(
        "id,name,email,phone,timezone,plan,wimax_id\n"
        f"c1,Sara Karimi,sara.karimi@example.com,+989121000001,{zone},wimax,W-1\n"
        f"c2,Reza,reza@example.com,+989121000002,{zone},wimax,W-2\n",
        encoding="utf-8",
    )
    assert dev.run("customers", "import", str(customers)).returncode == 0
    enrolled = dev.json("enroll", "modem-swap", "--all")["enrolments"]
    wid = next(e["workflow_id"] for e in enrolled if e["customer"] == "c1")
    dev.json("signal", "c1", "document_uploaded", "--data", "kind=id_card", "--data", "holder=Sara Karimi")
    until(lambda: [r["messages"] for r in dev.json("status", "c1")["runs"]][0], 30, "the invitation to go out")
    store = create_engine(f"sqlite:///{dev.cwd / 'journeys.db'}")
    assert all(found_in(stored_values(store), [value]) for value in SARA)  # the scan sees her before

    # mistakes: one line each, nothing erased
    assert "--reason" in _one_line_error(dev.run("customers", "forget", "c1"), exit_code=2)
    assert _one_line_error(dev.run("customers", "forget", "nobody", "--reason", "asked")) == (
        "error: no customer 'nobody' in the store"
    )
    assert "names the customer" in _one_line_error(dev.run("customers", "forget", "c1", "--reason", "Sara asked"))

    erased = dev.json("customers", "forget", "c1", "--reason", "asked by letter", "--by", "kim")

    assert (erased["customer"], erased["by"], erased["reason"]) == ("c1", "kim", "asked by letter")
    assert [(r["workflow_id"], r["effect"], r["histories"], r["deleted"]) for r in erased["runs"]] == [
        (wid, "cancelled", 1, True)
    ]
    removed = erased["removed"]
    assert (removed["profile"], removed["events"], removed["documents"], removed["messages_scrubbed"]) == (1, 1, 1, 1)
    assert (removed["temporal_histories"], removed["temporal_pending"]) == (1, 0)
    assert not asyncio.run(_temporal_holds(f"127.0.0.1:{dev.port}", wid))
    values = stored_values(store)
    assert found_in(values, SARA) == []
    assert all(found_in(values, [value]) for value in REZA)  # the other customer is untouched
    store.dispose()

    assert "erased" in _one_line_error(dev.run("status", "c1")) and "by kim" in dev.run("status", "c1").stderr
    assert "erased" in _one_line_error(dev.run("customers", "forget", "c1", "--reason", "again"))

    # the same id imported again: a new customer, with the erasure in their audit trail and nothing else
    assert dev.run("customers", "import", str(customers)).returncode == 0
    status = dev.json("status", "c1")
    assert status["runs"] == [] and status["customer"]["documents"] == {}
    assert [(a["action"], a["by"], a["reason"]) for a in status["audit"]] == [("erasure", "kim", "asked by letter")]

    # for people: what was removed, in counts
    text = dev.run("customers", "forget", "c2", "--reason", "moved away")
    assert text.returncode == 0, text.stderr
    assert "c2 erased by" in text.stdout and "removed" in text.stdout and "cancelled" in text.stdout
