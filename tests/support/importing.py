"""Customers files for the importer tests, and what the store holds after an import."""

from __future__ import annotations

import tempfile
from pathlib import Path

from sqlalchemy import delete

from journeys.errors import InputError
from journeys.services.importing import ImportReport, import_customers
from journeys.store import CustomerRow, Store


def write(folder: Path, content: str | bytes, name: str = "customers.csv") -> Path:
    """`content` (text as UTF-8) as the file `folder/name`."""
    path = folder / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def profile(store: Store, customer_id: str) -> dict[str, object]:
    """A stored customer's fields, without the row's timestamps."""
    row = store.customer_row(customer_id)
    assert row is not None, customer_id
    return row.model_dump(exclude={"created_at", "updated_at"})


def stored_ids(url: str) -> list[str]:
    """The customers in the store at `url`."""
    opened = Store.open(url)
    try:
        return opened.customer_ids()
    finally:
        opened.close()


def emptied(store: Store) -> Store:
    """`store` without customers (a store shared by the examples of a property test)."""
    with store.engine.begin() as connection:
        connection.execute(delete(CustomerRow.__table__))  # type: ignore[attr-defined]
    return store


def import_bytes(store: Store, data: bytes, name: str = "customers.csv") -> ImportReport | None:
    """Import `data` as the file `name` (region IR, in chunks of 3); None when the file as a whole is refused,
    which must be said in one line naming the file."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(data)
        try:
            return import_customers(path, store, default_region="IR", chunk_size=3)
        except InputError as exc:
            assert "\n" not in str(exc) and str(exc).startswith(str(path)), str(exc)
            return None
