"""The commands that run the system: dev (the embedded default), worker and serve (the inbound HTTP server).

Plain functions: `journeys.cli.app` registers them as commands."""

from __future__ import annotations

from typing import Annotated

import typer

from journeys.cli.shared import console, run
from journeys.settings import Settings


def dev(
    port: Annotated[
        int | None, typer.Option("--port", help="Temporal frontend port (default: from the address)")
    ] = None,
    ui_port: Annotated[
        int | None, typer.Option("--ui-port", help="Temporal web UI port (default: port + 1000)")
    ] = None,
) -> None:
    """Start the embedded default: Temporal dev server (persistent), the store and a worker, until Ctrl-C."""
    from journeys.runtime.embedded import run_dev

    run(lambda: run_dev(Settings(), port, ui_port, _say))


def worker() -> None:
    """Run a worker against the configured Temporal server and store (also `python worker.py`)."""
    from journeys.runtime.embedded import run_worker

    run(lambda: run_worker(Settings(), _say))


def serve(
    port: Annotated[
        int | None, typer.Option("--port", help="port to listen on (default: JOURNEYS_SERVE_PORT, 8080)")
    ] = None,
) -> None:
    """The inbound HTTP server: provider callbacks, inbound SMS, voice answers, unsubscribe links, until Ctrl-C."""
    from journeys.runtime.embedded import run_serve

    run(lambda: run_serve(Settings(), port, _say))


def _say(line: str) -> None:
    """One status line, never wrapped: addresses, paths and keys are copied from it."""
    console.print(line, highlight=False, soft_wrap=True)
