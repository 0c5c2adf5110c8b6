"""Which events a run acts on, read from its definition: delivery wakes a run only for those, and a migration
hands a run the events only its new version acts on."""

from __future__ import annotations

from datetime import timedelta

from journeys.engine import interpreter as engine
from journeys.engine.listening import hears, listens, more, union
from journeys.format.models import Message
from journeys.services.catalogue import publish
from tests.support import ROOT
from tests.unit.journeys.test_interpreter import T0, Driver, event, journey

WAITS = """
id: waits
name: Waits
exit_on: [stop]
steps:
  - {id: hello, send: sms, message: {text: "Hello {{ customer.name }}, seen {{ customer.events | length }}"}}
  - {id: pay, wait_for: [paid, refunded], timeout: 1d}
  - {id: check, branch: [{when: "'vip' in customer.tags", goto: done}]}
  - {id: done, end: ok}
"""


def test_a_run_acts_on_its_exit_events_and_every_wait_for_event() -> None:
    assert listens(journey(WAITS), {}) == ["paid", "refunded", "stop"]


def test_the_modem_swap_run_acts_on_its_five_events_and_no_page_view() -> None:
    published = publish(ROOT / "definitions" / "modem_swap.yaml")
    assert published.listens == ["delivered", "document_uploaded", "opted_out", "registered", "swapped"]
    assert not hears(published.listens, "page_viewed") and hears(published.listens, "swapped")


def test_a_definition_that_reads_the_last_event_acts_on_every_event() -> None:
    in_a_branch = WAITS.replace("'vip' in customer.tags", "event and event.name == 'page_viewed'")
    assert listens(journey(in_a_branch), {}) is None
    in_an_update = WAITS.replace("  - {id: done, end: ok}", "  - {id: done, update: {set: {last: '{{ event.name }}'}}}")
    assert listens(journey(in_an_update), {}) is None
    in_a_template = {"x|sms|": Message(text="You looked at {{ event.data.page }}")}
    assert listens(journey(WAITS), in_a_template) is None
    assert hears(None, "anything")


def test_a_template_that_does_not_parse_is_taken_to_read_everything() -> None:
    assert listens(journey(WAITS), {"x|sms|": Message(text="{{ unclosed")}) is None


def test_a_migration_gives_more_only_when_the_new_version_names_something_new() -> None:
    assert not more(["a", "b"], ["a"]) and not more(None, ["a"]) and not more(None, None)
    assert more(["a"], ["a", "b"]) and more(["a"], None)
    assert union(["b"], ["a"]) == ["a", "b"] and union(["a"], None) is None


TWO_WAITS = """
id: onboarding
name: Onboarding
steps:
  - {id: first, wait_for: registered, timeout: 5d, next: second}
  - {id: second, wait_for: WHAT, SINCE timeout: 5d, on_timeout: late}
  - {id: paid, end: paid}
  - {id: late, end: late}
"""


def _migrated(since: str, paid_at: timedelta) -> engine.Command:
    """Version 1 waits for shipping, version 2 for payment instead, which came at `paid_at` and was never given
    to the run (version 1 named no such event); the run waits at the same step in both."""
    old = journey(TWO_WAITS.replace("WHAT", "shipped").replace("SINCE", since))
    new = journey(TWO_WAITS.replace("WHAT", "paid").replace("SINCE", since))
    d = Driver(old)
    d.run_until(T0 + timedelta(days=1), [event("registered", T0 + timedelta(days=1))])
    assert d.state.step == "second"
    engine.migrate(old, new, d.state, {}, T0 + timedelta(days=1, hours=1), [event("paid", T0 + paid_at)])
    d.journey = new
    return d.run_until(T0 + timedelta(days=9))


def test_a_migrated_run_counts_a_missed_event_since_enrolment() -> None:
    assert _migrated("", timedelta(hours=2)) == engine.End(outcome="completed", label="paid")


def test_a_missed_event_before_arrival_does_not_count_for_since_step() -> None:
    assert _migrated("since: step,", timedelta(hours=2)) == engine.End(outcome="completed", label="late")
    assert _migrated("since: step,", timedelta(days=1, minutes=30)) == engine.End(outcome="completed", label="paid")


def test_a_missed_event_is_taken_once_and_ends_nothing() -> None:
    j = journey(WAITS)
    d = Driver(j)
    d.step()
    stop = event("stop", T0 + timedelta(minutes=5))
    engine.migrate(j, j, d.state, {}, T0 + timedelta(hours=1), [stop, stop])
    assert d.state.live and [e.id for e in d.state.events] == [stop.id]
