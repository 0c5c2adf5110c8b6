"""Erasure against the real Temporal dev server (the time-skipping test server cannot delete executions): the
customer's runs end, every execution of their workflow ids is gone from Temporal, nothing of their name,
email or phone is left in the store, and the same id imported again starts clean."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from journeys.channels import outbox_only
from journeys.engine.runs import RunInput, workflow_id
from journeys.errors import JourneysError
from journeys.format.customers import Profile
from journeys.runtime.temporal import build_worker
from journeys.services.catalogue import publish
from journeys.services.control import settle
from journeys.services.delivery import signal
from journeys.services.enrolment import enroll
from journeys.services.erasure import executions_of, forget
from journeys.services.status import status
from journeys.settings import Settings
from journeys.store import Store
from tests.support import ROOT
from tests.support.personal import PERSONAL, found_in, noon_zone, parisa, stored_values
from tests.support.polling import eventually

MODEM_SWAP = ROOT / "definitions" / "modem_swap.yaml"
CHAIN = """
id: chain
name: Waits a month; any event wakes it, and with a tiny history limit it continues as new
steps:
  - {id: hold, wait_for: answered, timeout: 30d, on_timeout: done}
  - {id: answered, end: answered}
  - {id: done, end: gave_up}
"""


def bob() -> Profile:
    return Profile(
        id="c2", name="Bob Stone", email="bob@example.com", timezone=noon_zone(), attributes={"plan": "wimax"}
    )


async def _gone(client: Client, wid: str, run_ids: list[str]) -> None:
    for run_id in [None, *run_ids]:
        with pytest.raises(RPCError) as raised:
            await client.get_workflow_handle(wid, run_id=run_id).describe()
        assert raised.value.status == RPCStatusCode.NOT_FOUND, (wid, run_id)
    assert [e async for e in client.list_workflows(f"WorkflowId = '{wid}'")] == []


async def test_forget_ends_runs_deletes_every_history_and_leaves_no_personal_data(
    dev_env: WorkflowEnvironment, settings: Settings, store: Store, tmp_path: Path
) -> None:
    client = dev_env.client
    store.upsert_customers([parisa("c1"), bob()])
    chain_file = tmp_path / "chain.yaml"
    chain_file.write_text(CHAIN, encoding="utf-8")
    chain = publish(chain_file)
    async with build_worker(client, settings, store, outbox_only()):
        enrolments = await enroll(client, store, settings, publish(MODEM_SWAP), ["c1", "c2"])
        swap, other = (e.workflow_id for e in enrolments)
        assert swap and other
        for wid in (swap, other):
            assert (await settle(client, wid)).current_step == "await_registration"
        assert [m.recipient for m in store.messages_of("c1")] == [parisa().email]  # the invitation went out
        # a run that continued as new: two executions under one workflow id
        long_wid = workflow_id("chain", "c1", 1)
        handle = await client.start_workflow(
            "Journey",
            RunInput(journey=chain.journey, templates=chain.templates, customer_id="c1", history_limit=1),
            id=long_wid,
            task_queue=settings.task_queue,
        )
        store.create_run(long_wid, "chain", 1, "c1", 1, (await handle.describe()).start_time)
        first_run = (await handle.describe()).run_id
        await settle(client, long_wid)
        await signal(client, store, settings, "c1", "noise", {"said": f"hi, I am {parisa().name}"})

        async def continued() -> bool:
            return (await client.get_workflow_handle(long_wid).describe()).run_id != first_run

        await eventually(continued, 15, "the chain run to continue as new")
        await settle(client, long_wid)
        chain_runs = await executions_of(client, long_wid)
        assert len(chain_runs) == 2 and first_run in chain_runs
        assert found_in(stored_values(store.engine), PERSONAL)  # the scan below can see her

        erasure = await forget(client, store, "c1", "asked to be forgotten, by letter", by="kim")

        assert [(r.workflow_id, r.effect, r.histories) for r in erasure.runs] == sorted(
            [(long_wid, "cancelled", 2), (swap, "cancelled", 1)]
        )
        assert erasure.removed["temporal_histories"] == 3 and erasure.removed["profile"] == 1
        assert erasure.removed["messages_scrubbed"] == 1 and erasure.removed["events"] == 1
        for wid, run_ids in ((swap, []), (long_wid, chain_runs)):
            await _gone(client, wid, run_ids)
        # the other customer's run goes on
        assert (await client.get_workflow_handle(other).describe()).status == WorkflowExecutionStatus.RUNNING
        names = [e.id async for e in client.list_workflows()]
        assert [n for n in names if ":c1:" in n] == []

        assert found_in(stored_values(store.engine), PERSONAL) == []
        with pytest.raises(JourneysError, match=r"no customer 'c1' in the store: erased .* by kim"):
            await status(client, store, "c1")

        # the same id again: a new customer with no past, whose first run takes the first workflow id again
        store.upsert_customers([parisa("c1")])
        (again,) = await enroll(client, store, settings, publish(MODEM_SWAP), ["c1"])
        assert (again.status, again.workflow_id) == ("started", swap)
        assert (await settle(client, swap)).current_step == "await_registration"
        story = await status(client, store, "c1")
        assert [r["workflow_id"] for r in story["runs"]] == [swap]
        assert story["customer"]["consent"] == {} and story["customer"]["documents"] == {}
        assert [len(r["messages"]) for r in story["runs"]] == [1]  # the new invitation only
        ((action, by, reason),) = [(a["action"], a["by"], a["reason"]) for a in story["audit"]]
        assert (action, by, reason) == ("erasure", "kim", "asked to be forgotten, by letter")


async def test_forget_refuses_in_one_line_before_touching_anything(
    dev_env: WorkflowEnvironment, settings: Settings, store: Store
) -> None:
    store.upsert_customers([parisa("c1")])
    with pytest.raises(JourneysError, match=r"^no customer 'nobody' in the store$"):
        await forget(dev_env.client, store, "nobody", "why")
    with pytest.raises(JourneysError, match="names the customer"):
        await forget(dev_env.client, store, "c1", "Parisa asked")
    with pytest.raises(JourneysError, match="--reason"):
        await forget(dev_env.client, store, "c1", "  ")
    assert store.customer_row("c1") is not None and store.customer_audits_of("c1") == []
