"""What a report counts comes from the definition: an opt-out ends a run but is never a conversion."""

from __future__ import annotations

from journeys.services.catalogue import publish
from journeys.services.reporting import report_spec
from tests.support import ROOT


def test_an_opt_out_in_exit_on_ends_runs_but_is_not_a_goal() -> None:
    modem_swap = report_spec(publish(ROOT / "definitions" / "modem_swap.yaml"))
    onboarding = report_spec(publish(ROOT / "definitions" / "onboarding.yaml"))

    assert modem_swap.goals == ["swapped"]  # exit_on: [swapped, opted_out]
    assert onboarding.goals == []  # exit_on: [opted_out, unsubscribed]
    assert modem_swap.questions == ["satisfaction_rated"]
