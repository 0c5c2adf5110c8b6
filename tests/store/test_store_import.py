"""`journeys customers import` into the store on SQLite and on PostgreSQL: good rows kept, bad ones reported by
line, idempotent, text round-trips (the rest of the importer: tests/unit/importer)."""

from __future__ import annotations

from pathlib import Path

from journeys.services.importing import import_customers
from journeys.store import Store
from tests.support.importing import profile, write

GOOD_AND_BAD = """\
id,name,email,phone,locale,timezone,tags,zip,score
c1,Ada,Ada@Example.COM,+447911123456,en-GB,Europe/London,vip;new,00123,12
c2,Bob,bob@,+447911123457,en_GB,Europe/London,,,
c3,Cy,cy@example.com,+447911123458,xx,Mars/Base,,,
c4,Dee,dee@example.com,+447911123459,fa_IR,asia/tehran,a|b,,1.5
,No One,,,,,,,
"""


def test_import_keeps_good_rows_and_reports_bad_ones_by_line(store: Store, tmp_path: Path) -> None:
    path = write(tmp_path, GOOD_AND_BAD)

    report = import_customers(path, store)

    assert (report.rows, report.imported, report.created, report.rejected) == (5, 2, 2, 3)
    assert report.problems == [
        f"{path}:3: email: not a valid address: There must be something after the @-sign.",
        f"{path}:4: locale: unknown locale: expected a language tag such as fa, fa-IR or en-GB",
        f"{path}:4: timezone: unknown time zone: expected an IANA name such as Asia/Tehran or Europe/London",
        f"{path}:6: id: missing",
    ]
    assert store.customer_ids() == ["c1", "c4"]
    assert profile(store, "c1") == {
        "id": "c1",
        "name": "Ada",
        "email": "Ada@example.com",
        "phone": "+447911123456",
        "locale": "en-GB",
        "timezone": "Europe/London",
        "attributes": {"zip": "00123", "score": 12},
        "tags": ["vip", "new"],
        "consent": {},
    }
    dee = profile(store, "c4")
    assert (dee["locale"], dee["timezone"], dee["tags"], dee["attributes"]) == (
        "fa-IR",
        "Asia/Tehran",
        ["a", "b"],
        {"score": 1.5},
    )


def test_import_again_is_idempotent(store: Store, tmp_path: Path) -> None:
    path = write(tmp_path, GOOD_AND_BAD)
    import_customers(path, store)
    before = {i: profile(store, i) for i in store.customer_ids()}

    again = import_customers(path, store)

    assert (again.imported, again.created, again.updated, again.unchanged, again.rejected) == (2, 0, 0, 2, 3)
    assert {i: profile(store, i) for i in store.customer_ids()} == before


def test_import_persian_names_round_trip(store: Store, tmp_path: Path) -> None:
    names = {"p1": "علی رضایی", "p2": "زهرا محمدی\u200cنیا", "p3": "Ali عباسی"}
    rows = "".join(f"{i},{n},۰۹۱۲۱۲۳۴۵۶{k},fa,تهران\n" for k, (i, n) in enumerate(names.items()))
    path = write(tmp_path, "id,name,phone,locale,city\n" + rows)

    report = import_customers(path, store, default_region="IR")

    assert report.problems == []
    for k, (customer_id, name) in enumerate(names.items()):
        stored = profile(store, customer_id)
        assert stored["name"] == name
        assert stored["phone"] == f"+98912123456{k}"
        assert stored["attributes"] == {"city": "تهران"}
