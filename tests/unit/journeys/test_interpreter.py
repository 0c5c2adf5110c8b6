"""The journey semantics, as plain specifications of the pure interpreter (no server, no clock)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from ruamel.yaml import YAML

from journeys.engine import interpreter as engine
from journeys.engine.interpreter import PastRun, SentMessage
from journeys.format.customers import Customer, Event
from journeys.format.models import Journey

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc)  # 11:30 in Tehran


def journey(text: str) -> Journey:
    return Journey.model_validate(YAML(typ="safe").load(text))


def event(name: str, at: datetime, **data: object) -> Event:
    return Event(id=f"{name}@{at.isoformat()}", name=name, data=dict(data), at=at)


class Driver:
    """A minimal driver: runs the interpreter on a fake clock, recording sends (the simulator's loop in small)."""

    def __init__(self, j: Journey, customer: Customer | None = None, at: datetime = T0, ledger=None) -> None:
        self.journey = j
        self.customer = customer or Customer(id="c1", name="Sara", email="s@example.com", phone="+15550001")
        self.now = at
        self.ledger: list[SentMessage] = ledger if ledger is not None else []
        self.sent: list[tuple[datetime, str]] = []
        self.state, self.entered = engine.start(j, self.customer.id, at)
        self.last: engine.Command | None = None

    def run_until(self, until: datetime, events: list[Event] = ()) -> engine.Command:
        pending = sorted(events, key=lambda e: e.at)
        while True:
            command = self.step()
            if isinstance(command, engine.End):
                return command
            wake = command.until
            if pending and (wake is None or pending[0].at <= wake) and pending[0].at <= until:
                self.now = pending[0].at
                engine.receive(self.journey, self.state, pending.pop(0))
            elif wake is not None and wake <= until:
                self.now = wake
            else:
                return command

    def step(self) -> engine.Command:
        while True:
            decision = engine.advance(self.journey, self.state, self.customer, self.now, self.ledger)
            self.entered += decision.entered
            command = decision.command
            self.last = command
            if isinstance(command, engine.Send):
                self.sent.append((self.now, command.step))
                self.ledger.append(SentMessage(at=self.now, channel=command.channel))
                self.entered += engine.complete(self.journey, self.state, "sent", self.now)
            elif isinstance(command, engine.ApplyUpdate):
                self.entered += engine.complete(self.journey, self.state, "done", self.now)
            else:
                return command


REMINDER_LOOP = """
id: swap
name: Swap
exit_on: [swapped]
steps:
  - {id: invite, send: email, message: {subject: Hi, text: Hi}}
  - {id: await_registration, wait_for: registered, timeout: 3d, on_timeout: remind, next: done}
  - {id: remind, send: voice, message: {say: Register}, max_visits: 4, on_max: give_up}
  - {id: remind_wait, wait_for: registered, timeout: 1d, on_timeout: remind, next: done}
  - {id: done, end: converted}
  - {id: give_up, end: lost}
"""


def test_start_enters_first_step() -> None:
    j = journey(REMINDER_LOOP)
    state, entered = engine.start(j, "c1", T0)
    assert (state.step, entered, state.visits) == ("invite", ["invite"], {"invite": 1})


def test_swap_event_ends_reminder_loop_at_once() -> None:
    d = Driver(journey(REMINDER_LOOP))
    swapped_at = T0 + timedelta(days=4, hours=2)
    command = d.run_until(T0 + timedelta(days=30), [event("swapped", swapped_at)])
    assert command == engine.End(outcome="exited", exit_event="swapped")
    assert d.state.ended_at == swapped_at
    assert [s for _, s in d.sent] == ["invite", "remind", "remind"]  # day 3 and day 4, nothing after the swap


def test_exit_event_while_send_is_held_means_it_never_happens() -> None:
    j = journey(
        REMINDER_LOOP.replace("exit_on: [swapped]", 'exit_on: [swapped]\nquiet_hours: {start: "00:00", end: "23:00"}')
    )
    d = Driver(j, at=T0.replace(hour=1))
    command = d.step()
    assert isinstance(command, engine.Wait) and command.reason == "quiet_hours"
    assert engine.receive(j, d.state, event("swapped", T0.replace(hour=2))) == "exited"
    assert isinstance(d.step(), engine.End) and d.sent == []


def test_reminder_loop_is_bounded_by_max_visits() -> None:
    d = Driver(journey(REMINDER_LOOP))
    command = d.run_until(T0 + timedelta(days=60))
    assert command == engine.End(outcome="completed", label="lost")
    assert Counter(s for _, s in d.sent) == {"invite": 1, "remind": 4}
    assert d.state.visits["remind"] == 5  # the fifth arrival went to on_max


def test_wait_for_counts_an_event_that_came_before_the_step() -> None:
    d = Driver(journey(REMINDER_LOOP))
    engine.receive(d.journey, d.state, event("registered", T0))  # before the invite was even sent
    assert d.run_until(T0 + timedelta(days=1)) == engine.End(outcome="completed", label="converted")
    assert [s for _, s in d.sent] == ["invite"]


def test_wait_for_since_step_ignores_earlier_events() -> None:
    j = journey(
        """
id: survey
name: Survey
steps:
  - {id: ask, send: sms, message: {text: "1-5?"}}
  - {id: answer, wait_for: sms_received, since: step, timeout: 1d, on_timeout: silent, next: got}
  - {id: got, end: answered}
  - {id: silent, end: silent}
"""
    )
    d = Driver(j)
    engine.receive(j, d.state, event("sms_received", T0, text="hello"))  # before the question: not an answer
    d.step()
    assert d.state.step == "answer"
    assert d.run_until(T0 + timedelta(days=2)) == engine.End(outcome="completed", label="silent")


def test_wait_for_advances_on_event_and_reports_it() -> None:
    d = Driver(journey(REMINDER_LOOP))
    d.step()
    assert engine.receive(d.journey, d.state, event("unrelated", T0)) == "ignored"
    assert engine.receive(d.journey, d.state, event("registered", T0 + timedelta(hours=1))) == "advanced"
    assert isinstance(d.step(), engine.End) and d.state.end_label == "converted"


def test_on_event_routes_each_event_to_its_step() -> None:
    j = journey(
        """
id: route
name: Route
steps:
  - id: wait
    wait_for: [bought, complained]
    timeout: 2d
    on_event: {complained: sorry}
  - {id: thanks, end: bought}
  - {id: sorry, end: complained}
"""
    )
    d = Driver(j)
    assert d.run_until(T0 + timedelta(days=3), [event("complained", T0 + timedelta(hours=5))]).label == "complained"
    d = Driver(j)
    assert d.run_until(T0 + timedelta(days=3), [event("bought", T0 + timedelta(hours=5))]).label == "bought"
    d = Driver(j)
    assert d.run_until(T0 + timedelta(days=3)).label == "bought"  # on_timeout defaults to the next step
    assert d.state.ended_at == T0 + timedelta(days=2)


def test_duplicate_event_id_is_taken_once() -> None:
    d = Driver(journey(REMINDER_LOOP))
    first = event("registered", T0)
    assert engine.receive(d.journey, d.state, first) == "advanced" or d.state.step == "invite"
    assert engine.receive(d.journey, d.state, first) == "ignored"
    assert len(d.state.events) == 1


QUIET = """
id: quiet
name: Quiet
timezone: Asia/Tehran
quiet_hours: {start: "21:00", end: "09:00"}
steps:
  - {id: call, send: voice, message: {say: Hello}}
"""


def test_quiet_hours_hold_a_send_until_they_end_in_the_customers_zone() -> None:
    late = datetime(2026, 11, 23, 20, 0, tzinfo=timezone.utc)  # 23:30 in Tehran, 20:00 in London
    tehran = Driver(journey(QUIET), Customer(id="c1", phone="+1", timezone="Asia/Tehran"), at=late)
    command = tehran.step()
    assert isinstance(command, engine.Wait) and command.reason == "quiet_hours"
    assert command.until.astimezone(ZoneInfo("Asia/Tehran")).strftime("%Y-%m-%d %H:%M") == "2026-11-24 09:00"
    london = Driver(journey(QUIET), Customer(id="c2", phone="+1", timezone="Europe/London"), at=late)
    assert isinstance(london.step(), engine.End) and london.sent == [(late, "call")]


def test_quiet_hours_use_the_journey_zone_for_customers_without_one() -> None:
    late = datetime(2026, 11, 23, 20, 0, tzinfo=timezone.utc)
    d = Driver(journey(QUIET), Customer(id="c1", phone="+1"), at=late)
    d.run_until(late + timedelta(days=1))
    assert [at.astimezone(ZoneInfo("Asia/Tehran")).hour for at, _ in d.sent] == [9]


def test_send_may_ignore_quiet_hours_when_the_step_says_so() -> None:
    late = datetime(2026, 11, 23, 20, 0, tzinfo=timezone.utc)
    j = journey(QUIET.replace("message: {say: Hello}", "message: {say: Hello}, respect_quiet_hours: false"))
    d = Driver(j, Customer(id="c1", phone="+1"), at=late)
    d.step()
    assert d.sent == [(late, "call")]


def test_quiet_hours_boundaries() -> None:
    q = journey(QUIET).quiet_hours
    zone = ZoneInfo("Asia/Tehran")
    at = lambda h, m: datetime(2026, 11, 23, h, m, tzinfo=zone)  # noqa: E731
    assert engine.quiet_until(q, zone, at(20, 59)) is None
    assert engine.quiet_until(q, zone, at(21, 0)) == datetime(2026, 11, 24, 9, 0, tzinfo=zone)
    assert engine.quiet_until(q, zone, at(8, 59)) == at(9, 0)
    assert engine.quiet_until(q, zone, at(9, 0)) is None


def test_next_clock_respects_daylight_saving_changes() -> None:
    zone = ZoneInfo("America/New_York")
    before_change = datetime(2026, 11, 1, 3, 0, tzinfo=timezone.utc)  # 23:00 EDT on Oct 31
    nine = engine.next_clock(datetime(2026, 1, 1, 9, 0).time(), zone, before_change)
    assert nine.astimezone(zone).strftime("%H:%M %Z") == "09:00 EST"


CAPPED = """
id: capped
name: Capped
limits:
  - {channel: sms, max: 2, per: 1d}
steps:
  - {id: one, send: sms, message: {text: one}}
  - {id: two, send: sms, message: {text: two}}
  - {id: three, send: sms, message: {text: three}}
"""


def test_cap_postpones_a_send_until_it_fits() -> None:
    d = Driver(journey(CAPPED))
    command = d.step()
    assert isinstance(command, engine.Wait) and command.reason == "cap" and command.until == T0 + timedelta(days=1)
    d.run_until(T0 + timedelta(days=2))
    assert [(at - T0, s) for at, s in d.sent] == [
        (timedelta(0), "one"),
        (timedelta(0), "two"),
        (timedelta(days=1), "three"),
    ]


def test_cap_counts_sends_of_other_journeys() -> None:
    other = [
        SentMessage(at=T0 - timedelta(hours=20), channel="sms"),
        SentMessage(at=T0 - timedelta(hours=2), channel="sms"),
    ]
    d = Driver(journey(CAPPED), ledger=list(other))
    command = d.step()
    assert isinstance(command, engine.Wait) and command.until == T0 + timedelta(hours=4)


def test_cap_on_any_channel_counts_every_channel() -> None:
    ledger = [SentMessage(at=T0 - timedelta(hours=1), channel="email"), SentMessage(at=T0, channel="voice")]
    limits = journey(CAPPED.replace("channel: sms", "channel: any")).limits
    assert engine.cap_until(limits, ledger, "sms", T0) == T0 - timedelta(hours=1) + timedelta(days=1)
    assert engine.cap_until(journey(CAPPED).limits, ledger, "sms", T0) is None


def test_on_cap_skip_moves_on_without_sending() -> None:
    d = Driver(journey(CAPPED.replace("{text: three}}", "{text: three}, on_cap: skip}")))
    assert isinstance(d.step(), engine.End)
    assert [s for _, s in d.sent] == ["one", "two"]


BRANCHY = """
id: branchy
name: Branchy
steps:
  - id: pick
    branch:
      - {when: "'vip' in customer.tags", goto: vip}
      - {when: "customer.attributes.months >= 6", goto: loyal}
    else: other
  - {id: vip, end: vip}
  - {id: loyal, end: loyal}
  - {id: other, end: other}
"""


def test_branch_takes_the_first_true_condition() -> None:
    j = journey(BRANCHY)
    both = Customer(id="a", tags=["vip"], attributes={"months": 9})
    assert Driver(j, both).step().label == "vip"
    assert Driver(j, Customer(id="b", attributes={"months": 9})).step().label == "loyal"
    assert Driver(j, Customer(id="c", attributes={"months": 1})).step().label == "other"


def test_branch_on_missing_attribute_fails_the_run_loudly() -> None:
    d = Driver(journey(BRANCHY), Customer(id="a"))
    command = d.step()
    assert command.outcome == "failed" and "months" in d.state.failure and "pick" in d.state.failure


def test_branch_sees_documents_recorded_by_an_upload_event() -> None:
    j = journey(
        """
id: docs
name: Docs
steps:
  - id: check
    branch: [{when: "'national_id' in customer.documents", goto: have}]
    else: ask
  - {id: have, end: have}
  - {id: ask, end: ask}
"""
    )
    customer = Customer(id="c1").with_event(event("document_uploaded", T0, kind="national_id", ref="x"))
    assert customer.documents["national_id"]["ref"] == "x"
    assert Driver(j, customer).step().label == "have"
    assert Driver(j, Customer(id="c1")).step().label == "ask"


SPLIT = """
id: ab
name: AB
steps:
  - id: test
    split:
      a: {percent: 50, goto: a}
      b: {percent: 40, goto: b}
      holdout: {percent: 10}
  - {id: a, end: a}
  - {id: b, end: b}
"""


def test_split_is_stable_per_customer_and_follows_percentages() -> None:
    j = journey(SPLIT)
    outcomes = Counter()
    for n in range(2000):
        first = Driver(j, Customer(id=f"c{n}")).step()
        again = Driver(j, Customer(id=f"c{n}")).step()
        assert first == again
        outcomes[first.label or first.outcome] += 1
    assert 900 < outcomes["a"] < 1100 and 700 < outcomes["b"] < 900 and 130 < outcomes["holdout"] < 270


def test_holdout_cohort_gets_nothing_and_ends_with_outcome_holdout() -> None:
    j = journey(SPLIT)
    held = next(f"c{n}" for n in range(1000) if engine.cohort_bucket("ab", "test", f"c{n}") >= 9000)
    driver = Driver(j, Customer(id=held))
    assert driver.step() == engine.End(outcome="holdout")
    assert driver.state.cohort == "holdout"  # kept for reports: what the customer does later still counts


TWO_SPLITS = """
id: two
name: Two splits
steps:
  - id: first
    split: {x: {percent: 100}}
  - id: second
    split: {y: {percent: 100}}
  - {id: done, end: null}
"""


def test_a_run_keeps_the_cohort_of_the_first_split_it_passes() -> None:
    driver = Driver(journey(TWO_SPLITS))
    assert driver.step() == engine.End(outcome="completed")
    assert driver.state.cohort == "x"


ENTRY = """
id: entry
name: Entry
entry: {when: "customer.attributes.plan == 'wimax'", unless: [swapped]}
re_entry: 30d
steps:
  - {id: only, end: null}
"""


def test_entry_unless_never_enrols_a_customer_who_already_converted() -> None:
    swapped = Customer(id="c", attributes={"plan": "wimax"}).with_event(event("swapped", T0 - timedelta(days=30)))
    assert engine.enrolment_refusal(journey(ENTRY), swapped, T0) == "entry.unless: customer already has event 'swapped'"


def test_entry_when_selects_customers() -> None:
    j = journey(ENTRY)
    assert engine.enrolment_refusal(j, Customer(id="c", attributes={"plan": "wimax"}), T0) is None
    assert engine.enrolment_refusal(j, Customer(id="c", attributes={"plan": "fiber"}), T0) == "entry.when is false"
    assert engine.enrolment_refusal(j, Customer(id="c"), T0).startswith("entry.when could not be evaluated")


def test_re_entry_rules() -> None:
    customer = Customer(id="c", attributes={"plan": "wimax"})
    j = journey(ENTRY)
    assert engine.enrolment_refusal(j, customer, T0, [PastRun()]) == "already has a live run of this journey"
    ended = [PastRun(ended_at=T0 - timedelta(days=10))]
    assert engine.enrolment_refusal(j, customer, T0, ended).startswith("re_entry: not before 2026-12-13")
    assert engine.enrolment_refusal(j, customer, T0 + timedelta(days=20), ended) is None
    never = journey(ENTRY.replace("re_entry: 30d", "re_entry: never"))
    assert engine.enrolment_refusal(never, customer, T0 + timedelta(days=900), ended).startswith("re_entry: never")
    always = journey(ENTRY.replace("re_entry: 30d", "re_entry: always"))
    assert engine.enrolment_refusal(always, customer, T0, ended) is None


def test_trigger_event_is_the_runs_first_event() -> None:
    j = journey("id: t\nname: T\nentry: {trigger: complaint_filed}\nsteps: [{id: ack, send: sms, message: {text: x}}]")
    trigger = event("complaint_filed", T0, ref="CMP-1")
    state, _ = engine.start(j, "c1", T0, trigger)
    context = engine.expression_context(j, state, Customer(id="c1"), T0)
    assert context["event"]["data"] == {"ref": "CMP-1"} and context["journey"]["step"] == "ack"


def test_waits_by_duration_clock_and_expression() -> None:
    j = journey(
        """
id: waits
name: Waits
timezone: Asia/Tehran
steps:
  - {id: pause, wait: 1d12h}
  - {id: morning, wait: {until: "10:00"}}
  - {id: renewal, wait: {until: "customer.attributes.renews_at"}}
  - {id: done, end: null}
"""
    )
    renews = "2026-12-01T00:00:00+00:00"
    d = Driver(j, Customer(id="c", attributes={"renews_at": renews}))
    assert d.step().until == T0 + timedelta(days=1, hours=12)
    d.run_until(T0 + timedelta(days=30))
    arrivals = {}
    for s in ("morning", "renewal", "done"):
        arrivals[s] = s in d.entered
    assert d.state.ended_at == datetime.fromisoformat(renews)
    assert all(arrivals.values())


def test_update_step_asks_the_driver_then_moves_on() -> None:
    j = journey("id: u\nname: U\nsteps: [{id: tag, update: {tags: {add: [offered]}}}, {id: next_one, end: x}]")
    state, _ = engine.start(j, "c1", T0)
    command = engine.advance(j, state, Customer(id="c1"), T0).command
    assert isinstance(command, engine.ApplyUpdate) and command.update.tags.add == ["offered"]
    assert engine.complete(j, state, "done", T0) == ["next_one"]


def test_send_failure_continues_or_ends_as_the_step_says() -> None:
    text = "id: f\nname: F\nsteps: [{id: s, send: sms, message: {text: x}ON}, {id: after, end: reached}]"
    j = journey(text.replace("ON", ""))
    state, _ = engine.start(j, "c1", T0)
    engine.advance(j, state, Customer(id="c1"), T0)
    engine.complete(j, state, "failed", T0)
    assert state.step == "after"
    j = journey(text.replace("ON", ", on_failure: end"))
    state, _ = engine.start(j, "c1", T0)
    engine.advance(j, state, Customer(id="c1"), T0)
    engine.complete(j, state, "failed", T0)
    assert state.outcome == "failed"


def test_an_unfinished_send_is_repeated_with_the_same_sequence_number() -> None:
    j = journey(CAPPED)
    state, _ = engine.start(j, "c1", T0)
    first = engine.advance(j, state, Customer(id="c1"), T0).command
    again = engine.advance(j, state, Customer(id="c1"), T0).command
    assert first == again and first.seq == 1 and state.sends == 1


def test_cancel_ends_a_live_run() -> None:
    state, _ = engine.start(journey(REMINDER_LOOP), "c1", T0)
    engine.cancel(state, T0)
    assert state.outcome == "cancelled"
    assert engine.receive(journey(REMINDER_LOOP), state, event("registered", T0)) == "ignored"


def test_quiet_hours_whose_end_the_clock_skips_never_end_in_the_past() -> None:
    """New York, quiet 03:00–02:00: on the spring-forward night 02:00 never happens and 03:00 EDT starts the
    next quiet period at once, so the hold lasts until 02:00 the next night (not 'until now', which spun)."""
    quiet = journey(QUIET.replace('{start: "21:00", end: "09:00"}', '{start: "03:00", end: "02:00"}')).quiet_hours
    zone = ZoneInfo("America/New_York")
    at = datetime(2026, 3, 8, 7, 0, tzinfo=timezone.utc)  # 03:00 EDT, the instant the clock jumped to
    until = engine.quiet_until(quiet, zone, at)
    assert until > at and until.astimezone(zone).strftime("%m-%d %H:%M") == "03-09 02:00"


def test_quiet_hours_tell_the_two_moments_of_a_repeated_wall_time_apart() -> None:
    """New York, quiet 01:00–01:45, on the night 01:00–02:00 happens twice: each 01:30 is inside quiet hours
    that end at its own 01:45, although the two 01:30s look alike (and compare equal) as wall times."""
    quiet = journey(QUIET.replace('{start: "21:00", end: "09:00"}', '{start: "01:00", end: "01:45"}')).quiet_hours
    zone = ZoneInfo("America/New_York")
    first, second = (datetime(2026, 11, 1, 1, 30, fold=fold, tzinfo=zone) for fold in (0, 1))
    assert first == second  # the same wall time in the same zone, whatever the fold
    ends = [engine.quiet_until(quiet, zone, at) for at in (first, second)]
    assert [end.tzinfo for end in ends] == [zone, zone]  # the answer is in the zone it was asked in
    assert [end.astimezone(timezone.utc).strftime("%H:%M") for end in ends] == ["05:45", "06:45"]  # EDT, EST


def test_a_deferred_send_is_held_then_decided_again_with_nothing_sent() -> None:
    j = journey("id: d\nname: D\nsteps: [{id: s, send: sms, message: {text: x}}, {id: after, end: reached}]")
    state, _ = engine.start(j, "c1", T0)
    first = engine.advance(j, state, Customer(id="c1"), T0).command
    assert isinstance(first, engine.Send)
    hold = engine.defer(state, T0 + timedelta(hours=1), "provider")
    assert hold == engine.Wait(step="s", until=T0 + timedelta(hours=1), reason="retry")
    assert state.pending is None and state.step == "s"
    again = engine.advance(j, state, Customer(id="c1"), T0 + timedelta(hours=1)).command
    assert isinstance(again, engine.Send) and again.seq > first.seq  # a new send, under a new key
    assert engine.defer(state, None, "queued") is None  # decided again at once
    assert engine.defer(state, T0, "cap").reason == "cap"
