from __future__ import annotations

import pytest

from journeys.store import KeyExists, Store


def test_a_created_key_is_found_by_itself_and_stored_only_as_a_hash(store: Store) -> None:
    key = store.create_key("shop", "events", by="ops")

    assert store.key_scope(key) == ("shop", "events")
    (row,) = store.keys()
    assert (row.name, row.scope, row.created_by, row.revoked_at) == ("shop", "events", "ops", None)
    assert key not in row.hash and key not in repr(row)
    assert store.key_scope(key + "x") is None


def test_a_revoked_key_is_refused_from_the_next_lookup_and_keeps_its_name(store: Store) -> None:
    key = store.create_key("courier", "events", by="ops")
    revoked = store.revoke_key("courier")

    assert revoked is not None and revoked.revoked_at is not None
    assert store.key_scope(key) is None
    assert store.revoke_key("nobody") is None
    with pytest.raises(KeyExists):
        store.create_key("courier", "events", by="ops")


def test_keys_have_one_known_scope_and_distinct_names(store: Store) -> None:
    store.create_key("crm", "read", by="ops")
    with pytest.raises(KeyExists):
        store.create_key("crm", "admin", by="ops")
    with pytest.raises(ValueError, match="unknown scope"):
        store.create_key("x", "write", by="ops")
    assert [k.name for k in store.keys()] == ["crm"]
