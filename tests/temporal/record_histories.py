"""Record the histories that `test_replay.py` replays: `python -m tests.temporal.record_histories TAG`.

Run it after a deliberate change to the commands the workflow issues, naming it (its `workflow.patched` id;
or, for a change decided by data the history already holds, such as `carried-snapshots`, a name of its
own): the new histories are written beside the older ones (`TAG.modem_swap_<customer>.json`), which stay,
so runs started on every earlier version keep being replayed. Never run it to make a failing replay test
pass: a replay failure means live runs would break.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import uuid
from datetime import timedelta
from pathlib import Path

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from journeys.channels import outbox_only
from journeys.format.customers import Profile
from journeys.runtime.temporal import binary, build_worker
from journeys.services.catalogue import publish
from journeys.services.delivery import signal
from journeys.services.enrolment import enroll
from journeys.settings import Settings
from journeys.store import Store
from tests.support import ROOT

HISTORIES = Path(__file__).parent / "histories"


def _customer(cid: str) -> Profile:
    return Profile(
        id=cid,
        name="Test Customer",
        email=f"{cid}@example.com",
        phone="+15550000000",
        locale="fa",
        timezone="Asia/Tehran",
        attributes={"plan": "wimax", "wimax_id": f"W-{cid}"},
    )


async def record(tag: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        store = Store.open(f"sqlite:///{folder}/store.db")
        settings = Settings(
            data_dir=Path(folder), definitions=ROOT / "definitions", task_queue=f"rec-{uuid.uuid4().hex[:6]}"
        )
        env = await WorkflowEnvironment.start_time_skipping(
            data_converter=pydantic_data_converter, test_server_existing_path=binary("temporal-test-server")
        )
        async with build_worker(env.client, settings, store, outbox_only()):
            published = publish(ROOT / "definitions" / "modem_swap.yaml")
            store.upsert_customers([_customer("swapper"), _customer("converter")])
            runs = {
                e.customer: e.workflow_id
                for e in await enroll(env.client, store, settings, published, ["swapper", "converter"])
            }
            await env.sleep(timedelta(days=4, hours=12))
            await signal(env.client, store, settings, "swapper", "swapped", {})
            await signal(env.client, store, settings, "converter", "page_viewed", {})  # no step waits for it
            await signal(env.client, store, settings, "converter", "registered", {})
            await signal(env.client, store, settings, "converter", "delivered", {})
            await env.sleep(timedelta(days=1))
            await signal(env.client, store, settings, "converter", "document_uploaded", {"kind": "national_id"})
            await env.sleep(timedelta(days=4))
            for name, wid in runs.items():
                history = await env.client.get_workflow_handle(wid).fetch_history()
                (HISTORIES / f"{tag}.modem_swap_{name}.json").write_text(history.to_json(), encoding="utf-8")
                print(f"recorded {name}: {len(history.events)} events")
        await env.shutdown()
        store.close()


if __name__ == "__main__":
    asyncio.run(record(sys.argv[1]))
