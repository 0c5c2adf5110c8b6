"""Whole-journey rules: one small broken journey per rule, with the exact position and message."""

from __future__ import annotations

from pathlib import Path

import pytest

from journeys.format.loader import load_journey
from journeys.format.models import Journey
from journeys.format.validation import check
from journeys.format.yaml import Positions
from journeys.templates import TemplateFiles
from tests.support.journey_files import HEADER, SPEC_EXAMPLE, problems, write


def test_check_complete_example_has_no_problems(tmp_path: Path) -> None:
    templates = tmp_path / "templates" / "modem_swap"
    write(templates, "subject: Your free modem\nhtml: '<p>{{ customer.name }}</p>'\n", "invite.email.yaml")
    write(templates, "subject: مودم رایگان شما\ntext: '{{ customer.name }}'\n", "invite.fa.email.yaml")
    write(templates, "text: Please upload your national id.\n", "send_id.sms.yaml")
    journey, found = load_journey(write(tmp_path, SPEC_EXAMPLE, "modem_swap.yaml"))
    assert found == []
    assert journey is not None and journey.id == "modem-swap"


def test_check_mutated_complete_example_never_raises(tmp_path: Path) -> None:
    """Drop each line, or give each key a list or a word instead: problems come back, never a traceback."""
    lines = SPEC_EXAMPLE.splitlines()
    variants = [lines[:i] + lines[i + 1 :] for i in range(len(lines))]
    for i, line in enumerate(lines):
        if ": " in line:
            key = line.split(": ")[0]
            variants += [lines[:i] + [f"{key}: {value}"] + lines[i + 1 :] for value in ("[1, {a: b}]", "x", "0")]
    for variant in variants:
        journey, found = load_journey(write(tmp_path, "\n".join(variant) + "\n"))
        assert journey is not None or found


def test_check_works_without_positions() -> None:
    journey = Journey.model_validate({"id": "j", "name": "J", "steps": [{"id": "a", "goto": "b"}]})
    found = check(journey, Positions(), "j.yaml", TemplateFiles(Path("templates")))
    assert [str(p) for p in found] == ["j.yaml:1:1: step 'a': goto: there is no step 'b'"]


# --- one journey, exactly these problems (none: it is good) --------------------------------


