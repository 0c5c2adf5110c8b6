"""The importer's fixtures (`store` and `settings` come from tests/conftest.py)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from journeys.store import Store


@pytest.fixture(scope="module")
def shared_store() -> Iterator[Store]:
    """One store for all the examples of a module's property tests (empty it with `emptied`)."""
    with tempfile.TemporaryDirectory() as folder:
        opened = Store.open(f"sqlite:///{folder}/s.db")
        yield opened
        opened.close()


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """`journeys` run in tmp_path, with a store there; returns the store's URL."""
    url = f"sqlite:///{tmp_path}/cli.db"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("JOURNEYS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("JOURNEYS_DATABASE_URL", url)
    return url
