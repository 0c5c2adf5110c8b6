"""`journeys customers import`: every row validated, bad rows reported by line, duplicates and shared contacts
reported, good rows upserted idempotently; never a traceback for bad data."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import phonenumbers
import pytest
from email_validator import validate_email
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.console import Console

from journeys.errors import InputError
from journeys.format.customers import Profile
from journeys.services.importing import import_customers
from journeys.store import Store
from tests.support.cli import run
from tests.support.importing import emptied, import_bytes, profile, stored_ids, write

# --- rows ---------------------------------------------------------------------------------------


def test_import_update_changes_only_that_customer(store: Store, tmp_path: Path) -> None:
    rows = [f"c{i},Name {i},c{i}@example.com,+4479111234{i:02d},vip" for i in range(30)]
    path = write(tmp_path, "id,name,email,phone,tags\n" + "\n".join(rows) + "\n")
    import_customers(path, store, chunk_size=7)
    before = {i: profile(store, i) for i in store.customer_ids()}

    rows[12] = "c12,Renamed,new12@example.com,+447911123499,vip;moved"
    report = import_customers(write(tmp_path, "id,name,email,phone,tags\n" + "\n".join(rows) + "\n"), store)

    assert (report.updated, report.unchanged, report.created) == (1, 29, 0)
    after = {i: profile(store, i) for i in store.customer_ids()}
    assert {i for i in after if after[i] != before[i]} == {"c12"}
    assert after["c12"]["name"] == "Renamed"
    assert after["c12"]["email"] == "new12@example.com"
    assert after["c12"]["phone"] == "+447911123499"
    assert after["c12"]["tags"] == ["vip", "moved"]


def test_import_rows_after_a_multiline_field_keep_their_line_numbers(store: Store, tmp_path: Path) -> None:
    path = write(tmp_path, 'id,name,note\nc1,Ada,"two\nlines"\n\nc2,Bob,x\n,Nobody,y\n')

    report = import_customers(path, store)

    assert report.problems == [f"{path}:6: id: missing"]
    assert profile(store, "c1")["attributes"] == {"note": "two\nlines"}


def test_import_attributes_keep_text_unless_clearly_a_number(store: Store, tmp_path: Path) -> None:
    path = write(tmp_path, "id,zip,count,price,flag,code,big\nc1,00123,42,3.50,TRUE,1e5,-7\n")

    import_customers(path, store)

    assert profile(store, "c1")["attributes"] == {
        "zip": "00123",
        "count": 42,
        "price": 3.5,
        "flag": True,
        "code": "1e5",
        "big": -7,
    }


def test_import_header_names_of_profile_fields_ignore_case(store: Store, tmp_path: Path) -> None:
    path = write(tmp_path, "\ufeffID, Email ,Phone,Country\nc1,a@example.com,09121234567,ir\n")

    report = import_customers(path, store)

    assert report.problems == []
    c1 = profile(store, "c1")
    assert (c1["email"], c1["phone"], c1["attributes"]) == ("a@example.com", "+989121234567", {"country": "ir"})


# --- duplicates and conflicts -------------------------------------------------------------------


def test_import_duplicate_id_keeps_the_first_row(store: Store, tmp_path: Path) -> None:
    path = write(tmp_path, "id,name\nc1,First\nc2,Other\n c1 ,Second\nc1,Third\n")

    report = import_customers(path, store)

    assert report.problems == [f"{path}:4: id: duplicate of line 2", f"{path}:5: id: duplicate of line 2"]
    assert (report.imported, report.rejected) == (2, 2)
    assert profile(store, "c1")["name"] == "First"


def test_import_duplicate_of_a_rejected_row_is_rejected_too(store: Store, tmp_path: Path) -> None:
    path = write(tmp_path, "id,email\nc1,not-an-email\nc1,good@example.com\n")

    report = import_customers(path, store)

    assert report.problems[1:] == [f"{path}:3: id: duplicate of line 2"]
    assert report.problems[0].startswith(f"{path}:2: email: not a valid address")
    assert store.customer_ids() == []


def test_import_shared_email_or_phone_in_the_file_keeps_both_and_reports(store: Store, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "id,email,phone\nc1,ali@example.com,+989121234567\nc2,ALI@example.com,\nc3,other@example.com,00989121234567\n",
    )

    report = import_customers(path, store, default_region="IR")

    assert report.rejected == 0
    assert store.customer_ids() == ["c1", "c2", "c3"]
    assert report.conflicts == [
        f"{path}:3: email: same as customer c1 at line 2",
        f"{path}:4: phone: same as customer c1 at line 2",
    ]
    assert not any("ali@" in line or "912" in line for line in report.conflicts)  # no personal data printed


def test_import_reports_a_contact_another_customer_has_in_the_store(store: Store, tmp_path: Path) -> None:
    store.upsert_customers([Profile(id="old", email="Ali@example.com", phone="+989121234567")])
    rows = [f"n{i},n{i}@example.com," for i in range(5)]
    rows += ["c1,ali@EXAMPLE.com,", "c2,,+989121234567", "n5,,", "old,Ali@example.com,+989121234567"]
    path = write(tmp_path, "id,email,phone\n" + "\n".join(rows) + "\n")

    report = import_customers(path, store, chunk_size=2)

    assert report.conflicts == [
        f"{path}:7: email: already belongs to customer old in the store",
        f"{path}:8: phone: already belongs to customer old in the store",
        f"{path}:10: email: same as customer c1 at line 7",
        f"{path}:10: phone: same as customer c2 at line 8",
    ]
    assert (report.imported, report.unchanged) == (9, 1)


# --- values -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("phone", "country", "region", "expected"),
    [
        ("+98 912 123 4567", "", None, "+989121234567"),
        ("0912 123 4567", "IR", None, "+989121234567"),
        ("0912-123-4567", "", "IR", "+989121234567"),
        ("00989121234567", "", "ir", "+989121234567"),
        ("07911 123456", "GB", "IR", "+447911123456"),  # the row's country wins over the default
        ("(650) 253-0000", "us", None, "+16502530000"),
    ],
)
def test_import_phone_normalised_to_e164(
    store: Store, tmp_path: Path, phone: str, country: str, region: str | None, expected: str
) -> None:
    path = write(tmp_path, f'id,phone,country\nc1,"{phone}",{country}\n')

    report = import_customers(path, store, default_region=region)

    assert report.problems == []
    assert profile(store, "c1")["phone"] == expected


@pytest.mark.parametrize(
    ("phone", "country", "message"),
    [
        ("09121234567", "", "phone: no country code: write it as +<country code><number>, add a country column"),
        ("09121234567", "XX", "country: unknown country: expected a two-letter code such as IR or GB"),
        ("+98 12", "", "phone: not a valid phone number"),
        ("call me", "IR", "phone: not a phone number (The string supplied did not seem to be a phone number.)"),
        ("+98 912 123 4567 ext. 12", "", "phone: has an extension"),
    ],
)
def test_import_bad_phone_rejected_with_reason(
    store: Store, tmp_path: Path, phone: str, country: str, message: str
) -> None:
    path = write(tmp_path, f'id,phone,country\nc1,"{phone}",{country}\n')

    report = import_customers(path, store)

    assert len(report.problems) == 1
    assert report.problems[0].startswith(f"{path}:2: {message}")
    assert store.customer_ids() == []


def test_import_default_region_must_be_a_country(store: Store, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="default region 'Persia'"):
        import_customers(write(tmp_path, "id\nc1\n"), store, default_region="Persia")


@pytest.mark.parametrize(
    ("locale", "expected"),
    [("fa", "fa"), ("fa-IR", "fa-IR"), ("fa_IR", "fa-IR"), ("en-GB", "en-GB"), ("en_gb", "en-GB"), ("de-AT", "de-AT")],
)
def test_import_locale_stored_as_language_tag(store: Store, tmp_path: Path, locale: str, expected: str) -> None:
    import_customers(write(tmp_path, f"id,locale\nc1,{locale}\n"), store)

    assert profile(store, "c1")["locale"] == expected


def test_import_yaml_lists_dates_and_nested_attributes(store: Store, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "- id: 7\n"
        "  name: Ada\n"
        "  tags: [vip, new, vip]\n"
        "  joined: 2026-01-02\n"
        "  code: '123'\n"
        "  attributes: {plan: gold, limits: {sms: 3}}\n"
        "- id: y2\n"
        "  tags: {not: a list}\n"
        "- id: y3\n"
        "  score: .nan\n",
        name="customers.yaml",
    )

    report = import_customers(path, store)

    assert report.problems == [
        f"{path}:7: tags: expected a list or text separated by ; | or , (got a mapping)",
        f"{path}:9: score: not a finite number",
    ]
    assert profile(store, "7")["tags"] == ["vip", "new"]
    assert profile(store, "7")["attributes"] == {
        "plan": "gold",
        "limits": {"sms": 3},
        "joined": "2026-01-02",
        "code": "123",
    }


def test_import_json_records(store: Store, tmp_path: Path) -> None:
    path = write(tmp_path, '[{"id": "j1", "email": "j1@example.com", "tags": "a,b"}, {"id": ""}]', "c.json")

    report = import_customers(path, store)

    assert (report.imported, report.rejected) == (1, 1)
    assert profile(store, "j1")["tags"] == ["a", "b"]


# --- files that cannot be read as a whole, and odd ones -----------------------------------------


def test_import_windows_1256_file_is_a_one_line_error(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    path.write_bytes("id,name\nc1,Ali\nc2,علي رضايي\n".encode("cp1256"))

    with pytest.raises(InputError) as raised:
        import_customers(path, store)

    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith(f"{path}:3: not UTF-8 text")
    assert "Windows-1256" in message
    assert store.customer_ids() == []


def test_import_unclosed_quote_is_a_file_error_and_writes_nothing(store: Store, tmp_path: Path) -> None:
    path = write(tmp_path, 'id,name\nc1,Ada\nc2,"Bob\nc3,Cy\n')

    with pytest.raises(InputError, match=r":3: a quoted field starting on this line is never closed"):
        import_customers(path, store, chunk_size=1)
    assert store.customer_ids() == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", ":1: empty file"),
        ("\n\n", ":1: empty file"),
        ("name,email\nAda,a@example.com\n", ":1: no id column: the header must name one"),
        ("id;name\nc1;Ada\n", ":1: no id column \\(the columns seem to be separated by ';': use commas\\)"),
        ("id,name,Name\nc1,a,b\n", ":1: column 'name' appears twice"),
    ],
)
def test_import_unreadable_files_are_one_line_errors(store: Store, tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        import_customers(write(tmp_path, text), store)


def test_import_deeply_nested_json_is_a_one_line_error(store: Store, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="nested too deeply"):
        import_customers(write(tmp_path, "[" * 100_000 + "]" * 100_000, "c.json"), store)


def test_import_yaml_alias_bomb_is_a_rejected_row(store: Store, tmp_path: Path) -> None:
    lines = ["- id: a", "  a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"  a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)]
    path = write(tmp_path, "\n".join(lines) + "\n", "c.yaml")

    report = import_customers(path, store)

    assert report.rejected == 1
    assert "value too large or nested too deeply" in report.problems[0]


def test_import_header_only_imports_nothing(store: Store, tmp_path: Path) -> None:
    report = import_customers(write(tmp_path, "\ufeffid,name,email\r\n"), store)

    assert (report.rows, report.imported, report.rejected, report.problems) == (0, 0, 0, [])


def test_import_long_field_missing_and_extra_columns(store: Store, tmp_path: Path) -> None:
    huge = "x" * 1_000_000
    rows = ["c1,Ada", f"c2,{huge}", "c3,Cy,n,,", "c4,Dee,n,,extra", f"c5,Eve,{huge[:10_001]}", "c6,,"]
    path = write(tmp_path, "id,name,note,\n" + "\n".join(rows) + "\n")

    report = import_customers(path, store)

    assert report.problems == [
        f"{path}:3: name: longer than 10,000 characters",
        f"{path}:5: row has 5 values but the header has 4 columns",
        f"{path}:6: note: longer than 10,000 characters",
    ]
    assert store.customer_ids() == ["c1", "c3", "c6"]


def test_import_unnamed_column_with_a_value_rejects_the_row(store: Store, tmp_path: Path) -> None:
    path = write(tmp_path, "id,,name\nc1,,Ada\nc2,lost?,Bob\n")

    report = import_customers(path, store)

    assert report.problems == [f"{path}:3: column 2 has a value but no name in the header"]


def test_import_nul_and_control_characters(store: Store, tmp_path: Path) -> None:
    path = write(tmp_path, "id,name,note\nc\x001,Ada,x\nc2,Bo\x00b,x\nc3,Cy,a\x00b\nc4,Dee,tab\there\n")

    report = import_customers(path, store)

    assert [p.split(": ")[0:2] for p in report.problems] == [
        [f"{path}:2", "id"],
        [f"{path}:3", "name"],
        [f"{path}:4", "note"],
    ]
    assert store.customer_ids() == ["c4"]


def test_import_shows_progress_on_the_console(store: Store, tmp_path: Path) -> None:
    out = io.StringIO()
    path = write(tmp_path, "id\n" + "".join(f"c{i}\n" for i in range(25)))

    report = import_customers(path, store, console=Console(file=out, force_terminal=True, width=80), chunk_size=10)

    assert report.imported == 25
    assert "importing customers" in out.getvalue()


# --- properties ---------------------------------------------------------------------------------

HEADER = ["id", "name", "email", "phone", "locale", "timezone", "tags", "country", "score"]
CELLS = {
    "id": st.sampled_from(["c1", "c2", " c1", "c3", "", "۱", "a b"]) | st.text(max_size=6),
    "name": st.sampled_from(["Ada", "علی", ""]) | st.text(max_size=12),
    "email": st.sampled_from(["a@example.com", "A@EXAMPLE.com", "bad@", "", "x@example.test"]) | st.text(max_size=12),
    "phone": st.sampled_from(["+989121234567", "09121234567", "+44 7911 123456", "123", ""]) | st.text(max_size=12),
    "locale": st.sampled_from(["fa", "fa-IR", "en_GB", "zz", ""]) | st.text(max_size=6),
    "timezone": st.sampled_from(["Asia/Tehran", "utc", "Mars/Base", ""]) | st.text(max_size=8),
    "tags": st.sampled_from(["a;b", "a|a", ",", ""]) | st.text(max_size=8),
    "country": st.sampled_from(["IR", "gb", "XX", ""]),
    "score": st.sampled_from(["1", "007", "1.5", "true", "nan", ""]) | st.text(max_size=8),
}
ROWS = st.lists(st.fixed_dictionaries(CELLS), max_size=8)


def assert_stored_rows_are_valid(store: Store) -> None:
    for customer_id in store.customer_ids():
        row = store.customer_row(customer_id)
        assert row is not None
        assert row.id == row.id.strip() and row.id
        if row.email is not None:
            assert validate_email(row.email, check_deliverability=False).normalized == row.email
        if row.phone is not None:
            assert phonenumbers.is_valid_number(phonenumbers.parse(row.phone))
            assert row.phone.startswith("+")
        if row.locale is not None:
            assert re.fullmatch(r"[a-z]{2,3}(-[A-Za-z0-9]+)*", row.locale)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=300) | st.text(max_size=300).map(lambda t: ("id,name,phone\n" + t).encode()))
def test_import_random_bytes_never_raise_but_input_error(shared_store: Store, data: bytes) -> None:
    report = import_bytes(emptied(shared_store), data)

    if report is None:  # refused as a whole: nothing written
        assert shared_store.customer_ids() == []
    else:
        assert report.rows == report.imported + report.rejected
        assert len(shared_store.customer_ids()) == report.created
        assert_stored_rows_are_valid(shared_store)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=ROWS)
def test_import_random_cells_write_only_valid_rows_from_the_first_line_of_each_id(
    shared_store: Store, rows: list[dict[str, str]]
) -> None:
    rows = [{k: v.replace("\r", "").replace("\n", "") for k, v in row.items()} for row in rows]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    writer.writerows([row[name] for name in HEADER] for row in rows)

    report = import_bytes(emptied(shared_store), out.getvalue().encode())

    assert report is not None  # one record a line, quoted by csv: nothing makes the whole file unreadable
    assert_stored_rows_are_valid(shared_store)
    rejected = {int(m[1]) for p in report.problems if (m := re.match(r".*?:(\d+): ", p))}
    data_lines = {line: row for line, row in enumerate(rows, start=2) if any(v.strip() for v in row.values())}
    assert report.rows == len(data_lines)
    assert report.rejected == len(rejected)
    first: dict[str, int] = {}
    for line, row in data_lines.items():
        first.setdefault(row["id"].strip(), line)
    stored = set(shared_store.customer_ids())
    for line, row in data_lines.items():
        customer_id = row["id"].strip()
        if line not in rejected:
            assert first[customer_id] == line
            assert customer_id in stored
            assert (profile(shared_store, customer_id)["name"] or "") == row["name"].strip()
    for customer_id in stored:
        assert first[customer_id] not in rejected  # only the first row of an id is ever written


# --- through the command line -------------------------------------------------------------------


def test_cli_customers_import_good_file_exits_zero(cli_env: str, tmp_path: Path) -> None:
    path = write(tmp_path, "id,name,email\nc1,Ada,ada@example.com\nc2,علی,ali@example.com\n")

    code, out, err = run("customers", "import", str(path))

    assert (code, err) == (0, "")
    assert "2 imported (2 new, 0 updated, 0 unchanged), 0 rejected" in out
    assert stored_ids(cli_env) == ["c1", "c2"]
    code, out, _ = run("customers", "import", str(path))
    assert code == 0 and "2 imported (0 new, 0 updated, 2 unchanged)" in out


def test_cli_customers_import_bad_rows_exit_one_naming_lines(cli_env: str, tmp_path: Path) -> None:
    path = write(tmp_path, "id,email,timezone\nc1,ada@example.com,UTC\nc2,nope,UTC\nc1,x@example.com,UTC\n")

    code, out, err = run("customers", "import", str(path))

    assert code == 1
    assert err.splitlines() == [
        f"{path}:3: email: not a valid address: An email address must have an @-sign.",
        f"{path}:4: id: duplicate of line 2",
    ]
    assert "1 imported (1 new, 0 updated, 0 unchanged), 2 rejected" in out


def test_cli_customers_import_unreadable_file_is_one_line(cli_env: str, tmp_path: Path) -> None:
    path = write(tmp_path, "id,name\nc1,علي\n".encode("cp1256"))

    code, _, err = run("customers", "import", str(path))

    assert code == 1
    assert err.splitlines() == [f"error: {path}:2: not UTF-8 text (it looks like Windows-1256): save the file as UTF-8"]
