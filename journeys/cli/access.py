"""Who may use journeys from outside: API keys (`journeys keys`) and the people who sign in to the web console
(`journeys users`). Plain functions registered by `journeys.cli.app`."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from journeys.cli.shared import console, print_json
from journeys.errors import InputError
from journeys.settings import Settings

if TYPE_CHECKING:
    from journeys.store import Store

T = TypeVar("T")


def _in_store(work: Callable[[Store], T]) -> T:
    """`work` done on the configured store, closed afterwards (the store is imported only when used)."""
    from journeys.store import Store

    store = Store.open(Settings().store_url)
    try:
        return work(store)
    finally:
        store.close()


def keys_create(
    name: Annotated[str, typer.Argument(help="a name for the key, e.g. web-shop", show_default=False)],
    scope: Annotated[str, typer.Option("--scope", help="events, read or admin", show_default=False)],
    by: Annotated[str | None, typer.Option("--by", help="who (default: $USER)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
) -> None:
    """Make an API key: printed once, stored only as a hash. `events` may post events and customers, `read` may
    read, `admin` may do everything, erasure included."""
    from journeys.services.control import who
    from journeys.store import SCOPES, KeyExists

    if scope not in SCOPES:
        raise InputError(f"--scope {scope!r}: expected one of {', '.join(SCOPES)}")
    if not name.strip() or any(c.isspace() for c in name):
        raise InputError(f"key name {name!r}: one word, no spaces")
    try:
        key = _in_store(lambda store: store.create_key(name, scope, by=who(by)))
    except KeyExists:
        raise InputError(f"a key named {name!r} exists (revoked keys keep their names): choose another") from None
    if as_json:
        print_json({"name": name, "scope": scope, "key": key})
        return
    console.print(key, highlight=False, soft_wrap=True)
    console.print(f"[dim]key {name!r} ({scope}): shown this once, keep it now[/dim]", highlight=False)


def keys_list(as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False) -> None:
    """The API keys: name, scope, who made them and when, revoked or not (never the keys themselves)."""
    rows = _in_store(lambda store: store.keys())
    if as_json:
        print_json([r.model_dump(exclude={"hash"}, mode="json") for r in rows])
        return
    from rich.table import Table

    table = Table("name", "scope", "created", "by", "revoked")
    for r in rows:
        revoked = f"{r.revoked_at:%Y-%m-%d %H:%M}" if r.revoked_at else ""
        table.add_row(r.name, r.scope, f"{r.created_at:%Y-%m-%d %H:%M}", r.created_by, revoked)
    console.print(table)


def keys_revoke(name: Annotated[str, typer.Argument(help="the key's name", show_default=False)]) -> None:
    """Revoke an API key: refused from the next request on."""
    row = _in_store(lambda store: store.revoke_key(name))
    if row is None:
        raise InputError(f"no API key named {name!r} (journeys keys list shows them)")
    console.print(f"key {name!r} revoked {row.revoked_at:%Y-%m-%d %H:%M} UTC", highlight=False)


def users_add(
    name: Annotated[str, typer.Argument(help="the name they sign in with", show_default=False)],
    role: Annotated[str, typer.Option("--role", help="viewer, support, marketer or admin", show_default=False)],
    by: Annotated[str | None, typer.Option("--by", help="who (default: $USER)")] = None,
) -> None:
    """Add a person who signs in to the web console. The password is read from standard input; on a terminal
    (or given nothing) one is generated and printed once. Only its hash is kept."""
    import secrets
    import sys

    from journeys.services.control import who
    from journeys.store import ROLES, UserExists

    if role not in ROLES:
        raise InputError(f"--role {role!r}: expected one of {', '.join(ROLES)}")
    if not name.strip() or any(c.isspace() for c in name):
        raise InputError(f"user name {name!r}: one word, no spaces")
    given = "" if sys.stdin is None or sys.stdin.isatty() else sys.stdin.read().rstrip("\r\n")
    password = given or secrets.token_urlsafe(12)
    try:
        _in_store(lambda store: store.add_user(name, role, password, by=who(by)))
    except UserExists:
        raise InputError(f"a user named {name!r} exists (journeys users remove {name} first)") from None
    if not given:
        console.print(password, highlight=False, soft_wrap=True, markup=False)
        console.print(f"[dim]user {name!r} ({role}): password shown this once, keep it now[/dim]", highlight=False)
    else:
        console.print(f"user {name!r} ({role}) added", highlight=False, markup=False)


def users_list(as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False) -> None:
    """The people who sign in to the console: name, role, who added them and when (never a password)."""
    rows = _in_store(lambda store: store.users())
    if as_json:
        print_json([r.model_dump(exclude={"password_hash"}, mode="json") for r in rows])
        return
    from rich.table import Table

    table = Table("name", "role", "created", "by")
    for r in rows:
        table.add_row(r.name, r.role, f"{r.created_at:%Y-%m-%d %H:%M}", r.created_by)
    console.print(table)


def users_remove(name: Annotated[str, typer.Argument(help="the user's name", show_default=False)]) -> None:
    """Remove a console user: their sessions are refused from the next request on."""
    removed = _in_store(lambda store: store.remove_user(name))
    if not removed:
        raise InputError(f"no user named {name!r} (journeys users list shows them)")
    console.print(f"user {name!r} removed", highlight=False, markup=False)
