"""What the command modules share: the consoles, errors as one line, JSON output, and running a command's
async body against Temporal and the store."""

from __future__ import annotations

import asyncio
import json
import re
import sys
from datetime import datetime
from typing import Any

import typer
from rich.console import Console

from journeys.settings import Settings

console = Console()
errors = Console(stderr=True)
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def one_line(text: str) -> str:
    """An error for the terminal: control characters, line separators and bidi overrides that came from a file
    written out as escapes, so the message stays one line and shows what is there (Persian text is kept)."""
    return _UNPRINTABLE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), str(text))


def print_json(data: Any) -> None:
    """`data` as indented JSON on stdout (text in any script kept as it is, times in ISO 8601)."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=_plain) + "\n")


def _plain(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def run(coro_factory: Any) -> Any:
    """Run an async command body; Ctrl-C ends it quietly."""
    try:
        return asyncio.run(coro_factory())
    except KeyboardInterrupt:
        raise typer.Exit(130) from None


CONNECT_PATIENCE = 10.0  # seconds a command that can do without Temporal waits for it to answer


async def runtime(body: Any, *, store_alone: bool = False) -> Any:
    """Connect to Temporal (failing fast, in one line, when nothing answers), open the store, run `body`.

    With `store_alone`, a Temporal server that does not answer within CONNECT_PATIENCE gives `body` no client
    (None) instead: the command tells what the store knows."""
    from journeys.errors import TemporalUnavailable
    from journeys.runtime.temporal import connect, quiet_runtime
    from journeys.store import Store

    quiet_runtime()
    settings = Settings()
    if store_alone:
        try:
            client = await asyncio.wait_for(connect(settings), CONNECT_PATIENCE)
        except (TemporalUnavailable, TimeoutError):
            client = None
    else:
        client = await connect(settings)
    store = Store.open(settings.store_url)
    try:
        return await body(client, store, settings)
    finally:
        store.close()
