"""Who may use journeys from outside: API keys (`journeys keys`). Plain functions registered by `journeys.cli.app`."""

from __future__ import annotations

from typing import Annotated

import typer

from journeys.cli.shared import console, print_json
from journeys.errors import InputError
from journeys.settings import Settings


def keys_create(
    name: Annotated[str, typer.Argument(help="a name for the key, e.g. web-shop", show_default=False)],
    scope: Annotated[str, typer.Option("--scope", help="events, read or admin", show_default=False)],
    by: Annotated[str | None, typer.Option("--by", help="who (default: $USER)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
) -> None:
    """Make an API key: printed once, stored only as a hash. `events` may post events and customers, `read` may
    read, `admin` may do everything, erasure included."""
    from journeys.services.control import who
    from journeys.store import SCOPES, KeyExists, Store

    if scope not in SCOPES:
        raise InputError(f"--scope {scope!r}: expected one of {', '.join(SCOPES)}")
    if not name.strip() or any(c.isspace() for c in name):
        raise InputError(f"key name {name!r}: one word, no spaces")
    store = Store.open(Settings().store_url)
    try:
        key = store.create_key(name, scope, by=who(by))
    except KeyExists:
        raise InputError(f"a key named {name!r} exists (revoked keys keep their names): choose another") from None
    finally:
        store.close()
    if as_json:
        print_json({"name": name, "scope": scope, "key": key})
        return
    console.print(key, highlight=False, soft_wrap=True)
    console.print(f"[dim]key {name!r} ({scope}): shown this once, keep it now[/dim]", highlight=False)


def keys_list(as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False) -> None:
    """The API keys: name, scope, who made them and when, revoked or not (never the keys themselves)."""
    from journeys.store import Store

    store = Store.open(Settings().store_url)
    try:
        rows = store.keys()
    finally:
        store.close()
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
    from journeys.store import Store

    store = Store.open(Settings().store_url)
    try:
        row = store.revoke_key(name)
    finally:
        store.close()
    if row is None:
        raise InputError(f"no API key named {name!r} (journeys keys list shows them)")
    console.print(f"key {name!r} revoked {row.revoked_at:%Y-%m-%d %H:%M} UTC", highlight=False)
