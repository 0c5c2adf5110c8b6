"""`journeys report`'s conversion, answers and days, counted by the store on SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from journeys.engine.runs import Progress
from journeys.errors import JourneysError
from journeys.format.customers import Event, Profile
from journeys.services.reporting import journey_report
from journeys.settings import Settings
from journeys.store import ReportSpec, SendReservation, Store
from journeys.store.conversion import Answers, CohortConversion, Day

T0 = datetime(2026, 11, 23, 22, 30, tzinfo=timezone.utc)
D = timedelta(days=1)
SPLIT = ReportSpec(version=2, window=timedelta(days=7), goals=["purchased", "swapped"], cohorts=["holdout", "offer"])


def _run(store: Store, customer: str, *, cohort: str | None, outcome: str = "running", journey: str = "j") -> None:
    """A run as its workflow records it: holdout runs end at once, the others report where they are."""
    store.upsert_customers([Profile(id=customer)])
    ended = outcome != "running"
    store.record_progress(
        Progress(
            workflow_id=f"journey:{journey}:{customer}:1",
            journey_id=journey,
            version=1,
            customer_id=customer,
            entry=1,
            started_at=T0,
            outcome=outcome,
            ended_at=T0 if ended else None,
            current_step=None if ended else "offer",
            cohort=cohort,
        )
    )


def _event(store: Store, customer: str, name: str, at: datetime, event_id: str | None = None, **data: str) -> None:
    event_id = event_id or f"{customer}-{name}-{at.isoformat()}"
    store.record_event(customer, Event(id=event_id, name=name, data=data, at=at))


def test_a_goal_within_the_window_converts_a_run_even_one_that_ended_at_its_holdout(store: Store) -> None:
    _run(store, "h1", cohort="holdout", outcome="holdout")
    _run(store, "h2", cohort="holdout", outcome="holdout")
    _run(store, "h3", cohort="holdout", outcome="holdout")
    _run(store, "h4", cohort="holdout", outcome="holdout")
    _run(store, "o1", cohort="offer", outcome="exited")
    _run(store, "o2", cohort="offer", outcome="completed")
    _run(store, "o3", cohort="offer")
    _run(store, "o4", cohort="offer")
    _run(store, "early", cohort=None)  # has not reached the split yet
    _event(store, "h1", "purchased", T0 + 2 * D)  # bought anyway, after the holdout run ended
    _event(store, "h2", "purchased", T0 + 8 * D)  # too late: outside the 7-day window
    _event(store, "h3", "purchased", T0 - D)  # before the run: not a conversion of it
    _event(store, "o1", "swapped", T0 + D)
    _event(store, "o1", "purchased", T0 + 2 * D)  # a second goal: the run converts once
    _event(store, "o2", "purchased", T0 + 6 * D)
    _event(store, "o3", "browsed", T0 + D)  # not a goal
    _event(store, "early", "purchased", T0 + D)

    conversion = store.journey_report("j", SPLIT).conversion

    assert conversion.window == "7d" and conversion.goals == ["purchased", "swapped"]
    assert conversion.cohorts == {
        "holdout": CohortConversion(enrolled=4, converted=1, rate=0.25, lift_vs_holdout=None),
        "offer": CohortConversion(enrolled=4, converted=2, rate=0.5, lift_vs_holdout=1.0),
    }
    assert conversion.unsplit == 1  # in no cohort: not counted in any


def test_a_journey_without_split_has_one_cohort_all_and_no_lift(store: Store) -> None:
    _run(store, "a", cohort=None, outcome="exited")
    _run(store, "b", cohort=None)
    _event(store, "a", "swapped", T0 + D)
    _run(store, "x", cohort=None, journey="other")
    _event(store, "x", "swapped", T0 + D)  # another journey's customer

    conversion = store.journey_report("j", ReportSpec(goals=["swapped"])).conversion

    assert conversion.window == "30d"
    assert conversion.cohorts == {"all": CohortConversion(enrolled=2, converted=1, rate=0.5, lift_vs_holdout=None)}


def test_lift_is_none_when_the_holdout_converted_no_one_and_empty_cohorts_show_zeros(store: Store) -> None:
    _run(store, "h1", cohort="holdout", outcome="holdout")
    _run(store, "o1", cohort="offer", outcome="exited")
    _event(store, "o1", "swapped", T0 + D)

    cohorts = store.journey_report("j", SPLIT.model_copy(update={"cohorts": ["holdout", "offer", "third"]})).conversion
    assert cohorts.cohorts["offer"] == CohortConversion(enrolled=1, converted=1, rate=1.0, lift_vs_holdout=None)
    assert cohorts.cohorts["third"] == CohortConversion()


def test_the_window_ends_exactly_window_after_enrolment(store: Store) -> None:
    _run(store, "in", cohort=None)
    _run(store, "out", cohort=None)
    _event(store, "in", "swapped", T0 + 7 * D - timedelta(seconds=1))
    _event(store, "out", "swapped", T0 + 7 * D)

    spec = ReportSpec(window=timedelta(days=7), goals=["swapped"])
    assert store.journey_report("j", spec).conversion.cohorts["all"].converted == 1


def test_answers_count_per_digit_with_their_mean_for_customers_of_the_journey(store: Store) -> None:
    for customer, digits in [("a", "5"), ("b", "4"), ("c", "5")]:
        _run(store, customer, cohort=None, outcome="completed")
        _event(store, customer, "satisfaction_rated", T0 + D, digits=digits)
    _event(store, "a", "satisfaction_rated", T0 - D, digits="1")  # before any run of the journey
    _run(store, "x", cohort=None, journey="other")
    _event(store, "x", "satisfaction_rated", T0 + D, digits="1")  # no run of this journey
    _event(store, "b", "satisfaction_rated", T0 + D, "gather:journey:other:b:1#3:CA1", digits="2")  # other's call
    _event(store, "c", "satisfaction_rated", T0 + 2 * D, "gather:journey:j:c:1#3:CA2", digits="3")  # this one's

    spec = ReportSpec(questions=["satisfaction_rated", "callback_wanted"])
    answers = store.journey_report("j", spec).answers

    assert answers == {
        "satisfaction_rated": Answers(count=4, by_answer={"3": 1, "4": 1, "5": 2}, mean=4.25),
        "callback_wanted": Answers(),
    }


def test_by_day_counts_enrolments_messages_and_conversions_per_utc_day(store: Store) -> None:
    _run(store, "a", cohort=None, outcome="exited")
    _run(store, "b", cohort=None)
    _event(store, "a", "swapped", T0 + timedelta(hours=2))  # 00:30 UTC the next day
    store.reserve_send(
        SendReservation(
            key="m1", workflow_id="journey:j:a:1", journey_id="j", customer_id="a", step="s", visit=1, channel="sms"
        ),
        [],
        T0,
    )

    report = store.journey_report("j", ReportSpec(goals=["swapped"], by_day=True))

    assert report.days == [
        Day(day="2026-11-23", enrolled=2, messages=1, converted=0),
        Day(day="2026-11-24", enrolled=0, messages=0, converted=1),
    ]
    assert store.journey_report("j", ReportSpec(goals=["swapped"])).days is None


def test_the_cohort_a_run_fell_in_is_kept_when_later_reports_carry_none(store: Store) -> None:
    _run(store, "a", cohort="offer")
    _run(store, "a", cohort=None, outcome="completed")

    (run,) = store.runs_of("a")
    assert (run.cohort, run.outcome) == ("offer", "completed")


@pytest.mark.parametrize("version, expected", [(None, 1), (4, 4)])
def test_the_report_names_the_journey_and_its_version(store: Store, version: int | None, expected: int) -> None:
    _run(store, "a", cohort=None)
    report = store.journey_report("j", ReportSpec(version=version))
    assert (report.journey, report.version, report.versions) == ("j", expected, [1])


def test_a_journey_whose_file_is_gone_is_reported_as_its_newest_version_that_enrolled(
    store: Store, tmp_path: Path
) -> None:
    old = "id: j\nname: J\nexit_on: [swapped]\nsteps:\n  - {id: a, end: null}\n"
    store.save_version("j", 1, old, "h1", T0)
    store.save_version(
        "j", 2, old.replace("exit_on: [swapped]", "version: 2\nexit_on: [bought]\nconversion_window: 2d"), "h2", T0
    )
    _run(store, "a", cohort=None, outcome="exited")
    _event(store, "a", "bought", T0 + D)
    settings = Settings(data_dir=tmp_path, definitions=tmp_path)  # no journey files at all

    report = journey_report(settings, store, "j")

    assert (report.version, report.conversion.window, report.conversion.goals) == (2, "2d", ["bought"])
    assert report.conversion.cohorts["all"].converted == 1
    with pytest.raises(JourneysError, match="no journey 'k'"):
        journey_report(settings, store, "k")
