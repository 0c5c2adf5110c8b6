"""Customers files (CSV, YAML, JSON) and simulation event files, with file:line in every error."""

from __future__ import annotations

import json
import re
import textwrap
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from journeys.errors import InputError
from journeys.format.inputs import read_customers, read_events

START = datetime.fromisoformat("2026-11-23T08:00:00+03:30")


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def at(path: Path, line: int) -> str:
    """The start of an error message that names this file and line."""
    return re.escape(f"{path}:{line}:")


# --- customers: CSV ---------------------------------------------------------------------------------


def test_read_customers_csv_with_bom_and_coerced_attributes(tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    path.write_bytes(
        "\ufeffid,name,email,phone,locale,timezone,tags,count,active,ratio,mobile,plan\n"
        "007,Sara,sara@example.com,09121234567,fa-IR,Asia/Tehran,vip;early,8,true,1.5,09121234567,wimax\n"
        "c2,Ali,,,en,,,-3,FALSE,x,,\n".encode()
    )
    first, second = read_customers(path)
    assert first.id == "007"
    assert first.name == "Sara"
    assert first.email == "sara@example.com"
    assert first.phone == "09121234567"
    assert (first.locale, first.timezone) == ("fa-IR", "Asia/Tehran")
    assert first.tags == ["vip", "early"]
    assert first.attributes == {
        "count": 8,
        "active": True,
        "ratio": 1.5,
        "mobile": "09121234567",
        "plan": "wimax",
    }
    assert type(first.attributes["count"]) is int
    assert second.id == "c2"
    assert (second.email, second.phone, second.timezone) == (None, None, None)
    assert second.attributes == {"count": -3, "active": False, "ratio": "x"}


def test_read_customers_csv_header_with_bom_still_has_id(tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    path.write_bytes(b"\xef\xbb\xbfid,name\nu1,Amir\n")
    (only,) = read_customers(path)
    assert (only.id, only.name, only.attributes) == ("u1", "Amir", {})


def test_read_customers_csv_persian_text(tmp_path: Path) -> None:
    path = write(tmp_path / "customers.csv", "id,name,locale,city\nc1,علی,fa,تهران\n")
    (only,) = read_customers(path)
    assert only.name == "علی"
    assert only.attributes == {"city": "تهران"}


def test_read_customers_csv_documents_become_records(tmp_path: Path) -> None:
    path = write(tmp_path / "customers.csv", 'id,documents\nc1,"national_id;passport"\n')
    (only,) = read_customers(path)
    assert only.documents == {"national_id": {"kind": "national_id"}, "passport": {"kind": "passport"}}


def test_read_customers_csv_more_values_than_headers_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path / "customers.csv", "id,name\nc1,Sara\nc2,Ali,extra\n")
    with pytest.raises(InputError, match=at(path, 3) + " more values than header columns"):
        read_customers(path)


def test_read_customers_csv_missing_id_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path / "customers.csv", "id,name\nc1,Sara\n,Ali\n")
    with pytest.raises(InputError, match=at(path, 3) + " id: missing"):
        read_customers(path)


def test_read_customers_csv_without_id_column(tmp_path: Path) -> None:
    path = write(tmp_path / "customers.csv", "name,email\nSara,sara@example.com\n")
    with pytest.raises(InputError, match=at(path, 2) + " id: missing"):
        read_customers(path)


def test_read_customers_csv_duplicate_id_names_the_second_line(tmp_path: Path) -> None:
    path = write(tmp_path / "customers.csv", "id,name\nc1,Sara\nc2,Ali\nc1,Sara again\n")
    with pytest.raises(InputError, match=at(path, 4) + " id: customer 'c1' appears twice"):
        read_customers(path)


def test_read_customers_csv_windows_1256_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    path.write_bytes(b"id,name\nc1,Sara\n" + "c2,رضا\n".encode("cp1256"))
    with pytest.raises(InputError, match=at(path, 3) + " not UTF-8"):
        read_customers(path)


def test_read_customers_csv_empty_file(tmp_path: Path) -> None:
    path = write(tmp_path / "customers.csv", "")
    with pytest.raises(InputError, match=at(path, 1)):
        read_customers(path)


