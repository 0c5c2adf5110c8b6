"""Bad customers files through `journeys customers import` and `journeys simulate --customers`.

A file that cannot be read as a whole (not UTF-8: Windows-1256 Persian, UTF-16; broken CSV quoting; JSON or
YAML syntax; nested too deeply) is one line naming the file and line, exit 1, and nothing is written, however
far into the file the damage is. A UTF-8 byte-order mark simply works. A file that can be read is imported
row by row: good rows in, each bad row reported as `file:line: field: message` (a JSON Lines line that does
not parse, a duplicate key, NaN, a 1 MB field, a NUL byte, a value of the wrong type, an alias bomb), exit 1
when any row was rejected, and the store holds exactly the good rows. The simulator reads the same files and
stops at the first bad row with the same one line.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from journeys.errors import InputError
from journeys.services.importing import import_customers
from journeys.store import Store
from tests.support.cli import data_in, run, run_script
from tests.support.importing import emptied, import_bytes, stored_ids, write

JOURNEY = "id: j\nname: J\nsteps:\n  - id: hello\n    send: sms\n    message: {text: 'Hi {{ customer.name }}'}\n"
START = "2026-11-23T08:00:00+03:30"


def good_csv(rows: int) -> str:
    return "id,name,email\n" + "".join(f"c{i},Name {i},c{i}@example.com\n" for i in range(rows))


def good_jsonl(rows: int) -> str:
    return "".join(json.dumps({"id": f"c{i}", "name": f"Name {i}"}) + "\n" for i in range(rows))


# --- files that cannot be read as a whole: one line, nothing written ----------------------------------------

UNREADABLE: list[tuple[str, str, bytes, str]] = [
    (
        "Windows-1256 Persian at the end",
        "c.csv",
        good_csv(3_000).encode() + "c9999,علي رضايي,ali@example.com\n".encode("cp1256"),
        ":3002: not UTF-8 text (it looks like Windows-1256): save the file as UTF-8",
    ),
    ("UTF-16", "c.csv", good_csv(5).encode("utf-16"), ":1: not UTF-8 text (it is UTF-16): save the file as UTF-8"),
    ("invalid UTF-8 in JSON Lines", "c.jsonl", good_jsonl(3_000).encode() + b'{"id": "x\xff"}\n', ":3001: not UTF-8"),
    ("unclosed quote at the end", "c.csv", (good_csv(3_000) + 'c9999,"Ada\n').encode(), ":3002: a quoted field"),
    ("JSON cut short", "c.json", json.dumps([{"id": f"c{i}"} for i in range(3_000)]).encode()[:-1], "not valid JSON"),
    ("JSON deeply nested", "c.json", b"[" * 100_000 + b"]" * 100_000, ": nested too deeply to be a customers file"),
    ("JSON not a list", "c.json", b'{"id": "c1"}', ":1: expected a list of records"),
    (
        "JSON Lines named .json",
        "c.json",
        good_jsonl(3).encode(),
        "more than one value (for JSON Lines, name it .jsonl)",
    ),
    ("YAML syntax at the end", "c.yaml", ("- {id: c1}\n" * 3_000 + "- {id: c9\n").encode(), ":3002:1: YAML syntax"),
    ("YAML deeply nested", "c.yaml", b"- id: c1\n  x: " + b"[" * 5_000 + b"]" * 5_000, ":2:106: the file is nested"),
    ("YAML not a list", "c.yaml", b"id: c1\n", ":1: expected a list of records"),
    ("empty CSV", "c.csv", b"", ":1: empty file"),
    ("no id column", "c.csv", b"name;email\nAda;a@example.com\n", "no id column (the columns seem to be separated"),
    ("twice the same column", "c.csv", b"id,name,NAME\nc1,a,b\n", ":1: column 'name' appears twice"),
]


@pytest.mark.parametrize(("what", "name", "content", "message"), UNREADABLE, ids=[u[0] for u in UNREADABLE])
def test_a_file_that_cannot_be_read_is_one_line_and_writes_nothing(
    store: Store, tmp_path: Path, what: str, name: str, content: bytes, message: str
) -> None:
    path = write(tmp_path, content, name)

    with pytest.raises(InputError) as raised:
        import_customers(path, store, chunk_size=10)

    text = str(raised.value)
    assert text.startswith(str(path)) and message in text and "\n" not in text, text
    assert store.customer_ids() == []


def test_a_utf8_byte_order_mark_simply_works(store: Store, tmp_path: Path) -> None:
    for name, content in (
        ("c.csv", "\ufeffid,name\nc1,علی\n"),
        ("c.jsonl", '\ufeff{"id": "c2", "name": "علی"}\n'),
        ("c.json", '\ufeff[{"id": "c3"}]'),
        ("c.yaml", "\ufeff- {id: c4}\n"),
    ):
        report = import_customers(write(tmp_path, content, name), store)
        assert (report.imported, report.problems) == (1, []), name
    assert store.customer_ids() == ["c1", "c2", "c3", "c4"]
    assert store.customer_row("c1").name == "علی"  # type: ignore[union-attr]


# --- files that can be read: bad rows reported, good rows in --------------------------------------------------


def test_json_lines_bad_lines_are_reported_and_the_rest_imported(store: Store, tmp_path: Path) -> None:
    lines = [
        '{"id": "c1", "name": "Ada"}',
        '{"id": "c2", "name": ',
        "",
        '["c3"]',
        '{"id": "c4", "id": "c5"}',
        '{"id": "c6", "score": NaN}',
        '{"id": "c7", "score": ' + "9" * 5_000 + "}",
        '{"id": "c8", "note": "' + "x" * 1_000_000 + '"}',
        '{"id": "c9", "name": "A\\u0000da"}',
        '{"id": ["c10"]}',
        '{"id": "c11", "deep": ' + "[" * 500 + "]" * 500 + "}",
        '{"id": "c12", "deeper": ' + "[" * 100_000 + "]" * 100_000 + "}",
        '{"id": "c13"} trailing',
        '{"id": "c14", "name": "علی", "tags": ["vip"]}',
    ]
    path = write(tmp_path, "\n".join(lines) + "\n", "c.jsonl")

    report = import_customers(path, store, chunk_size=2)

    assert report.problems == [
        f"{path}:2: not valid JSON: Expecting value (column 22)",
        f"{path}:4: record 3 is not a mapping",
        f"{path}:5: id: duplicate key (only one value may be given)",
        f"{path}:6: NaN is not a JSON number",
        f"{path}:7: a number of 5,000 digits is too long",
        f"{path}:8: note: longer than 10,000 characters",
        f"{path}:9: name: contains a control character or line break",
        f"{path}:10: id: expected text, got a list",
        f"{path}:11: deep" + "[0]" * 21 + ": value too large or nested too deeply",
        f"{path}:12: nested too deeply",
        f"{path}:13: not valid JSON: Extra data after the value (column 15)",
    ]
    assert (report.rows, report.imported, report.rejected) == (13, 2, 11)
    assert store.customer_ids() == ["c1", "c14"]


def test_csv_bad_rows_are_reported_and_the_rest_imported(store: Store, tmp_path: Path) -> None:
    rows = [
        "c1,Ada,",
        "c2,Bo\x00b,",
        "c3,Cy," + "x" * 1_000_000,
        "c4",  # missing columns are missing values
        "c5,Dee,n,extra",
        "c\x1b[2J6,Eve,",
        ",No one,",
        "c1,Again,",
    ]
    path = write(tmp_path, "\ufeffid,name,note\r\n" + "\r\n".join(rows) + "\r\n", "c.csv")

    report = import_customers(path, store, chunk_size=1)

    assert report.problems == [
        f"{path}:3: name: contains a control character or line break",
        f"{path}:4: note: longer than 10,000 characters",
        f"{path}:6: row has 4 values but the header has 3 columns",
        f"{path}:7: id: contains a control character or line break",
        f"{path}:8: id: missing",
        f"{path}:9: id: duplicate of line 2",
    ]
    assert store.customer_ids() == ["c1", "c4"]


def test_yaml_bad_records_are_reported_and_the_rest_imported(store: Store, tmp_path: Path) -> None:
    laughs = "  a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"  a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]\n" for i in range(1, 10)
    )
    merge = "  m0: &m0 {k: v}\n" + "".join(f"  m{i}: &m{i} {{<<: [*m{i - 1}, *m{i - 1}]}}\n" for i in range(1, 40))
    text = (
        "- {id: c1, name: Ada}\n"
        "- id: c2\n  name: Bob\n  name: Robert\n"
        "- id: c3\n" + laughs + "- id: c4\n  score: !!int abc\n"
        "- id: c5\n  secret: !!python/object/apply:os.system [id]\n"
        "- just words\n"
        "- id: c6\n" + merge + "- {id: c7, name: Cy}\n"
    )
    path = write(tmp_path, text, "c.yaml")

    report = import_customers(path, store)

    assert report.problems == [
        f"{path}:2: line 4: duplicate key 'name' (first given at line 3)",
        f"{path}:5: a3[7][8][9]: value too large or nested too deeply",
        f"{path}:16: line 17: 'abc' is not a valid int",
        f"{path}:18: line 19: the YAML tag 'tag:yaml.org,2002:python/object/apply:os'… (47 characters) is not "
        "supported: remove it",
        f"{path}:20: record 6 is not a mapping",
    ]
    assert len(report.problems) == 5
    assert store.customer_ids() == ["c1", "c6", "c7"]  # 40 mappings merging the one before twice: no blow-up
    assert store.customer_row("c6").attributes["m39"] == {"k": "v"}  # type: ignore[union-attr]


def test_import_again_after_bad_rows_changes_nothing(store: Store, tmp_path: Path) -> None:
    path = write(tmp_path, '{"id": "c1"}\n{"id": \n{"id": "c2", "x": NaN}\n{"id": "c3", "x": 1}\n', "c.jsonl")
    first = import_customers(path, store)
    again = import_customers(path, store)
    assert (first.created, first.rejected) == (2, 2)
    assert (again.created, again.updated, again.unchanged, again.rejected) == (0, 0, 2, 2)


# --- through the command line ---------------------------------------------------------------------------------


def test_cli_import_reports_each_bad_row_on_one_line_and_exits_one(cli_env: str, tmp_path: Path) -> None:
    path = write(tmp_path, '{"id": "c1"}\n{"id": "c\\n2"}\n{"a\\nb": "\\u0000", "id": "c3"}\nnot json\n', "c.jsonl")

    code, out, err = run("customers", "import", str(path))

    assert code == 1
    assert err.splitlines() == [
        f"{path}:2: id: contains a control character or line break",
        f"{path}:3: a\\nb: contains a NUL character or invalid text",
        f"{path}:4: not valid JSON: Expecting value (column 1)",
    ]
    assert "1 imported (1 new, 0 updated, 0 unchanged), 3 rejected" in out
    assert stored_ids(cli_env) == ["c1"]


def test_cli_import_of_a_file_that_cannot_be_decoded_is_one_line(cli_env: str, tmp_path: Path) -> None:
    path = write(tmp_path, good_csv(50).encode() + "c99,شهر\n".encode("cp1256"), "c.csv")

    code, out, err = run("customers", "import", str(path), "--json")

    assert (code, out) == (1, "")
    assert err.splitlines() == [
        f"error: {path}:52: not UTF-8 text (it looks like Windows-1256): save the file as UTF-8"
    ]
    assert stored_ids(cli_env) == []


SIMULATE_BAD: list[tuple[str, str, bytes, str]] = [
    ("JSON huge number", "c.json", b'[{"id": "c1", "x": ' + b"9" * 5_000 + b"}]", ":1: a number of 5,000 digits"),
    ("JSON NaN", "c.json", b'[{"id": "c1"},\n {"id": "c2", "x": NaN}]', ":2: NaN is not a JSON number"),
    ("JSON duplicate key", "c.json", b'[{"id": "c1", "id": "c2"}]', ":1: id: duplicate key"),
    ("JSON deeply nested", "c.json", b"[" * 100_000, ": nested too deeply to be a customers file"),
    ("JSON Lines bad line", "c.jsonl", b'{"id": "c1"}\n{"id":\n', ":2: not valid JSON: Expecting value"),
    (
        "YAML alias bomb",
        "c.yaml",
        (
            "- id: c1\n"
            + "".join(f"  a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10) if i else 'x'}]\n" for i in range(10))
        ).encode(),
        ":1: value too large or nested too deeply",
    ),
    ("id a mapping", "c.yaml", b"- id: {a: 1}\n", ":1: id: expected text, got a mapping"),
    ("name a list", "c.yaml", b"- {id: c1, name: [a]}\n", ":1: name: expected text, got a list"),
    ("attributes a number", "c.yaml", b"- {id: c1, attributes: 5}\n", ":1: attributes: expected a mapping, got int"),
    ("id with a NUL", "c.csv", b"id\nc\x001\n", ":2: id: contains a control character or line break"),
    ("unclosed quote", "c.csv", b'id,name\nc1,"Ada\n', ":2: a quoted field starting on this line is never closed"),
    ("Windows-1256", "c.csv", "id,name\nc1,علي\n".encode("cp1256"), ":2: not UTF-8 text (it looks like Windows-1256)"),
    ("UTF-16", "c.csv", "id\nc1\n".encode("utf-16"), ":1: not UTF-8 text (it is UTF-16)"),
]


@pytest.mark.parametrize(("what", "name", "content", "message"), SIMULATE_BAD, ids=[s[0] for s in SIMULATE_BAD])
def test_simulate_stops_at_a_bad_customers_file_with_one_line(
    tmp_path: Path, what: str, name: str, content: bytes, message: str
) -> None:
    journey = write(tmp_path, JOURNEY, "j.yaml")
    customers = write(tmp_path, content, name)

    code, out, err = run("simulate", str(journey), "--customers", str(customers), "--start", START, "--json")

    assert (code, out) == (1, "")
    (line,) = err.splitlines()
    assert line.startswith(f"error: {customers}") and message in line, line


def test_simulate_reads_big_fields_bom_and_json_lines(tmp_path: Path) -> None:
    journey = write(tmp_path, JOURNEY, "j.yaml")
    csv_path = write(tmp_path, "\ufeffid,name,phone,note\nc1,Ada,+989121000001," + "x" * 1_000_000 + "\n", "c.csv")
    jsonl = write(tmp_path, '\ufeff{"id": "c1", "name": "Ada", "phone": "+989121000001"}\n\n', "c.jsonl")

    for customers in (csv_path, jsonl):
        code, out, err = run("simulate", str(journey), "--customers", str(customers), "--start", START, "--json")
        assert (code, err) == (0, "")
        assert [m["body"] for m in json.loads(out)["customers"][0]["messages"]] == ["Hi Ada"]


@pytest.mark.parametrize(
    ("events", "message"),
    [
        ("- {customer: c1, event: x, after: -3650d}\n- {customer: c1, event: y, after: 99999999d}\n", ":2: after:"),
        ("- {customer: [c1], event: x}\n", ":1: customer: expected an id, got a list"),
        ("- {customer: c1, event: x, data: *d}\n", "YAML syntax error: found undefined alias"),
        ("- {customer: c1, event: x, id: {a: 1}}\n", ":1: id: expected text, got a mapping"),
    ],
)
def test_simulate_stops_at_a_bad_events_file_with_one_line(tmp_path: Path, events: str, message: str) -> None:
    journey = write(tmp_path, JOURNEY, "j.yaml")
    customers = write(tmp_path, "id\nc1\n", "c.csv")
    path = write(tmp_path, events, "e.yaml")

    code, out, err = run(
        "simulate", str(journey), "--customers", str(customers), "--events", str(path), "--start", START, "--json"
    )

    assert (code, out) == (1, "")
    (line,) = err.splitlines()
    assert line.startswith(f"error: {path}") and message in line, line


# --- anything at all ------------------------------------------------------------------------------------------


GOOD_RECORD = st.fixed_dictionaries(
    {"id": st.sampled_from([f"c{i}" for i in range(8)]), "name": st.sampled_from(["Ada", "علی", "Bob"])},
    optional={"tags": st.just(["vip"]), "score": st.integers(-5, 5), "plan": st.sampled_from(["wimax", "fiber"])},
)
WEIRD = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=10),
    st.sampled_from(["x" * 20_000, "a\x00b", "\ud800", "۱۲۳", "\u202eevil", "+989121234567", "bad@"]),
)
WEIRD_VALUES = st.recursive(
    WEIRD,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=10,
)
BAD_RECORD = st.one_of(
    st.dictionaries(st.sampled_from(["id", "name", "email", "phone", "tags", "attributes", "x"]), WEIRD_VALUES),
    WEIRD_VALUES,
)
LINE = st.one_of(
    GOOD_RECORD.map(lambda r: ("good", json.dumps(r, ensure_ascii=False))),
    BAD_RECORD.map(lambda r: ("other", json.dumps(r, ensure_ascii=False, allow_nan=True))),
    st.text(max_size=30).filter(lambda t: "\n" not in t).map(lambda t: ("other", t)),
    st.sampled_from(['{"id": "c1", "id": "c2"}', '{"id": "c9"', "[" * 3_000, '{"id": "c3"} {}', "\x00", "NaN"]).map(
        lambda t: ("other", t)
    ),
)


def record_id(line: str) -> str | None:
    """The id an importer sees on a JSON line (the first of duplicate keys), if any."""

    def first_wins(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        record: dict[str, Any] = {}
        for key, value in pairs:
            record.setdefault(key, value)
        return record

    try:
        record = json.loads(line, object_pairs_hook=first_wins)
    except (ValueError, RecursionError):
        return None
    value = record.get("id") if isinstance(record, dict) else None
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    return str(value).strip() or None


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(LINE, max_size=10))
def test_any_json_lines_file_imports_its_good_rows_and_reports_the_rest(
    shared_store: Store, lines: list[tuple[str, str]]
) -> None:
    text = "\n".join(line for _, line in lines)
    report = import_bytes(emptied(shared_store), text.encode("utf-8", "surrogatepass"), "c.jsonl")

    if report is None:  # only a file that is not UTF-8 (a lone surrogate) is refused whole
        assert re.search("[\ud800-\udfff]", text)
        assert shared_store.customer_ids() == []
        return
    assert report.rows == report.imported + report.rejected == sum(1 for _, line in lines if line.strip())
    assert all(re.match(r".*\.jsonl:\d+: \S", p) and "\n" not in p for p in report.problems)
    stored = set(shared_store.customer_ids())
    assert len(stored) == report.created
    seen: set[str] = set()
    for kind, line in lines:  # the first line of each id decides; a good one is always kept
        customer_id = record_id(line)
        if customer_id is not None and customer_id not in seen:
            seen.add(customer_id)
            assert kind != "good" or customer_id in stored, line


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    name=st.sampled_from(["c.csv", "c.jsonl", "c.json", "c.yaml"]),
    cut=st.integers(min_value=0, max_value=400),
    junk=st.binary(max_size=6) | st.sampled_from([b"\xff", b"\x00", b'"', b"[", b"&a *a", b"\xef\xbb\xbf", b"\r"]),
)
def test_any_damage_to_a_good_file_is_a_clean_refusal_or_a_consistent_import(
    shared_store: Store, name: str, cut: int, junk: bytes
) -> None:
    records = [{"id": f"c{i}", "name": "علی" if i % 2 else "Ada", "plan": "wimax"} for i in range(12)]
    text = {
        "c.csv": "id,name,plan\n" + "".join(f"{r['id']},{r['name']},{r['plan']}\n" for r in records),
        "c.jsonl": "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records),
        "c.json": json.dumps(records, ensure_ascii=False, indent=1),
        "c.yaml": "".join(f"- {{id: {r['id']}, name: {r['name']}, plan: {r['plan']}}}\n" for r in records),
    }[name].encode()
    at = cut % (len(text) + 1)
    report = import_bytes(emptied(shared_store), text[:at] + junk + text[at:], name)

    stored = shared_store.customer_ids()
    if report is None:
        assert stored == []
        return
    assert report.rows == report.imported + report.rejected
    assert len(stored) == report.created
    for customer_id in stored:
        row = shared_store.customer_row(customer_id)
        assert row is not None and row.id == customer_id and "\x00" not in json.dumps(row.attributes)


def test_the_installed_script_imports_good_rows_and_reports_bad_ones(tmp_path: Path) -> None:
    path = write(tmp_path, '\ufeff{"id": "c1", "name": "علی"}\n{"id": "c2", "x": NaN}\n{oops\n', "c.jsonl")

    result = run_script("customers", "import", str(path), cwd=tmp_path, env=data_in(tmp_path))

    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"{path}:2: NaN is not a JSON number",
        f"{path}:3: not valid JSON: Expecting property name enclosed in double quotes (column 2)",
    ]
    assert stored_ids(data_in(tmp_path)["JOURNEYS_DATABASE_URL"]) == ["c1"]