PROBLEMS = [
    # steps and references
    pytest.param(
        HEADER + "  - id: a\n    wait: 1d\n  - id: a\n    end:\n",
        ["j.yaml:6:9: duplicate step id 'a' (first used at line 4)"],
        id="duplicate_step_ids",
    ),
    pytest.param(
        HEADER + "  - id: a\n    wait: 1d\n    next: remnd\n  - id: remind\n    end:\n",
        ["j.yaml:6:11: step 'a': next: there is no step 'remnd', did you mean 'remind'?"],
        id="reference_to_no_step_suggests",
    ),
    pytest.param(
        """\
        id: j
        name: J
        steps:
          - id: a
            wait_for: [x, y]
            timeout: 1d
            on_timeout: t1
            on_event: {x: t2}
            max_visits: 2
            on_max: t3
          - id: b
            branch: [{when: "true", goto: t4}]
            else: t5
          - id: c
            split: {one: {percent: 100, goto: t6}}
          - id: d
            goto: t7
        """,
        [
            "j.yaml:7:17: step 'a': on_timeout: there is no step 't1'",
            "j.yaml:8:19: step 'a': on_event x: there is no step 't2'",
            "j.yaml:10:13: step 'a': on_max: there is no step 't3'",
            "j.yaml:12:35: step 'b': goto: there is no step 't4'",
            "j.yaml:13:11: step 'b': else: there is no step 't5'",
            "j.yaml:15:39: step 'c': split cohort one goto: there is no step 't6'",
            "j.yaml:17:11: step 'd': goto: there is no step 't7'",
        ],
        id="every_kind_of_reference",
    ),
    pytest.param(
        """\
        id: j
        name: J
        steps:
          - id: a
            wait_for: registered
            timeout: 1d
            on_event:
              registerd: b
          - id: b
            end:
        """,
        ["j.yaml:8:7: step 'a': on_event 'registerd' is not an event this step waits for (registered)"],
        id="on_event_must_be_a_waited_event",
    ),
    # reachability and loops
    pytest.param(
        HEADER + "  - id: a\n    goto: c\n  - id: b\n    end:\n  - id: c\n    end:\n",
        ["j.yaml:6:5: step 'b' is unreachable: no path from the first step leads to it"],
        id="unreachable_step",
    ),
    pytest.param(
        HEADER + "  - id: a\n    goto: bb\n  - id: b\n    end:\n",
        ["j.yaml:5:11: step 'a': goto: there is no step 'bb', did you mean 'b'?"],
        id="unreachable_not_reported_while_a_name_is_wrong",
    ),
    pytest.param(
        """\
        id: j
        name: J
        steps:
          - id: a
            split: {test: {percent: 90, goto: c}, holdout: {percent: 10}}
          - id: b
            end: never
          - id: c
            end: sent
        """,
        ["j.yaml:6:5: step 'b' is unreachable: no path from the first step leads to it"],
        id="holdout_without_goto_ends_the_run",
    ),
    pytest.param(
        """\
        id: j
        name: J
        steps:
          - id: a
            wait_for: [x, y]
            timeout: 1d
            on_timeout: c
            on_event: {x: c}
          - id: b
            end: by_y
          - id: c
            end: by_x
        """,
        [],
        id="wait_for_reaches_next_step_for_events_without_on_event",
    ),
    pytest.param(
        """\
        id: j
        name: J
        steps:
          - id: a
            update: {tags: {add: [seen]}}
          - id: b
            branch: [{when: "customer.tags", goto: a}]
          - id: c
            goto: c
        """,
        [
            "j.yaml:4:5: loop a → b can run forever: it has no wait, wait_for or max_visits",
            "j.yaml:8:5: loop c → c can run forever: it has no wait, wait_for or max_visits",
        ],
        id="loop_without_wait_or_max_visits",
    ),
    pytest.param(
        """\
        id: j
        name: J
        steps:
          - id: a
            update: {set: {n: 1}}
            max_visits: 3
            on_max: b
            next: a
          - id: b
            end:
        """,
        [],
        id="loop_with_max_visits_is_bounded",
    ),
    pytest.param(
        """\
        id: j
        name: J
        steps:
          - id: call
            send: voice
            message: {say: "Your modem is waiting."}
          - id: wait
            wait: 1d
          - id: again
            goto: call
        """,
        [
            "j.yaml:4:5: loop call → wait → again sends on every pass and no step in it has a numeric max_visits: "
            "the customer would be messaged for as long as the awaited event never comes; bound it with "
            "max_visits (or say max_visits: unlimited if it is meant to go on)"
        ],
        id="the_seed_robocall_send_wait_goto_is_refused",
    ),
    pytest.param(
        """\
        id: j
        name: J
        limits: [{channel: voice, max: 1, per: 1d}]
        steps:
          - id: call
            send: voice
            message: {say: "Your modem is waiting."}
          - id: wait
            wait_for: registered
            timeout: 1d
            on_timeout: call
        """,
        [
            "j.yaml:5:5: loop call → wait sends on every pass and no step in it has a numeric max_visits: "
            "the customer would be messaged for as long as the awaited event never comes; bound it with "
            "max_visits (or say max_visits: unlimited if it is meant to go on)"
        ],
        id="a_send_loop_with_only_a_frequency_cap_is_refused",
    ),
    pytest.param(
        """\
        id: j
        name: J
        limits: [{channel: voice, max: 1, per: 1d}]
        steps:
          - id: call
            send: voice
            message: {say: "Your modem is waiting."}
            max_visits: unlimited
          - id: wait
            wait_for: registered
            timeout: 1d
            on_timeout: call
        """,
        [
            "j.yaml:8:17: warning: loop call → wait sends on every pass with max_visits: unlimited: "
            "only frequency caps bound it"
        ],
        id="a_declared_endless_send_loop_warns_that_only_caps_bound_it",
    ),
    pytest.param(
        """\
        id: j
        name: J
        steps:
          - id: call
            send: voice
            message: {say: "Your modem is waiting."}
          - id: wait
            wait: 1d
            max_visits: unlimited
          - id: again
            goto: call
        """,
        [
            "j.yaml:9:17: warning: loop call → wait → again sends on every pass with max_visits: unlimited: "
            "nothing bounds it, not even a frequency cap"
        ],
        id="a_declared_endless_send_loop_without_a_cap_says_nothing_bounds_it",
    ),
    # expressions and templates
    pytest.param(
        """\
        id: j
        name: J
        entry: {when: 'customer.plan =='}
        steps:
          - id: a
            branch: [{when: "custmer.plan == 'x'", goto: b}]
          - id: b
            wait: {until: "customer.__class__"}
        """,
        [
            "j.yaml:3:15: entry.when: expression does not parse: unexpected 'end of print statement'",
            "j.yaml:6:21: step 'a': unknown name 'custmer', did you mean 'customer'? "
            "(the context has customer, event, journey, now)",
            "j.yaml:8:19: step 'b': the sandbox refuses access to attribute '__class__'",
        ],
        id="expressions",
    ),
    pytest.param(
        HEADER + "  - id: a\n    wait: {until: '25:00'}\n  - id: b\n    wait: {until: '09:30'}\n",
        ["j.yaml:5:19: step 'a': bad time '25:00': expected HH:MM on a 24-hour clock, e.g. 09:00"],
        id="wait_until_clock",
    ),
    pytest.param(
        """\
        id: j
        name: J
        steps:
          - id: a
            send: email
            message:
              subject: "Hi {{ customer.name"
              text: "{{ customer.__dict__ }}"
        """,
        [
            "j.yaml:7:16: step 'a': subject: template does not parse (line 1): "
            "unexpected end of template, expected 'end of print statement'.",
            "j.yaml:8:13: step 'a': text: the sandbox refuses access to attribute '__dict__'",
        ],
        id="inline_message_templates",
    ),
    pytest.param(
        """\
        id: j
        name: J
        steps:
          - id: a
            send: webhook
            message:
              url: https://example.com/hook
              body: {customer: {name: "{{ nam }}"}, tags: ["{{ customer.tags | nope }}"]}
          - id: b
            update: {set: {greeting: "{% if %}"}}
        """,
        [
            "j.yaml:8:31: step 'a': body.customer.name: unknown name 'nam' "
            "(the context has customer, event, journey, now)",
            "j.yaml:8:52: step 'a': body.tags.0: unknown filter 'nope'",
            "j.yaml:10:30: step 'b': set.greeting: template does not parse (line 1): "
            "Expected an expression, got 'end of statement block'",
        ],
        id="webhook_body_and_update_set_templates",
    ),
    pytest.param(
        """\
        id: j
        name: J
        steps:
          - id: a
            send: email
            message: {subject: Hi, say: Hello}
          - id: b
            send: sms
            message: {url: "https://example.com"}
          - id: c
            send: voice
            message: {gather: {event: pressed}}
          - id: d
            send: webhook
            message: {method: POST}
        """,
        [
            "j.yaml:6:14: step 'a': a message on channel email needs 'text' or 'html'",
            "j.yaml:6:28: step 'a': field 'say' does not fit channel email (email takes subject, text, html)",
            "j.yaml:9:14: step 'b': a message on channel sms needs 'text'",
            "j.yaml:9:15: step 'b': field 'url' does not fit channel sms (sms takes text)",
            "j.yaml:12:14: step 'c': a message on channel voice needs 'say'",
            "j.yaml:15:14: step 'd': a message on channel webhook needs 'url'",
        ],
        id="inline_message_channel_fit",
    ),
    # likely mistakes (warnings)
    pytest.param(
        HEADER + "  - id: a\n    wait: 1d\n    on_max: b\n  - id: b\n    end:\n",
        ["j.yaml:6:5: warning: step 'a': on_max has no effect without max_visits"],
        id="on_max_without_max_visits_warns",
    ),
    pytest.param(
        """\
        id: j
        name: J
        exit_on: [swapped]
        steps:
          - id: a
            wait_for: [registered, swapped]
            timeout: 1d
        """,
        [
            "j.yaml:6:28: warning: step 'a': event 'swapped' is also in exit_on: "
            "the run exits when it arrives, so this path can never be taken"
        ],
        id="wait_for_event_in_exit_on_warns",
    ),
    pytest.param(
        "id: j\nname: J\nentry: {trigger: signed_up, unless: [signed_up]}\nexit_on: [signed_up]\n"
        "steps: [{id: a, end: }]\n",
        [
            "j.yaml:3:18: warning: entry.trigger 'signed_up' is also in entry.unless: "
            "the event that enrols a customer also keeps them out, so nobody is enrolled by it",
            "j.yaml:3:18: warning: entry.trigger 'signed_up' is also in exit_on: every run it starts ends at once",
        ],
        id="trigger_in_unless_or_exit_on_warns",
    ),
    pytest.param(
        "id: j\nname: J\nentry: {when: 'customer.tags', continuous: true}\nsteps: [{id: a, end: }]\n",
        [],
        id="continuous_entry_is_valid",
    ),
    pytest.param(
        "id: j\nname: J\nentry: {continuous: true, trigger: signed_up}\nsteps: [{id: a, end: }]\n",
        [
            "j.yaml:3:21: entry.continuous and entry.trigger 'signed_up' both say how customers enter: keep one "
            "(trigger: the event enrols; continuous: entry.when becoming true enrols)"
        ],
        id="continuous_with_trigger_is_an_error",
    ),
    pytest.param(
        "id: j\nname: J\nentry: {continuous: yes please}\nsteps: [{id: a, end: }]\n",
        ["j.yaml:3:21: 'continuous' should be a valid boolean, unable to interpret input, not 'yes please'"],
        id="continuous_must_be_a_boolean",
    ),
    pytest.param(
        "id: j\nname: J\nentry: {continuous: true}\nre_entry: always\nsteps: [{id: a, end: }]\n",
        [
            "j.yaml:4:11: warning: entry.continuous with re_entry: always re-enrols a customer on every change to "
            "their profile or timeline while entry.when holds, once their run ended: give a duration (re_entry: 30d)"
        ],
        id="continuous_with_re_entry_always_warns",
    ),
    pytest.param(
        "id: j\nname: J\nquiet_hours: {start: '21:00', end: '21:00'}\nsteps: [{id: a, end: }]\n",
        [
            "j.yaml:3:14: warning: quiet_hours start and end are the same time: "
            "give different times, or remove quiet_hours"
        ],
        id="quiet_hours_with_equal_start_and_end_warns",
    ),
    pytest.param(
        HEADER + "  - id: a\n    split: {a: {percent: 100}, b: {percent: 0}}\n",
        ["j.yaml:5:45: warning: step 'a': cohort 'b' has percent 0: no customer lands in it"],
        id="split_cohort_with_zero_percent_warns",
    ),
]


