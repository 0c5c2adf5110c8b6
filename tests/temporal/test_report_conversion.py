"""A split with a holdout on the real workflow: the holdout's runs end at once, yet what its customers do
afterwards still counts, so the report can say what the offer added over doing nothing."""

from __future__ import annotations

from pathlib import Path

from temporalio.client import Client

from journeys.engine.interpreter import cohort_bucket
from journeys.format.customers import Profile
from journeys.services.catalogue import publish
from journeys.services.control import settle
from journeys.services.delivery import signal
from journeys.services.enrolment import enroll
from journeys.services.reporting import journey_report
from journeys.settings import Settings
from journeys.store import Store
from journeys.store.conversion import CohortConversion

UPSELL = """
id: upsell
name: Upsell, measured against a holdout
exit_on: [purchased]
conversion_window: 10d
steps:
  - {id: ab, split: {holdout: {percent: 50}, offer: {percent: 50}}}
  - {id: offer, send: email, message: {subject: "A faster plan", text: "Upgrade today."}}
  - {id: await_purchase, wait_for: purchased, timeout: 30d}
"""


def _customers(cohort: str, n: int) -> list[str]:
    """Customer ids the split puts in `cohort` (holdout: the lower half of the buckets)."""
    fits = (lambda b: b < 5000) if cohort == "holdout" else (lambda b: b >= 5000)
    return [c for c in (f"c{i}" for i in range(100)) if fits(cohort_bucket("upsell", "ab", c))][:n]


async def test_a_holdout_run_ends_at_once_and_a_later_purchase_still_counts_as_its_conversion(
    client: Client, store: Store, settings: Settings, tmp_path: Path
) -> None:
    (tmp_path / "upsell.yaml").write_text(UPSELL, encoding="utf-8")
    settings = settings.model_copy(update={"definitions": tmp_path})
    held, offered = _customers("holdout", 2), _customers("offer", 2)
    store.upsert_customers([Profile(id=c, email=f"{c}@example.com") for c in held + offered])
    enrolments = await enroll(client, store, settings, publish(tmp_path / "upsell.yaml"), held + offered)
    for enrolment in enrolments:
        await settle(client, enrolment.workflow_id)
    runs = {c: store.runs_of(c)[0] for c in held + offered}
    assert {c: (r.outcome, r.cohort) for c, r in runs.items()} == {
        **{c: ("holdout", "holdout") for c in held},
        **{c: ("running", "offer") for c in offered},
    }
    assert store.messages_of(held[0]) == store.messages_of(held[1]) == []  # the holdout is sent nothing

    bought_anyway = await signal(client, store, settings, held[0], "purchased", {})
    assert bought_anyway.runs == []  # no live run to take it: it ended at the split
    for customer in offered:
        bought = await signal(client, store, settings, customer, "purchased", {})
        assert [r.effect for r in bought.runs] == ["exited"]

    conversion = journey_report(settings, store, "upsell").conversion
    assert (conversion.window, conversion.goals) == ("10d", ["purchased"])
    assert conversion.cohorts == {
        "holdout": CohortConversion(enrolled=2, converted=1, rate=0.5, lift_vs_holdout=None),
        "offer": CohortConversion(enrolled=2, converted=2, rate=1.0, lift_vs_holdout=1.0),  # (1.0 - 0.5) / 0.5
    }
