"""`journeys consent` refuses mistakes in one line, exit 1, before Temporal is asked: no traceback, nothing
changed in the store. A voice step's opt-out keys must fit the digits it gathers."""

from __future__ import annotations

from pathlib import Path

import pytest

from journeys.format.customers import Profile
from journeys.store import Store
from tests.support.cli import run


@pytest.fixture
def store_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path}/store.db"
    monkeypatch.setenv("JOURNEYS_TEMPORAL_ADDRESS", "127.0.0.1:1")  # nothing answers there
    monkeypatch.setenv("JOURNEYS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("JOURNEYS_DATABASE_URL", url)
    store = Store.open(url)
    store.upsert_customers([Profile(id="c1", name="Sara", phone="+989121000001")])
    store.close()
    return url


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["nobody", "sms", "--deny", "--reason", "asked"], "no customer 'nobody' in the store"),
        (["c1", "fax", "--deny", "--reason", "asked"], "unknown channel 'fax'"),
        (["c1", "sms", "--reason", "asked"], "--allow or --deny"),
        (["c1", "sms", "--allow", "--deny", "--reason", "asked"], "--allow or --deny"),
        (["c1", "sms", "--deny"], "--reason"),
        (["c1", "sms", "--deny", "--reason", "  "], "--reason"),
    ],
)
def test_consent_refuses_in_one_line_and_changes_nothing(store_url: str, args: list[str], says: str) -> None:
    code, out, err = run("consent", *args)
    assert code == 1, (out, err)
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert says in err
    store = Store.open(store_url)
    try:
        row = store.customer_row("c1")
        assert row is not None and row.consent == {}
        assert store.customer_audits_of("c1") == []
    finally:
        store.close()


CALL = """\
id: j
name: J
steps:
  - id: ask
    send: voice
    message:
      say: "Press 1 to 5; press 9 to stop these calls"
      gather: {digits: 1, event: rated, opt_out: "KEYS"}
"""


def test_a_voice_opt_out_key_must_fit_the_digits_gathered(tmp_path: Path) -> None:
    path = tmp_path / "call.yaml"
    path.write_text(CALL.replace("KEYS", "9"), encoding="utf-8")
    assert run("validate", str(path))[0] == 0
    path.write_text(CALL.replace("KEYS", "99"), encoding="utf-8")
    code, _, err = run("validate", str(path))
    assert code == 1 and "opt_out" in err and "Traceback" not in err, err