@pytest.mark.parametrize(("text", "expected"), PROBLEMS)
def test_check_finds_exactly_these_problems(tmp_path: Path, text: str, expected: list[str]) -> None:
    """Each journey gives these problems and warnings, at these positions, and no others."""
    assert problems(tmp_path, text) == expected


# --- expressions and templates --------------------------------------------------------------------


def test_check_template_with_no_file_for_the_channel(tmp_path: Path) -> None:
    write(tmp_path, "text: hi\n", "templates/modem_swap/invite.sms.yaml")
    found = problems(tmp_path, HEADER + "  - id: a\n    send: email\n    template: modem_swap/invite\n")
    assert found == [
        f"j.yaml:6:15: step 'a': no template file for 'modem_swap/invite' on channel email (looked for "
        f"{tmp_path}/templates/modem_swap/invite.email.yaml and "
        f"{tmp_path}/templates/modem_swap/invite.<locale>.email.yaml)"
    ]


def test_check_template_without_locale_free_fallback_warns(tmp_path: Path) -> None:
    write(tmp_path, "text: salam\n", "templates/t.fa.sms.yaml")
    found = problems(tmp_path, HEADER + "  - id: a\n    send: sms\n    template: t\n")
    assert found == [
        f"j.yaml:6:15: warning: step 'a': template 't' has no file for customers of other locales on channel sms "
        f"(create {tmp_path}/templates/t.sms.yaml)"
    ]


def test_check_template_file_problems_point_into_the_template_file(tmp_path: Path) -> None:
    write(tmp_path, "subject: Hi\ntext: '{{ customer.name'\n", "templates/t.email.yaml")
    write(tmp_path, "subject: Hi\nsay: Salam\n", "templates/t.fa.email.yaml")
    text = HEADER + "  - id: a\n    send: email\n    template: t\n  - id: b\n    send: email\n    template: t\n"
    assert problems(tmp_path, text) == [
        "templates/t.email.yaml:2:7: text: template does not parse (line 1): "
        "unexpected end of template, expected 'end of print statement'.",
        "templates/t.fa.email.yaml:1:1: a message on channel email needs 'text' or 'html'",
        "templates/t.fa.email.yaml:2:1: field 'say' does not fit channel email (email takes subject, text, html)",
    ]