def test_read_customers_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nobody.csv"
    with pytest.raises(InputError, match=re.escape(str(path)) + ": cannot read"):
        read_customers(path)


# --- customers: YAML and JSON -----------------------------------------------------------------------


def test_read_customers_yaml(tmp_path: Path) -> None:
    path = write(
        tmp_path / "customers.yaml",
        """\
        # customers for a test
        - {id: c1, name: Sara, email: sara@example.com, phone: "+989121000001", locale: en, plan: wimax, seats: 3}
        - id: c2
          name: علی
          phone: "09121234567"
          tags: [vip, early]
          documents: [national_id]
          attributes: {plan: fiber, seats: 1}
        """,
    )
    sara, ali = read_customers(path)
    assert (sara.id, sara.name, sara.email, sara.phone, sara.locale) == (
        "c1",
        "Sara",
        "sara@example.com",
        "+989121000001",
        "en",
    )
    assert sara.attributes == {"plan": "wimax", "seats": 3}
    assert (ali.name, ali.phone, ali.tags) == ("علی", "09121234567", ["vip", "early"])
    assert ali.documents == {"national_id": {"kind": "national_id"}}
    assert ali.attributes == {"plan": "fiber", "seats": 1}


def test_read_customers_yaml_duplicate_id_names_the_line(tmp_path: Path) -> None:
    path = write(
        tmp_path / "customers.yaml",
        """\
        - id: c1
          name: Sara
        - id: c2
        - id: c1
        """,
    )
    with pytest.raises(InputError, match=at(path, 4) + " id: customer 'c1' appears twice"):
        read_customers(path)


def test_read_customers_yaml_missing_id_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path / "customers.yaml", "- {id: c1}\n- {name: Ali}\n")
    with pytest.raises(InputError, match=at(path, 2) + " id: missing"):
        read_customers(path)


def test_read_customers_yaml_not_a_list(tmp_path: Path) -> None:
    path = write(tmp_path / "customers.yaml", "id: c1\nname: Sara\n")
    with pytest.raises(InputError, match=at(path, 1) + " expected a list"):
        read_customers(path)


def test_read_customers_yaml_record_not_a_mapping(tmp_path: Path) -> None:
    path = write(tmp_path / "customers.yaml", "- {id: c1}\n- just a string\n")
    with pytest.raises(InputError, match=at(path, 2) + " record 2 is not a mapping"):
        read_customers(path)


def test_read_customers_yaml_syntax_error_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path / "customers.yaml", "- {id: c1\n")
    with pytest.raises(InputError, match=re.escape(str(path)) + r":\d+:\d+: YAML syntax error"):
        read_customers(path)


def test_read_customers_yaml_windows_1256_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "customers.yaml"
    path.write_bytes(b"- {id: c1}\n" + "- {id: c2, name: رضا}\n".encode("cp1256"))
    with pytest.raises(InputError, match=at(path, 2) + r"\d+: .*UTF-8"):
        read_customers(path)


def test_read_customers_json(tmp_path: Path) -> None:
    path = tmp_path / "customers.json"
    records = [
        {"id": "c1", "name": "Sara", "phone": "09121234567", "plan": "wimax", "seats": 2, "active": True},
        {"id": 7, "email": "seven@example.com", "tags": ["a"]},
    ]
    path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    sara, seven = read_customers(path)
    assert (sara.id, sara.phone) == ("c1", "09121234567")
    assert sara.attributes == {"plan": "wimax", "seats": 2, "active": True}
    assert (seven.id, seven.email, seven.tags) == ("7", "seven@example.com", ["a"])


def test_read_customers_json_syntax_error(tmp_path: Path) -> None:
    path = tmp_path / "customers.json"
    path.write_text('[{"id": "c1"', encoding="utf-8")
    with pytest.raises(InputError, match=re.escape(str(path)) + ": not valid JSON"):
        read_customers(path)


def test_read_customers_json_duplicate_id(tmp_path: Path) -> None:
    path = tmp_path / "customers.json"
    path.write_text('[{"id": "c1"}, {"id": "c1"}]', encoding="utf-8")
    with pytest.raises(InputError, match=re.escape(str(path)) + r":\d+: id: customer 'c1' appears twice"):
        read_customers(path)


