"""`journeys events import`: every line of a CSV or JSON Lines events file checked on its own, bad lines named by
their line number and field, ids derived from what a line says when it gives none. Nothing here needs Temporal:
what the lines do to runs is tests/temporal/test_events_import.py."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from journeys.errors import InputError
from journeys.services.events_import import derived_id, read_events
from tests.support.cli import run
from tests.support.importing import write

CSV_HEADER = "customer,event,id,at,data\n"


def test_good_csv_lines_become_events_with_their_data_and_time_in_utc(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        CSV_HEADER + 'c1,paid,pay-1,2026-11-23T08:00:00+03:30,"{""amount"": 30, ""ref"": ""R-1""}"\nc2,swapped,,,\n',
        "events.csv",
    )

    report, lines = read_events(path)

    assert (report.lines, report.rejected, report.problems) == (2, 0, [])
    first, second = lines
    assert (first.line, first.customer, first.event_id, first.name) == (2, "c1", "pay-1", "paid")
    assert first.data == {"amount": 30, "ref": "R-1"}
    assert first.at == datetime(2026, 11, 23, 4, 30, tzinfo=timezone.utc)
    assert (second.line, second.customer, second.name, second.data, second.at) == (3, "c2", "swapped", {}, None)


def test_bad_csv_lines_are_named_by_line_and_field_and_the_good_ones_kept(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        CSV_HEADER
        + "c1,paid,,,\n"  # 2: good
        + ",paid,,,\n"  # 3: no customer
        + "c2,,,,\n"  # 4: no event
        + "c3,paid,,2026-11-23 08:00,\n"  # 5: no offset
        + "c4,paid,,yesterday,\n"  # 6: not a date-time
        + "c5,paid,,,{amount: 3}\n"  # 7: not JSON
        + 'c6,paid,,,"[1, 2]"\n'  # 8: JSON, not an object
        + 'c7,paid,,,"{""n"": NaN}"\n'  # 9: not a finite number
        + "c8,paid,,,,surplus\n"  # 10: a value past the header's columns
        + "c9,registered,,,\n",  # 11: good
        "events.csv",
    )

    report, lines = read_events(path)

    assert [line.line for line in lines] == [2, 11]
    assert (report.lines, report.rejected) == (10, 8)
    assert report.problems == [
        f"{path}:3: customer: missing",
        f"{path}:4: event: missing",
        f"{path}:5: at: no offset: write it as 2026-11-23T08:00:00+03:30 (or Z for UTC)",
        f"{path}:6: at: not an ISO 8601 date-time: 'yesterday'",
        f"{path}:7: data: not a JSON object (Expecting property name enclosed in double quotes: line 1 column 2"
        " (char 1))",
        f'{path}:8: data: expected a JSON object such as {{"ref": "R-1"}}, got a list',
        f"{path}:9: data.n: not a finite number",
        f"{path}:10: row has 6 values but the header has 5 columns",
    ]


def test_bad_json_lines_are_named_by_line_and_the_good_ones_kept(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '{"customer": "c1", "event": "paid", "data": {"amount": 30}}\n'
        '{"customer": "c1", "event": \n'
        "\n"
        '["c1", "paid"]\n'
        '{"customer": "c2", "event": "paid", "data": "amount=3", "colour": "red"}\n'
        '{"customer": "c3", "event": "paid", "id": {"x": 1}}\n'
        '{"customer": 42, "event": "paid", "at": "2026-11-23T08:00:00Z"}\n',
        "events.jsonl",
    )

    report, lines = read_events(path)

    assert [(line.line, line.customer) for line in lines] == [(1, "c1"), (7, "42")]
    assert report.problems == [
        f"{path}:2: not valid JSON: Expecting value (column 29)",
        f"{path}:4: record 3 is not a mapping",
        f'{path}:5: data: expected a JSON object such as {{"ref": "R-1"}}, got str',
        f"{path}:5: colour: unknown field (expected customer, event, id, at, data)",
        f"{path}:6: id: expected text, got a mapping",
    ]


def test_a_line_without_id_gets_the_same_id_from_the_same_content_in_csv_and_json_lines(tmp_path: Path) -> None:
    csv_path = write(tmp_path, CSV_HEADER + 'c1,paid,,2026-11-23T08:00:00+03:30,"{""amount"": 30}"\n', "e.csv")
    jsonl_path = write(
        tmp_path,
        '{"customer": "c1", "event": "paid", "at": "2026-11-23T04:30:00Z", "data": {"amount": 30}}\n',
        "e.jsonl",
    )
    other_time = write(tmp_path, CSV_HEADER + 'c1,paid,,2026-11-23T08:00:01+03:30,"{""amount"": 30}"\n', "f.csv")

    (from_csv,) = read_events(csv_path)[1]
    (from_jsonl,) = read_events(jsonl_path)[1]
    (later,) = read_events(other_time)[1]

    assert from_csv.event_id == from_jsonl.event_id == derived_id("c1", "paid", from_csv.at, {"amount": 30})
    assert from_csv.event_id.startswith("import-") and later.event_id != from_csv.event_id


def test_a_repeated_id_in_the_file_is_one_event_and_counted_as_a_duplicate(tmp_path: Path) -> None:
    path = write(
        tmp_path, CSV_HEADER + "c1,paid,p1,,\nc1,paid,,,\nc1,paid,p1,,\nc1,paid,,,\nc2,paid,,,\n", "events.csv"
    )

    report, lines = read_events(path)

    assert [line.line for line in lines] == [2, 3, 6]
    assert (report.lines, report.duplicates, report.rejected) == (5, 2, 0)


@pytest.mark.parametrize(
    ("name", "content", "said"),
    [
        ("events.yaml", b"- {customer: c1, event: paid}\n", "expected a .csv or .jsonl file"),
        ("events.csv", b"", ":1: empty file"),
        ("events.csv", b"who,what\nc1,paid\n", ":1: no customer column: the header must name one"),
        ("events.csv", b"customer,what\nc1,paid\n", ":1: no event column"),
        ("events.csv", b'customer,event\nc1,"paid\n', ":2: a quoted field starting on this line is never closed"),
        ("events.jsonl", b"\xff\xfe{}", ":1: not UTF-8 text"),
    ],
)
def test_a_file_that_cannot_be_read_as_a_whole_is_one_line_naming_it(
    tmp_path: Path, name: str, content: bytes, said: str
) -> None:
    path = write(tmp_path, content, name)

    with pytest.raises(InputError, match="^" + str(path)) as raised:
        read_events(path)

    assert said in str(raised.value) and "\n" not in str(raised.value)


def test_the_command_refuses_an_unreadable_file_in_one_line_before_asking_temporal(
    tmp_path: Path, cli_env: str
) -> None:
    path = write(tmp_path, b"who,what\nc1,paid\n", "events.csv")

    code, out, err = run("events", "import", str(path))

    assert code == 1 and out == ""
    assert err == f"error: {path}:1: no customer column: the header must name one (customer, event, id, at, data)\n"
