"""What the command modules share: the consoles, errors as one line, JSON output, and running a command's
async body against Temporal and the store."""

from __future__ import annotations

import asyncio
import json
import re
import sys
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
    """`data` as indented JSON on stdout (text in any script kept as it is)."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def run(coro_factory: Any) -> Any:
    """Run an async command body; Ctrl-C ends it quietly."""
    try:
        return asyncio.run(coro_factory())
    except KeyboardInterrupt:
        raise typer.Exit(130) from None


async def runtime(body: Any, *, temporal: bool = True) -> Any:
    """Connect to Temporal (failing fast, in one line, when nothing answers), open the store, run `body`.

    `temporal=False`: a command that does its part without Temporal (it records, and says what is pending)
    gets None for the client when nothing answers."""
    from journeys.errors import TemporalUnavailable
    from journeys.runtime.temporal import connect, quiet_runtime
    from journeys.store import Store

    quiet_runtime()
    settings = Settings()
    try:
        client = await connect(settings)
    except TemporalUnavailable:
        if temporal:
            raise
        client = None
    store = Store.open(settings.store_url)
    try:
        return await body(client, store, settings)
    finally:
        store.close()
