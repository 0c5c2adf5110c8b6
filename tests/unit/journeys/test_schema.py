from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from ruamel.yaml import YAML

from journeys.format.models import STEP_KINDS, Journey
from journeys.format.schema import journey_schema
from tests.support import ROOT
from tests.support.journey_files import SPEC_EXAMPLE

DEFINITIONS = sorted((ROOT / "definitions").glob("*.yaml"))


def _load(text: str) -> Any:
    return YAML(typ="safe").load(text)


def _errors(document: Any) -> list[str]:
    return [error.message for error in Draft202012Validator(journey_schema()).iter_errors(document)]


def _journey(*steps: dict[str, Any]) -> dict[str, Any]:
    return {"id": "j", "name": "J", "steps": list(steps)}


def test_journey_schema_is_valid_draft_2020_12() -> None:
    schema = journey_schema()
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] and schema["title"] and schema["description"]


def test_journey_schema_accepts_spec_example() -> None:
    document = _load(SPEC_EXAMPLE)
    assert _errors(document) == []
    Journey.model_validate(document)  # the models agree with the schema here


def test_journey_schema_step_kinds_are_one_of_members_requiring_their_key() -> None:
    schema = journey_schema()
    members = schema["properties"]["steps"]["items"]["oneOf"]
    names = {member["$ref"].rsplit("/", 1)[1] for member in members}
    assert names == {cls.__name__ for cls in STEP_KINDS.values()}
    for kind, cls in STEP_KINDS.items():
        step = schema["$defs"][cls.__name__]
        assert kind in step["required"]
        assert step["additionalProperties"] is False
        assert step["description"]
        assert step["properties"][kind]["description"]


def test_journey_schema_accepts_single_event_name_or_list() -> None:
    wait = {"id": "w", "timeout": "1d"}
    assert _errors(_journey({**wait, "wait_for": "registered"})) == []
    assert _errors(_journey({**wait, "wait_for": ["registered", "delivered"]})) == []
    assert _errors({**_journey({"id": "e", "end": None}), "exit_on": "swapped"}) == []


def test_journey_schema_knows_continuous_entry_as_a_boolean() -> None:
    continuous = {**_journey({"id": "a", "wait": "1d"}), "entry": {"when": "customer.tags", "continuous": True}}
    assert _errors(continuous) == []
    assert _errors({**continuous, "entry": {"continuous": "yes"}}) == ["'yes' is not of type 'boolean'"]


def test_journey_schema_rejects_unknown_step_key() -> None:
    assert _errors(_journey({"id": "invite", "send": "email", "template": "t", "tempalte": "t"}))


def test_journey_schema_rejects_step_without_kind() -> None:
    assert _errors(_journey({"id": "nothing"}))
    assert _errors(_journey({"id": "nothing", "next": "other"}))


def test_journey_schema_rejects_step_with_two_kinds() -> None:
    assert _errors(_journey({"id": "both", "goto": "x", "end": "done"}))


def test_journey_schema_rejects_unknown_top_level_key() -> None:
    assert _errors({**_journey({"id": "e", "end": None}), "exit_onn": ["swapped"]})


def test_journey_schema_rejects_bad_duration() -> None:
    assert _errors(_journey({"id": "w", "wait": "3 days"}))


@pytest.mark.parametrize("path", DEFINITIONS, ids=[p.name for p in DEFINITIONS])
def test_journey_schema_accepts_repo_definition(path: Path) -> None:
    assert _errors(_load(path.read_text(encoding="utf-8"))) == []


def test_committed_schema_file_is_the_generated_one() -> None:
    """`journey.schema.json` (what `# yaml-language-server: $schema=` points at) must not drift from the models."""
    committed = json.loads((ROOT / "journey.schema.json").read_text(encoding="utf-8"))
    assert committed == journey_schema(), "regenerate it: journeys schema > journey.schema.json"
