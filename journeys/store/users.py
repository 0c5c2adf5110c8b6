"""People who sign in to the web console: a name, one role, and an argon2 hash of the password.

Roles are ordered: each may do all that the ones before it may (`ROLES`). Unlike API keys, passwords are
chosen by people and may be guessable, so they are kept with a slow, salted hash (argon2id); a sign-in's
check costs tens of milliseconds, a page afterwards only one indexed read of the user's row (the session
names the user, and the role is read again on every request, so a removal or a new role counts at once).
"""

from __future__ import annotations

from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import col, select

from journeys.store.base import StoreBase, utc_now
from journeys.store.models import ConsoleUserRow

ROLES = ("viewer", "support", "marketer", "admin")
_hasher = PasswordHasher()
# checked against when the name is unknown, so that a wrong name costs what a wrong password costs
_NOBODY = _hasher.hash("no one has this password")


class UserExists(ValueError):
    """A console user of that name exists."""


def may(role: str, needed: str) -> bool:
    """Whether `role` may do what `needed` may (each role may do all that the ones before it may)."""
    return role in ROLES and ROLES.index(role) >= ROLES.index(needed)


class UserMethods(StoreBase):
    def add_user(self, name: str, role: str, password: str, *, by: str, at: datetime | None = None) -> ConsoleUserRow:
        """A new console user; the password is kept only as an argon2 hash."""
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}: expected one of {', '.join(ROLES)}")
        row = ConsoleUserRow(
            name=name, role=role, password_hash=_hasher.hash(password), created_at=at or utc_now(), created_by=by
        )
        self._add_named(row, name, UserExists)
        return row

    def users(self) -> list[ConsoleUserRow]:
        """Every console user, by name."""
        with self._session() as session:
            return list(session.exec(select(ConsoleUserRow).order_by(col(ConsoleUserRow.name))))

    def user(self, name: str) -> ConsoleUserRow | None:
        with self._session() as session:
            return session.get(ConsoleUserRow, name)

    def remove_user(self, name: str) -> bool:
        """Remove the user (their sessions are refused from the next request on); False when there is none."""
        with self._session(write=True) as session:
            row = session.get(ConsoleUserRow, name)
            if row is None:
                return False
            session.delete(row)
            return True

    def signed_in(self, name: str, password: str) -> ConsoleUserRow | None:
        """The user when `password` is theirs, else None."""
        row = self.user(name)
        try:
            _hasher.verify(row.password_hash if row else _NOBODY, password)
        except (VerificationError, InvalidHashError):
            return None
        return row
