"""The loader: YAML with positions, and pydantic's errors as `file:line:col: message` for people."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from journeys.errors import DefinitionError
from journeys.format.loader import load_directory, load_journey, load_or_raise
from journeys.format.messages import load_message_file
from journeys.format.yaml import load_yaml
from tests.support.journey_files import HEADER, problems, write

KINDS = "send, wait, wait_for, branch, split, update, goto, end"


def yaml_problem(path: Path) -> str:
    with pytest.raises(DefinitionError) as info:
        load_yaml(path)
    assert len(info.value.problems) == 1
    return str(info.value.problems[0]).removeprefix(f"{path.parent}/")


# --- load_yaml ------------------------------------------------------------------------------------


def test_load_yaml_positions_of_values_keys_and_items(tmp_path: Path) -> None:
    data, positions = load_yaml(write(tmp_path, HEADER + "  - id: a\n    wait_for: [x, y]\n    timeout: 3d\n"))
    assert data["steps"][0] == {"id": "a", "wait_for": ["x", "y"], "timeout": "3d"}
    assert positions.at(("steps", 0, "timeout")) == (6, 14)
    assert positions.key(("steps", 0, "timeout")) == (6, 5)
    assert positions.at(("steps", 0, "wait_for", 1)) == (5, 19)
    assert positions.at(("steps", 0)) == (4, 5)
    assert positions.at(()) == (1, 1)


def test_load_yaml_missing_path_gives_deepest_existing_ancestor(tmp_path: Path) -> None:
    _, positions = load_yaml(write(tmp_path, HEADER + "  - id: a\n    wait_for: x\n"))
    assert positions.at(("steps", 0, "timeout")) == (4, 5)
    assert positions.key(("steps", 0, "timeout")) == (4, 5)
    assert positions.at(("steps", 7, "id")) == (4, 3)


def test_load_yaml_keeps_times_and_dates_as_written(tmp_path: Path) -> None:
    data, _ = load_yaml(write(tmp_path, "a: 09:00\nb: 1:30\nc: 2026-11-23\nd: 2026-11-23T08:00:00+03:30\n"))
    assert data == {"a": "09:00", "b": "1:30", "c": "2026-11-23", "d": "2026-11-23T08:00:00+03:30"}


def test_load_yaml_gives_plain_python_scalars(tmp_path: Path) -> None:
    data, _ = load_yaml(write(tmp_path, "a: 1_000\nb: 0x1F\nc: 1.5\nd: true\ne: ~\nf: yes\ng: '3'\n"))
    assert data == {"a": 1000, "b": 31, "c": 1.5, "d": True, "e": None, "f": "yes", "g": "3"}
    assert [type(v) for v in data.values()] == [int, int, float, bool, type(None), str, str]


def test_load_yaml_merge_keys_and_aliases(tmp_path: Path) -> None:
    data, _ = load_yaml(write(tmp_path, "base: &b {x: 1, y: 2}\nother: {<<: *b, y: 3}\nsame: *b\n"))
    assert data["other"] == {"x": 1, "y": 3}
    assert data["same"] == {"x": 1, "y": 2}


def test_load_yaml_syntax_error_at_its_mark(tmp_path: Path) -> None:
    path = write(tmp_path, "id: j\nname: [J\nsteps: []\n")
    assert yaml_problem(path).startswith("j.yaml:3:6: YAML syntax error: expected ',' or ']'")


def test_load_yaml_unquoted_template_gets_a_hint(tmp_path: Path) -> None:
    path = write(tmp_path, "say: {{ customer.name }}, hello\n")
    assert yaml_problem(path).endswith("a value starting with '{{' must be in quotes")


def test_load_yaml_tab_indent_gets_a_hint(tmp_path: Path) -> None:
    path = write(tmp_path, "id: j\n\tname: J\n")
    assert yaml_problem(path).startswith("j.yaml:2:1: YAML syntax error:")
    assert yaml_problem(path).endswith("indent with spaces, not tabs")


def test_load_yaml_duplicate_key(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + "  - id: a\n    wait: 1d\n    wait: 2d\n")
    assert yaml_problem(path) == "j.yaml:6:5: duplicate key 'wait' (first given at line 5)"


def test_load_yaml_invalid_utf8(tmp_path: Path) -> None:
    path = tmp_path / "j.yaml"
    path.write_bytes(b"id: j\nname: caf\xe9\n")
    assert yaml_problem(path) == "j.yaml:2:10: the file is not valid UTF-8 text: save it as UTF-8"


def test_load_yaml_empty_file(tmp_path: Path) -> None:
    assert yaml_problem(write(tmp_path, "# nothing yet\n")) == "j.yaml:1:1: the file is empty"


def test_load_yaml_top_level_single_value(tmp_path: Path) -> None:
    path = write(tmp_path, "just some words\n")
    assert yaml_problem(path) == "j.yaml:1:1: the top level must be a mapping of keys or a list, not one value"


def test_load_yaml_top_level_list_of_records(tmp_path: Path) -> None:
    data, positions = load_yaml(write(tmp_path, "- id: c1\n- id: c2\n"))
    assert data == [{"id": "c1"}, {"id": "c2"}]
    assert positions.at((1,)) == (2, 3)


def test_load_journey_top_level_list(tmp_path: Path) -> None:
    assert problems(tmp_path, "- id: j\n") == ["j.yaml:1:1: the top level must be a mapping of keys, not a list"]


def test_load_yaml_missing_file(tmp_path: Path) -> None:
    assert yaml_problem(tmp_path / "j.yaml") == "j.yaml:1:1: cannot read the file: No such file or directory"


def test_load_yaml_bad_explicit_tag(tmp_path: Path) -> None:
    assert yaml_problem(write(tmp_path, "a: !!int abc\n")) == "j.yaml:1:4: 'abc' is not a valid int"


# --- load_journey: pydantic errors ----------------------------------------------------------------


SHAPE_ERRORS = [
    pytest.param(
        "id: j\nname: J\nexit_onn: [x]\nsteps:\n  - id: a\n    end:\n",
        ["j.yaml:3:1: unknown key 'exit_onn', did you mean 'exit_on'?"],
        id="unknown_top_level_key_suggests",
    ),
    pytest.param(
        HEADER + "  - id: a\n    wait_for: x\n    timeout: 1d\n    tiemout: 3d\n",
        ["j.yaml:7:5: step 'a': unknown key 'tiemout', did you mean 'timeout'?"],
        id="unknown_step_key_points_at_key",
    ),
    pytest.param(
        HEADER + "  - id: a\n    branch: [{when: 'true', goto: a, zzz: b}]\n",
        ["j.yaml:5:38: step 'a': unknown key 'zzz' (a branch case takes when, goto)"],
        id="unknown_key_without_suggestion_lists_keys",
    ),
    pytest.param(
        HEADER + "  - id: a\n    wait_for: x\n",
        ["j.yaml:4:5: step 'a': missing required key 'timeout' (a wait_for step needs a timeout)"],
        id="missing_required_key",
    ),
    pytest.param(
        "version: 2\n",
        [
            "j.yaml:1:1: missing required key 'id' (a journey needs an id)",
            "j.yaml:1:1: missing required key 'name' (a journey needs a name)",
            "j.yaml:1:1: missing required key 'steps' (a journey needs steps)",
        ],
        id="missing_id_name_steps",
    ),
    pytest.param(
        HEADER + "  - id: a\n    next: a\n",
        [f"j.yaml:4:5: step 'a' has no kind: expected one of {KINDS}"],
        id="step_without_kind",
    ),
    pytest.param(
        HEADER + "  - id: a\n    sned: email\n",
        ["j.yaml:5:5: step 'a': unknown key 'sned', did you mean 'send'?"],
        id="step_with_misspelt_kind",
    ),
    pytest.param(
        HEADER + "  - id: a\n    send: email\n    wait: 1d\n",
        ["j.yaml:6:5: step 'a' has more than one kind: send, wait"],
        id="step_with_two_kinds",
    ),
    pytest.param(
        HEADER + "  - id: a\n    end:\n  - invite\n",
        [f"j.yaml:6:5: step 2 must be a mapping with an id and one of {KINDS}"],
        id="step_that_is_not_a_mapping",
    ),
    pytest.param(
        HEADER + "  - id: a\n    send: emial\n    template: t\n",
        ["j.yaml:5:11: step 'a': 'send' must be one of email, sms, voice, webhook, not 'emial', did you mean 'email'?"],
        id="bad_choice_suggests",
    ),
    pytest.param(
        HEADER + "  - id: a\n    wait: 3days\n",
        [
            "j.yaml:5:11: step 'a': bad duration '3days': "
            "expected a whole number with a unit (s, m, h, d, w), e.g. 3d or 1d12h"
        ],
        id="bad_duration",
    ),
    pytest.param(
        HEADER + "  - id: a\n    wait_for: x\n    timeout: 30\n",
        [
            "j.yaml:6:14: step 'a': bad duration 30: "
            "expected a whole number with a unit (s, m, h, d, w), e.g. 3d or 1d12h"
        ],
        id="duration_needs_a_unit",
    ),
    pytest.param(
        HEADER + "  - id: a\n    wait: {until: 5}\n",
        ["j.yaml:5:19: step 'a': 'until' should be a valid string, not 5"],
        id="wait_until_reports_only_the_mapping_branch",
    ),
    pytest.param(
        ("id: j\nname: J\ntimezone: Mars/Base\nre_entry: sometimes\nquiet_hours: {start: '25:00', end: 900}\n")
        + "steps:\n  - id: a\n    end:\n",
        [
            "j.yaml:3:11: unknown time zone 'Mars/Base': expected an IANA name such as Asia/Tehran",
            "j.yaml:4:11: bad re_entry 'sometimes': expected never, always or a duration such as 30d",
            "j.yaml:5:22: bad time '25:00': expected HH:MM on a 24-hour clock, e.g. 09:00",
            "j.yaml:5:36: bad time 900: expected HH:MM on a 24-hour clock, e.g. 09:00",
        ],
        id="bad_time_zone_clock_and_re_entry",
    ),
    pytest.param(
        HEADER + "  - id: a\n    split: {x: {percent: 50}, y: {percent: 40}}\n",
        ["j.yaml:5:12: step 'a': split percentages sum to 90, not 100"],
        id="split_percentages",
    ),
    pytest.param(
        "id: J\nname: J\nexit_on: [bad event]\nsteps:\n  - id: a\n    end:\n",
        [
            "j.yaml:1:5: 'J' is not a valid id: use lowercase letters, digits, _ and -, starting with a letter",
            "j.yaml:3:11: 'bad event' is not a valid event name: "
            "use letters, digits, _ . : and -, starting with a letter",
        ],
        id="bad_slug_and_event_name",
    ),
    pytest.param(
        HEADER + "  - id: a\n    split:\n      Big: {percent: 100}\n",
        [
            "j.yaml:6:7: step 'a': 'Big' is not a valid name: "
            "use lowercase letters, digits, _ and -, starting with a letter"
        ],
        id="bad_mapping_key_points_at_key",
    ),
    pytest.param(
        HEADER + "  - id: a\n    send: email\n",
        ["j.yaml:4:5: step 'a': a send step needs exactly one of template or message"],
        id="send_needs_template_or_message",
    ),
    pytest.param(
        "id: j\nname: J\nentry: yes\nsteps: {a: 1}\n",
        [
            "j.yaml:3:8: 'entry' must be a mapping of keys, not 'yes'",
            "j.yaml:4:8: 'steps' must be a list, not a mapping",
        ],
        id="wrong_container_types",
    ),
]


@pytest.mark.parametrize(("text", "expected"), SHAPE_ERRORS)
def test_load_journey_names_each_shape_error_where_it_is(tmp_path: Path, text: str, expected: list[str]) -> None:
    """What pydantic refuses, as `j.yaml:line:col: message`: exactly these problems."""
    assert problems(tmp_path, text) == expected


def test_load_journey_reports_all_problems_sorted_by_line(tmp_path: Path) -> None:
    text = HEADER + "  - id: a\n    wait: 1x\n  - id: b\n    send: fax\n    template: t\nlimits: [{channel: any}]\n"
    found = [p.split(": ", 1)[0] for p in problems(tmp_path, text)]
    assert found == ["j.yaml:5:11", "j.yaml:7:11", "j.yaml:9:10", "j.yaml:9:10"]


def test_load_journey_shape_valid_runs_whole_journey_checks(tmp_path: Path) -> None:
    journey, found = load_journey(write(tmp_path, HEADER + "  - id: a\n    goto: b\n"))
    assert journey is not None
    assert [str(p).removeprefix(f"{tmp_path}/") for p in found] == ["j.yaml:5:11: step 'a': goto: there is no step 'b'"]


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab:-[]{}'\"!&*|>#%@`\t\n ~0123456789.,?<")), max_size=80))
def test_load_journey_never_raises(text: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "j.yaml"
        path.write_text(text, encoding="utf-8")
        journey, found = load_journey(path)
        assert journey is not None or found


# --- template files, load_or_raise, load_directory ------------------------------------------------


def test_load_message_file_reports_unknown_key_and_channel_fit(tmp_path: Path) -> None:
    path = write(tmp_path, "subjct: Hi\nsay: hello\n", "invite.email.yaml")
    message, found = load_message_file(path)
    assert message is None
    assert [str(p).removeprefix(f"{tmp_path}/") for p in found] == [
        "invite.email.yaml:1:1: unknown key 'subjct', did you mean 'subject'?"
    ]
    path = write(tmp_path, "subject: Hi\nsay: hello\n", "invite.email.yaml")
    message, found = load_message_file(path)
    assert message is not None
    assert [str(p).removeprefix(f"{tmp_path}/") for p in found] == [
        "invite.email.yaml:1:1: a message on channel email needs 'text' or 'html'",
        "invite.email.yaml:2:1: field 'say' does not fit channel email (email takes subject, text, html)",
    ]


def test_load_message_file_checks_templates(tmp_path: Path) -> None:
    _, found = load_message_file(write(tmp_path, "text: 'Hi {{ customer.name'\n", "t.sms.yaml"))
    assert len(found) == 1
    assert str(found[0]).startswith(f"{tmp_path}/t.sms.yaml:1:7: text: template does not parse")


def test_load_or_raise_raises_with_every_problem(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + "  - id: a\n    goto: b\n  - id: c\n    goto: d\n")
    with pytest.raises(DefinitionError) as info:
        load_or_raise(path)
    assert [p.line for p in info.value.problems] == [5, 7]
    assert str(info.value) == f"{path}:5:11: step 'a': goto: there is no step 'b'"


def test_load_or_raise_allows_warnings(tmp_path: Path) -> None:
    journey = load_or_raise(write(tmp_path, HEADER + "  - id: a\n    wait: 1d\n    on_max: b\n  - id: b\n    end:\n"))
    assert [s.id for s in journey.steps] == ["a", "b"]


def test_load_directory_keys_journeys_by_id(tmp_path: Path) -> None:
    write(tmp_path, "id: one\nname: One\nsteps: [{id: a, end: }]\n", "a.yaml")
    write(tmp_path, "id: two\nname: Two\nsteps: [{id: a, end: }]\n", "b.yaml")
    write(tmp_path, "not: [valid\n", "sub/c.yaml")
    write(tmp_path, "not: [valid\n", "notes.txt")
    assert sorted(load_directory(tmp_path)) == ["one", "two"]


def test_load_directory_duplicate_ids(tmp_path: Path) -> None:
    write(tmp_path, "id: one\nname: One\nsteps: [{id: a, end: }]\n", "a.yaml")
    write(tmp_path, "name: Two\nid: one\nsteps: [{id: a, end: }]\n", "b.yaml")
    with pytest.raises(DefinitionError) as info:
        load_directory(tmp_path)
    assert [str(p) for p in info.value.problems] == [
        f"{tmp_path}/b.yaml:2:5: journey id 'one' is already used by {tmp_path}/a.yaml"
    ]


def test_load_directory_raises_on_any_error(tmp_path: Path) -> None:
    write(tmp_path, "id: one\nname: One\nsteps: [{id: a, end: }]\n", "a.yaml")
    write(tmp_path, "id: two\nname: Two\n", "b.yaml")
    with pytest.raises(DefinitionError) as info:
        load_directory(tmp_path)
    assert [str(p) for p in info.value.problems] == [
        f"{tmp_path}/b.yaml:1:1: missing required key 'steps' (a journey needs steps)"
    ]


def test_load_yaml_folded_scalar_folds_line_breaks_into_spaces(tmp_path: Path) -> None:
    path = tmp_path / "folded.yaml"
    path.write_text("description: >\n  one\n  two\n", encoding="utf-8")
    data, _ = load_yaml(path)
    assert data == {"description": "one two\n"}


def test_load_yaml_keeps_leading_zeros_of_identifiers(tmp_path: Path) -> None:
    path = tmp_path / "people.yaml"
    path.write_text("- {id: 007, phone: 09121234567, months: 8}\n", encoding="utf-8")
    data, _ = load_yaml(path)
    assert data == [{"id": "007", "phone": "09121234567", "months": 8}]
