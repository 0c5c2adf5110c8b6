"""Bad journey definitions through the real command line.

Whatever bytes a definition file holds, `journeys validate` and `journeys simulate` either succeed or print
one line per problem, `file:line:col: message` (a whole-file error names line 1), and exit 1: never a
traceback, never an "internal error", never a hang. Malicious YAML (alias and merge-key bombs, deep nesting)
is cheap to refuse, and what Python's dates, zones and numbers cannot hold is refused by name.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from journeys import cli
from journeys.format.loader import load_journey
from tests.support import ROOT
from tests.support.cli import data_in, run, run_script

START = "2026-11-23T08:00:00+03:30"
GOOD = """\
id: j
name: J
steps:
  - id: hello
    send: sms
    message: {text: "Hi {{ customer.name }}"}
  - id: pause
    wait: 1d
"""
CUSTOMERS = "id,name,phone\nc1,Sara,+989121000001\n"


def assert_problem_lines(code: int, err: str, path: Path) -> list[str]:
    """Exit 1 and every line of stderr a `file:line:col: message` problem."""
    assert code == 1, err
    assert "Traceback" not in err and "internal error" not in err, err
    lines = err.splitlines()
    assert lines, "no problem printed"
    for line in lines:
        assert line.startswith(f"{path}:"), line
        assert re.match(rf"{re.escape(str(path))}:\d+:\d+: \S", line), line
    return lines


def validate(tmp_path: Path, content: bytes | str, name: str = "j.yaml") -> tuple[int, str, Path]:
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    code, _, err = run("validate", str(path))
    return code, err, path


# --- one bad thing at a time ------------------------------------------------------------------------------

BILLION_LAUGHS = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]\n" for i in range(1, 10)
)
MERGE_BOMB = "x0: &x0 {a: 1}\n" + "".join(f"x{i}: &x{i} {{<<: [*x{i - 1}, *x{i - 1}]}}\n" for i in range(1, 40))

BAD_FILES: list[tuple[str, bytes, str]] = [
    ("not UTF-8", GOOD.replace("name: J", "name: caf\xe9").encode("latin-1"), ":2:10: the file is not valid UTF-8"),
    (
        "Windows-1256 Persian",
        GOOD.replace("name: J", "name: ثبت‌نام مودم").encode("cp1256"),
        ":2:7: the file is not valid UTF-8 text (it looks like Windows-1256): save it as UTF-8",
    ),
    ("UTF-16", GOOD.encode("utf-16"), ":1:1: the file is not valid UTF-8 text (it is UTF-16): save it as UTF-8"),
    ("NUL byte", GOOD.replace("name: J", "name: J\x00").encode(), ":2:8: character U+0000 is not allowed in YAML"),
    ("escape sequence", GOOD.replace("name: J", "name: \x1b[2J").encode(), ":2:7: character U+001B is not allowed"),
    ("only NULs", b"\x00" * 100, ":1:1: character U+0000 is not allowed in YAML"),
    ("deep brackets", b"a: " + b"[" * 20_000 + b"]" * 20_000 + b"\n", ":1:104: the file is nested too deeply"),
    ("deep braces", b"a: " + b"{a: " * 20_000 + b"}" * 20_000 + b"\n", ":1:404: the file is nested too deeply"),
    ("deep indentation", "".join("  " * i + f"k{i}:\n" for i in range(400)).encode(), ":1:1: unknown key 'k0'"),
    (
        "billion laughs",
        (GOOD + BILLION_LAUGHS + "description: *a9\n").encode(),
        "'description' should be a valid string",
    ),
    ("merge-key bomb", (GOOD + MERGE_BOMB).encode(), "unknown key 'x0'"),
    ("alias loop", (GOOD + "description: &d [*d]\n").encode(), "an alias refers to the node that contains it"),
    ("duplicate key", (GOOD + "name: K\n").encode(), ":9:1: duplicate key 'name' (first given at line 2)"),
    ("duplicate step key", GOOD.replace("wait: 1d", "wait: 1d\n    wait: 2d").encode(), ":9:5: duplicate key 'wait'"),
    ("huge version", GOOD.replace("id: j", "id: j\nversion: " + "9" * 40).encode(), "is too large a number"),
    ("5,000 digits", GOOD.replace("id: j", "id: j\nversion: " + "9" * 5_000).encode(), "(5,000 characters) is not a"),
    ("infinite version", GOOD.replace("id: j", "id: j\nversion: .inf").encode(), "'version' should be a finite"),
    ("huge wait", GOOD.replace("wait: 1d", "wait: 99999999999999999999d").encode(), "bad duration"),
    ("wait past year 9999", GOOD.replace("wait: 1d", "wait: 3000000d").encode(), "at most 3650d"),
    ("folder as a zone", GOOD.replace("id: j", "id: j\ntimezone: Asia").encode(), "unknown time zone 'Asia'"),
    ("zone name too long", GOOD.replace("id: j", "id: j\ntimezone: " + "A" * 5_000).encode(), "unknown time zone"),
    ("zone path", GOOD.replace("id: j", "id: j\ntimezone: ../../etc/passwd").encode(), "unknown time zone"),
    ("python tag", GOOD.replace("name: J", "name: !!python/object/apply:os.system [id]").encode(), "not supported"),
    ("binary tag", GOOD.replace("name: J", "name: !!binary aGk=").encode(), "the YAML tag"),
    ("local tag", GOOD.replace("name: J", "name: !secret J").encode(), "the YAML tag '!secret' is not supported"),
    ("file over 256 KiB", (GOOD + "description: " + "x" * 300_000 + "\n").encode(), ":1:1: the file is 300,"),
    (
        "1,001 steps",
        ("id: j\nname: J\nsteps:\n" + "".join(f"  - {{id: s{i}, wait: 1d}}\n" for i in range(1_001))).encode(),
        ":4:3: a journey has at most 1,000 steps, this one has 1,001",
    ),
    ("steps not a list", b"id: j\nname: J\nsteps: 5\n", ":3:8: 'steps' must be a list, not 5"),
    ("id a list", GOOD.replace("id: j", "id: [1, 2]").encode(), ":1:5: 'id' should be a valid string"),
    ("step id a number", GOOD.replace("id: hello", "id: 7").encode(), "step 1: 'id' should be a valid string, not 7"),
    ("key a list", (GOOD + "? [a, b]\n: c\n").encode(), "a key must be plain text"),
    ("empty", b"", ":1:1: the file is empty"),
    ("only a comment", b"# TODO\n", ":1:1: the file is empty"),
    ("one word", b"hello\n", ":1:1: the top level must be a mapping of keys or a list, not one value"),
    ("two documents", (GOOD + "---\n" + GOOD).encode(), "YAML syntax error"),
    ("tabs", GOOD.replace("    send", "\tsend").encode(), "indent with spaces, not tabs"),
    (
        "huge template repetition",
        GOOD.replace("Hi {{", "{{ 'x' * 10**9 }}{{").encode(),
        ":6:21: step 'hello': text: repeating a text 1,000,000,000 times",
    ),
    ("template escape", GOOD.replace("Hi {{", "{{ ''.__class__ }}{{").encode(), "refuses access to attribute"),
    (
        "nested loops",
        GOOD.replace("Hi {{", "{% for a in range(9999) %}{% for b in range(99) %}{% endfor %}{% endfor %}{{").encode(),
        "run 989,901 times",
    ),
]


@pytest.mark.parametrize(("what", "content", "message"), BAD_FILES, ids=[case[0] for case in BAD_FILES])
def test_validate_names_the_file_and_line_of_a_bad_definition(
    tmp_path: Path, what: str, content: bytes, message: str
) -> None:
    started = time.monotonic()
    code, err, path = validate(tmp_path, content)

    lines = assert_problem_lines(code, err, path)
    assert any(message in line for line in lines), lines
    assert all(len(line) < 1_000 for line in lines), "a problem is one readable line"
    assert time.monotonic() - started < 30, f"{what} took {time.monotonic() - started:.1f}s"


def test_validate_accepts_a_byte_order_mark_and_windows_line_ends(tmp_path: Path) -> None:
    for content in (b"\xef\xbb\xbf" + GOOD.encode(), GOOD.replace("\n", "\r\n").encode()):
        code, err, _ = validate(tmp_path, content)
        assert (code, err) == (0, "")


def test_validate_a_folder_a_missing_file_and_a_control_character_in_a_template_name(tmp_path: Path) -> None:
    (tmp_path / "folder.yaml").mkdir()
    code, _, err = run("validate", str(tmp_path / "folder.yaml"), str(tmp_path / "missing.yaml"))
    assert code == 1
    assert err.splitlines() == [
        f"{tmp_path / 'folder.yaml'}:1:1: cannot read the file: Is a directory",
        f"{tmp_path / 'missing.yaml'}:1:1: cannot read the file: No such file or directory",
    ]
    code, err, path = validate(tmp_path, GOOD.replace('message: {text: "Hi {{ customer.name }}"}', 'template: "a\\0b"'))
    (line,) = assert_problem_lines(code, err, path)
    assert "\x00" not in line and "a\\x00b" in line


def test_validate_a_definition_named_with_a_line_break_prints_one_line_per_problem(tmp_path: Path) -> None:
    code, err, _ = validate(tmp_path, b"\x00", name="two\nlines.yaml")
    assert code == 1
    assert err.count("\n") == 1 and "two\\nlines.yaml:1:1: character U+0000" in err


def test_simulate_refuses_a_bad_definition_the_same_way(tmp_path: Path) -> None:
    path = tmp_path / "j.yaml"
    path.write_bytes(GOOD.replace("wait: 1d", "wait: 1d\n    wait: 2d").encode())
    customers = tmp_path / "c.csv"
    customers.write_text(CUSTOMERS, encoding="utf-8")

    code, out, err = run("simulate", str(path), "--customers", str(customers), "--start", START, "--json")

    assert (code, out) == (1, "")
    assert err.splitlines() == [f"{path}:9:5: duplicate key 'wait' (first given at line 8)"]


@pytest.mark.parametrize(
    ("start", "message"),
    [
        ("9999-12-31T00:00:00+00:00", "expected a date between the years 1900 and 9000"),
        ("0001-01-01T00:00:00+00:00", "expected a date between the years 1900 and 9000"),
        ("2026-13-01T00:00:00+00:00", "expected an ISO 8601 date-time"),
    ],
)
def test_simulate_start_dates_python_cannot_reach_are_one_line(tmp_path: Path, start: str, message: str) -> None:
    path = tmp_path / "j.yaml"
    path.write_text(GOOD, encoding="utf-8")
    customers = tmp_path / "c.csv"
    customers.write_text(CUSTOMERS, encoding="utf-8")

    code, out, err = run("simulate", str(path), "--customers", str(customers), "--start", start)

    assert (code, out) == (1, "")
    (line,) = err.splitlines()
    assert line.startswith(f"error: --start {start!r}: {message}")


def test_simulate_a_template_that_breaks_a_bound_for_one_customer_fails_that_send_only(tmp_path: Path) -> None:
    path = tmp_path / "j.yaml"
    path.write_text(GOOD.replace("Hi {{ customer.name }}", "{{ 'x' * customer.attributes.n }}"), encoding="utf-8")
    customers = tmp_path / "c.csv"
    customers.write_text("id,phone,n\nc1,+989121000001,1000000000\nc2,+989121000002,3\n", encoding="utf-8")

    code, out, err = run("simulate", str(path), "--customers", str(customers), "--start", START, "--json")

    assert (code, err) == (0, "")
    c1, c2 = json.loads(out)["customers"]
    assert c1["messages"] == [] and "repetition would be over the limit" in c1["skipped_sends"][0]["reason"]
    assert [m["body"] for m in c2["messages"]] == ["xxx"]


def test_simulate_an_update_copying_hostile_customer_text_keeps_it_as_text(tmp_path: Path) -> None:
    path = tmp_path / "j.yaml"
    path.write_text("id: j\nname: J\nsteps:\n  - id: note\n    update: {set: {copy: '{{ customer.attributes.y }}'}}\n")
    texts = ["1" + "+1" * 3_000, "{{}}", "1e999", "42"]
    customers = tmp_path / "c.jsonl"
    customers.write_text("".join(json.dumps({"id": f"c{i}", "y": t}) + "\n" for i, t in enumerate(texts)))

    code, out, err = run("simulate", str(path), "--customers", str(customers), "--start", START, "--json")

    assert (code, err) == (0, "")
    copies = [c["updates"][0]["set"]["copy"] for c in json.loads(out)["customers"]]
    assert copies == [*texts[:3], 42]


def test_a_bug_is_still_one_line_unless_debugging(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_: Any, **__: Any) -> None:
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr("journeys.format.schema.journey_schema", broken)
    code, out, err = run("schema")
    assert (code, out) == (1, "")
    assert err.splitlines() == [
        "error: internal error (RuntimeError: boom\\nsecond line); JOURNEYS_DEBUG=1 shows the traceback"
    ]
    monkeypatch.setenv("JOURNEYS_DEBUG", "1")
    with pytest.raises(RuntimeError, match="boom"):
        cli.main(["schema"])


# --- anything at all --------------------------------------------------------------------------------------

NASTY = [
    "\x00",
    "\xff",
    "\ufeff",
    "\t",
    "\r",
    "\x1b",
    "\u2028",
    "&a ",
    "*a",
    "*zz",
    "<<: *a\n",
    "<<: ",
    "!!binary ",
    "!!python/name:os.system ",
    "!x ",
    "{{",
    "}}",
    "{% for %}",
    "'",
    '"',
    "[",
    "]",
    "{",
    "}",
    "? ",
    ": ",
    "- ",
    "---\n",
    "...\n",
    "%YAML 1.1\n",
    "9" * 30,
    "1e999",
    ".nan",
    "-",
    "\n  ",
    "\n    - ",
    "  ",
    "#",
    "|",
    ">",
    "@",
    "`",
    ",",
    "ثبت‌نام",
    "Z" * 300,
    "wait: 99999999999d\n",
    "timezone: Asia\n",
    "version: 0\n",
    "steps: []\n",
]
EDIT = st.tuples(
    st.integers(min_value=0, max_value=10_000),
    st.sampled_from(["insert", "replace", "delete"]),
    st.sampled_from(NASTY) | st.text(max_size=8),
)


def mutate(text: str, edits: list[tuple[int, str, str]]) -> str:
    for position, operation, payload in edits:
        at = position % (len(text) + 1)
        if operation == "insert":
            text = text[:at] + payload + text[at:]
        elif operation == "replace":
            text = text[:at] + payload + text[at + len(payload) :]
        else:
            text = text[:at] + text[at + 1 + len(payload) :]
    return text


SHIPPED = (ROOT / "definitions" / "modem_swap.yaml").read_text(encoding="utf-8")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(base=st.sampled_from([GOOD, SHIPPED]), edits=st.lists(EDIT, min_size=1, max_size=6), raw=st.booleans())
def test_any_edit_of_a_definition_validates_or_names_its_problems(
    tmp_path: Path, base: str, edits: list[tuple[int, str, str]], raw: bool
) -> None:
    text = mutate(base, edits)
    content = text.encode("utf-8", errors="surrogatepass")
    if raw:  # as a program that mangles bytes would write it
        content = content.replace(b"\xc3", b"\xff").replace(b"\xd8", b"\xc3")
    code, err, path = validate(tmp_path, content)

    if code == 0:
        assert "Traceback" not in err
        customers = tmp_path / "c.csv"
        customers.write_text(CUSTOMERS, encoding="utf-8")
        code, out, err = run("simulate", str(path), "--customers", str(customers), "--start", START, "--days", "3")
        assert code in (0, 1)
        if code == 1:  # the definition names templates this folder lacks, or the like: one line
            assert len(err.splitlines()) >= 1 and "Traceback" not in err and "internal error" not in err
    else:
        assert_problem_lines(code, err, path)


SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.sampled_from(
        ["", "3d", "-1d", "0s", "99999999999w", "25:99", "09:00", "Asia/Tehran", "Asia", "{{ x }}", "x" * 10_000]
    ),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
FIELDS = [
    ("id",),
    ("name",),
    ("version",),
    ("timezone",),
    ("entry",),
    ("entry", "when"),
    ("exit_on",),
    ("quiet_hours",),
    ("limits",),
    ("re_entry",),
    ("steps",),
    ("steps", 0),
    ("steps", 0, "id"),
    ("steps", 0, "send"),
    ("steps", 0, "message"),
    ("steps", 0, "message", "text"),
    ("steps", 1, "wait"),
    ("steps", 1, "max_visits"),
    ("steps", 1, "next"),
    ("description",),
]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(changes=st.lists(st.tuples(st.sampled_from(FIELDS), VALUES), min_size=1, max_size=4))
def test_any_value_of_the_wrong_type_is_named_with_its_line(tmp_path: Path, changes: list[tuple[Any, Any]]) -> None:
    journey: Any = {
        "id": "j",
        "name": "J",
        "steps": [{"id": "hello", "send": "sms", "message": {"text": "Hi"}}, {"id": "pause", "wait": "1d"}],
    }
    for field, value in changes:
        target = journey
        for key in field[:-1]:
            if isinstance(target, dict) and isinstance(key, str):
                target = target.setdefault(key, {})
            elif isinstance(target, list) and isinstance(key, int) and key < len(target):
                target = target[key]
            else:
                break
        else:
            if isinstance(target, dict) and isinstance(field[-1], str):
                target[field[-1]] = value
            elif isinstance(target, list) and isinstance(field[-1], int) and field[-1] < len(target):
                target[field[-1]] = value
    code, err, path = validate(tmp_path, json.dumps(journey, ensure_ascii=False, indent=1))  # JSON is YAML

    if code == 0:  # every value happened to be of a right type: the journey loads without a problem
        assert err == ""
        assert load_journey(path)[1] == []
    else:
        assert_problem_lines(code, err, path)


# --- the installed script ---------------------------------------------------------------------------------


def test_script_validate_and_simulate_with_bad_files_print_one_line(tmp_path: Path) -> None:
    (tmp_path / "bomb.yaml").write_text(GOOD + MERGE_BOMB + BILLION_LAUGHS + "description: *a9\n", encoding="utf-8")
    (tmp_path / "j.yaml").write_text(GOOD, encoding="utf-8")
    (tmp_path / "c.csv").write_bytes("id,name\nc1,علي\n".encode("cp1256"))

    bomb = run_script("validate", "bomb.yaml", cwd=tmp_path, env=data_in(tmp_path))
    simulate = run_script(
        "simulate", "j.yaml", "--customers", "c.csv", "--start", START, cwd=tmp_path, env=data_in(tmp_path)
    )

    assert bomb.returncode == 1 and "Traceback" not in bomb.stderr
    assert all(line.startswith("bomb.yaml:") for line in bomb.stderr.splitlines())
    assert simulate.returncode == 1
    assert simulate.stderr.splitlines() == [
        "error: c.csv:2: not UTF-8 text (it looks like Windows-1256): save the file as UTF-8"
    ]