def test_read_customers_bad_profile_field_names_it(tmp_path: Path) -> None:
    path = write(tmp_path / "customers.yaml", "- {id: c1, tags: {a: 1}}\n")
    with pytest.raises(InputError, match=at(path, 1) + " tags"):
        read_customers(path)


# --- events -----------------------------------------------------------------------------------------


def test_read_events_offsets_and_order(tmp_path: Path) -> None:
    path = write(
        tmp_path / "events.yaml",
        """\
        - {customer: c1, event: delivered, after: 2d}
        - {customer: c1, event: swapped, after: -30d}
        - {customer: c2, event: registered, after: 0}
        - {customer: c1, event: registered, after: "0"}
        - {customer: c2, event: document_uploaded, after: 1d12h, data: {kind: national_id}}
        - {customer: c2, event: opened}
        """,
    )
    planned = read_events(path, START, {"c1", "c2"})
    assert [(p.customer, p.event.name, p.event.at - START) for p in planned] == [
        ("c1", "swapped", timedelta(days=-30)),
        ("c2", "registered", timedelta(0)),
        ("c1", "registered", timedelta(0)),
        ("c2", "opened", timedelta(0)),
        ("c2", "document_uploaded", timedelta(days=1, hours=12)),
        ("c1", "delivered", timedelta(days=2)),
    ]
    assert planned[4].event.data == {"kind": "national_id"}
    assert planned[1].event.data == {}
    assert planned[0].event.at == START - timedelta(days=30)
    assert planned[0].event.at.utcoffset() == timedelta(hours=3, minutes=30)


def test_read_events_equal_times_keep_file_order(tmp_path: Path) -> None:
    lines = "".join(f"- {{customer: c1, event: e{i}, after: 1d}}\n" for i in range(20))
    path = write(tmp_path / "events.yaml", "- {customer: c1, event: late, after: 2d}\n" + lines)
    planned = read_events(path, START, {"c1"})
    assert [p.event.name for p in planned] == [f"e{i}" for i in range(20)] + ["late"]


def test_read_events_ids_are_given_or_distinct(tmp_path: Path) -> None:
    path = write(
        tmp_path / "events.yaml",
        """\
        - {customer: c1, event: a, after: 1d, id: evt-42}
        - {customer: c1, event: b, after: 1d}
        - {customer: c1, event: c, after: 1d}
        """,
    )
    ids = [p.event.id for p in read_events(path, START, {"c1"})]
    assert ids[0] == "evt-42"
    assert len(set(ids)) == 3


def test_read_events_unknown_key_is_rejected(tmp_path: Path) -> None:
    path = write(
        tmp_path / "events.yaml",
        """\
        - {customer: c1, event: registered, after: 1d}
        - {customer: c1, event: delivered, at: 2d}
        """,
    )
    with pytest.raises(InputError, match=at(path, 2) + " unknown key 'at'"):
        read_events(path, START, {"c1"})


def test_read_events_unknown_customer_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path / "events.yaml", "- {customer: c1, event: a}\n- {customer: zz, event: a}\n")
    with pytest.raises(InputError, match=at(path, 2) + " customer: unknown customer 'zz'"):
        read_events(path, START, {"c1"})


@pytest.mark.parametrize(
    ("record", "field"),
    [
        ("{customer: c1, event: a, after: soon}", "after"),
        ("{customer: c1, event: a, after: 3}", "after"),
        ("{customer: c1, event: a, after: -0x}", "after"),
        ("{customer: c1, after: 1d}", "event"),
        ("{event: a, after: 1d}", "customer"),
        ("{customer: c1, event: a, data: [1, 2]}", "data"),
    ],
)
def test_read_events_bad_field_names_line_and_field(tmp_path: Path, record: str, field: str) -> None:
    path = write(tmp_path / "events.yaml", f"- {{customer: c1, event: ok}}\n- {record}\n")
    with pytest.raises(InputError, match=at(path, 2) + f" {field}:"):
        read_events(path, START, {"c1"})
