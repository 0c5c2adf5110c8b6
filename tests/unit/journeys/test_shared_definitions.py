"""Runs of one definition share one copy of it in a worker: `RunInput.definition` is its content address."""

from __future__ import annotations

from pathlib import Path

from temporalio.contrib.pydantic import pydantic_data_converter

from journeys.engine.runs import RunInput, definition_digest
from journeys.services.catalogue import Published, publish

ROOT = Path(__file__).resolve().parents[3]


def _decoded(run: RunInput) -> RunInput:
    """As a worker loads it: through the payload converter, from JSON."""
    converter = pydantic_data_converter.payload_converter
    [decoded] = converter.from_payloads(converter.to_payloads([run]), [RunInput])
    return decoded


def _published() -> Published:
    return publish(ROOT / "definitions" / "modem_swap.yaml")


def test_runs_carrying_one_definition_share_one_copy_when_loaded() -> None:
    published = _published()
    runs = [
        _decoded(RunInput(journey=published.journey, templates=published.templates, customer_id=c, definition=d))
        for c, d in (("c1", published.digest), ("c2", published.digest))
    ]
    assert runs[0].journey is runs[1].journey
    key = next(iter(published.templates))
    assert runs[0].templates[key] is runs[1].templates[key]
    assert runs[0].journey == published.journey and runs[1].customer_id == "c2"


def test_a_digest_that_does_not_match_its_content_is_not_believed() -> None:
    published, other = _published(), publish(ROOT / "definitions" / "onboarding.yaml")
    made_up = "0" * 64

    def run(source: Published, customer: str) -> RunInput:
        return RunInput(journey=source.journey, templates=source.templates, customer_id=customer, definition=made_up)

    assert _decoded(run(other, "c1")).journey == other.journey
    assert _decoded(run(published, "c2")).journey == published.journey  # the first did not claim the digest


def test_runs_without_a_digest_keep_their_own_copy() -> None:
    published = _published()
    first, second = (
        _decoded(RunInput(journey=published.journey, templates=published.templates, customer_id=c))
        for c in ("c1", "c2")
    )
    assert first.journey == second.journey and first.journey is not second.journey


def test_the_digest_changes_with_the_templates() -> None:
    published = _published()
    fewer = dict(list(published.templates.items())[1:])
    assert definition_digest(published.journey, fewer) != published.digest
