"""Personal data never reaches Temporal in clear: raw histories as a real dev server stores them."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator

import pytest
from temporalio import workflow
from temporalio.client import Client, WorkflowFailureError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from journeys.channels import outbox_only
from journeys.runtime.codec import ENCODING, data_converter, generate_key_entry
from journeys.runtime.temporal import build_worker
from journeys.services.catalogue import publish
from journeys.services.control import settle
from journeys.services.delivery import signal
from journeys.services.enrolment import enroll
from journeys.settings import Settings
from journeys.store import Store
from tests.support import ROOT
from tests.support.personal import EMAIL, FIRST, PERSONAL, PHONE, parisa
from tests.support.temporal import dev_server

MODEM_SWAP = ROOT / "definitions" / "modem_swap.yaml"


@pytest.fixture
async def encrypted() -> AsyncIterator[WorkflowEnvironment]:
    """The dev server, through the codec with two keys (the first encrypts)."""
    async with dev_server(data_converter(f"{generate_key_entry()},{generate_key_entry()}")) as env:
        yield env


@pytest.fixture
async def plain() -> AsyncIterator[WorkflowEnvironment]:
    """The dev server, payloads in clear."""
    async with dev_server(pydantic_data_converter) as env:
        yield env


async def _raw_history(client: Client, wid: str) -> tuple[bytes, str]:
    """The history as the server stores it, read by a client with no codec: its protobuf bytes and its JSON."""
    raw = Client(client.service_client, namespace=client.namespace)
    history = await raw.get_workflow_handle(wid).fetch_history()
    return b"".join(e.SerializeToString() for e in history.events), json.dumps(history.to_json())


async def _modem_swap_story(client: Client, settings: Settings, store: Store) -> str:
    """Enrol Parisa, let the invitation go out, then she swaps: the run ends. Returns the workflow id."""
    store.upsert_customers([parisa()])
    async with build_worker(client, settings, store, outbox_only()):
        (enrolment,) = await enroll(client, store, settings, publish(MODEM_SWAP), ["c1"])
        assert enrolment.status == "started" and enrolment.workflow_id
        wid = enrolment.workflow_id
        assert (await settle(client, wid)).current_step == "await_registration"
        result = await signal(client, store, settings, "c1", "swapped", {})
        assert [r.effect for r in result.runs] == ["exited"]
        assert (await settle(client, wid)).outcome == "exited"
    return wid


async def test_journey_history_holds_no_personal_data(
    encrypted: WorkflowEnvironment, settings: Settings, store: Store
) -> None:
    wid = await _modem_swap_story(encrypted.client, settings, store)
    (message,) = store.messages_of_run(wid)  # the run worked through the codec: the invitation went out
    assert (message.channel, message.recipient, message.status) == ("email", EMAIL, "sent")
    assert FIRST in (message.subject or "")
    data, text = await _raw_history(encrypted.client, wid)
    assert ENCODING in data  # the payloads are there, encrypted
    for needle in PERSONAL:
        assert needle.encode() not in data, needle
        assert needle not in text, needle


async def test_journey_history_without_codec_leaks_personal_data(
    plain: WorkflowEnvironment, settings: Settings, store: Store
) -> None:
    """The control: the same story with the plain converter, to show the test above can see a leak."""
    wid = await _modem_swap_story(plain.client, settings, store)
    data, _ = await _raw_history(plain.client, wid)
    assert EMAIL.encode() in data
    assert PHONE.encode() in data
    assert ENCODING not in data


@workflow.defn(sandboxed=False)
class FailsWithPersonalData:
    @workflow.run
    async def run(self, email: str) -> None:
        raise ApplicationError(f"cannot reach {email}", non_retryable=True)


async def test_workflow_failure_is_encrypted_in_history(encrypted: WorkflowEnvironment) -> None:
    client, queue, wid = encrypted.client, f"sec-{uuid.uuid4().hex[:8]}", f"fails-{uuid.uuid4().hex[:8]}"
    async with Worker(
        client, task_queue=queue, workflows=[FailsWithPersonalData], workflow_runner=UnsandboxedWorkflowRunner()
    ):
        with pytest.raises(WorkflowFailureError) as caught:
            await client.execute_workflow(FailsWithPersonalData.run, EMAIL, id=wid, task_queue=queue)
    assert str(caught.value.cause) == f"cannot reach {EMAIL}"  # whoever holds the key reads it
    data, text = await _raw_history(client, wid)
    assert EMAIL.encode() not in data
    assert "cannot reach" not in text and "Encoded failure" in text
