"""The payload converter: pydantic JSON as the SDK's, with the type adapters shared by every converter the
SDK makes (one per workflow instance and activation), so a run loaded again builds none."""

from __future__ import annotations

from datetime import UTC, datetime

from journeys.engine.runs import RunInput
from journeys.format.customers import Event
from journeys.runtime import converter
from journeys.runtime.codec import data_converter
from journeys.services.catalogue import publish
from tests.support import ROOT


def test_values_round_trip_and_adapters_are_built_once_for_every_converter() -> None:
    published = publish(ROOT / "definitions" / "modem_swap.yaml")
    run_input = RunInput(journey=published.journey, templates=published.templates, customer_id="c1")
    event = Event(id="e1", name="swapped", data={"at": "door"}, at=datetime(2026, 12, 5, 8, tzinfo=UTC))
    first = data_converter(None).payload_converter
    payloads = first.to_payloads([run_input, event])
    assert first.from_payloads(payloads, [RunInput, Event]) == [run_input, event]
    built = converter._adapter.cache_info().currsize
    for _ in range(3):  # converters as the SDK makes them, per activation: no adapter built again
        again = data_converter(None).payload_converter
        assert again.from_payloads(payloads, [RunInput, Event]) == [run_input, event]
    assert converter._adapter.cache_info().currsize == built
    assert converter._adapter.cache_info().hits >= 6
