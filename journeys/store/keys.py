"""API keys: made with a name and one scope, found by the hash of the key a request carries, revoked by name.

Only a SHA-256 of each key is kept. The keys are 256 random bits, so a fast hash is as safe as a slow one
here (a slow hash guards guessable passwords, not random keys) and a request's check is one indexed read;
revoking is one write that the next request's read sees.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlmodel import col, select

from journeys.store.base import StoreBase, utc_now
from journeys.store.models import ApiKeyRow

SCOPES = ("events", "read", "admin")
KEY_PREFIX = "jk_"


class KeyExists(ValueError):
    """A key of that name exists (revoked ones keep their names: who had access stays on record)."""


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class KeyMethods(StoreBase):
    def create_key(self, name: str, scope: str, *, by: str, at: datetime | None = None) -> str:
        """A new key named `name` with `scope`; returns the key itself, which is kept nowhere."""
        if scope not in SCOPES:
            raise ValueError(f"unknown scope {scope!r}: expected one of {', '.join(SCOPES)}")
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        row = ApiKeyRow(name=name, scope=scope, hash=key_hash(key), created_at=at or utc_now(), created_by=by)
        self._add_named(row, name, KeyExists)
        return key

    def keys(self) -> list[ApiKeyRow]:
        """Every key, revoked ones included, oldest first."""
        with self._session() as session:
            return list(session.exec(select(ApiKeyRow).order_by(col(ApiKeyRow.created_at), col(ApiKeyRow.name))))

    def revoke_key(self, name: str, at: datetime | None = None) -> ApiKeyRow | None:
        """Revoke the key named `name` (a revoked key stays revoked); None when there is no such key."""
        with self._session(write=True) as session:
            row = session.get(ApiKeyRow, name)
            if row is None:
                return None
            if row.revoked_at is None:
                row.revoked_at = at or utc_now()
                session.add(row)
            return row

    def key_scope(self, key: str) -> tuple[str, str] | None:
        """The name and scope of a live key, or None for a key that is unknown or revoked."""
        with self._session() as session:
            row = session.exec(select(ApiKeyRow).where(ApiKeyRow.hash == key_hash(key))).first()
        if row is None or row.revoked_at is not None:
            return None
        return row.name, row.scope
