"""The whole API fuzzed from its own OpenAPI schema (schemathesis, on hypothesis): whatever a client sends, valid
by the schema or not, no 500, no traceback, and every answer is what the schema says (status, content type,
body); a request the schema calls invalid is refused. (A request the schema allows may still be refused with
422: a phone number or an email address is checked beyond what JSON Schema can say.) Temporal does not answer
here, so events are recorded and owed (202): what is fuzzed is the door."""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import negative_data_rejection, not_a_server_error, positive_data_acceptance
from schemathesis.generation import GenerationMode
from temporalio.client import Client

from journeys.errors import TemporalUnavailable
from journeys.format.customers import Profile
from journeys.http.app import create_app
from journeys.settings import Settings
from journeys.store import Store
from tests.support import ROOT

EXAMPLES = 30  # per operation and mode: 8 operations × 2 modes × 2 databases in about a minute


async def _unreachable() -> Client:
    raise TemporalUnavailable("no Temporal server answers at localhost:1")


@pytest.mark.parametrize("mode", list(GenerationMode), ids=lambda m: m.value)
def test_no_request_gets_a_500_and_every_answer_matches_the_schema(
    store: Store, tmp_path: Path, mode: GenerationMode
) -> None:
    config = Settings(data_dir=tmp_path, definitions=ROOT / "definitions", api_rate=100_000)
    store.upsert_customers([Profile(id="c1", email="c1@example.com", phone="+989121000001")])
    headers = {"Authorization": f"Bearer {store.create_key('fuzz', 'admin', by='test')}"}
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(config, store, _unreachable))
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 8  # every route of the API is in the schema

    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        def answers_as_the_schema_says(case: schemathesis.Case) -> None:
            # our own checks for these two: 503 is right when Temporal does not answer an erasure here, and 413
            # is how a schema-violating body over 1 MB (a batch of thousands) is refused
            response = case.call_and_validate(
                headers=headers,
                excluded_checks=[positive_data_acceptance, not_a_server_error, negative_data_rejection],
            )
            assert response.status_code != 500, response.text
            if mode is GenerationMode.NEGATIVE and response.status_code < 400:
                case.call_and_validate(headers=headers, checks=[negative_data_rejection])  # says why it is wrong

        answers_as_the_schema_says()
