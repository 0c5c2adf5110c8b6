"""The `journeys` command (the reference is `docs/commands.md`).

Every user mistake ends as one line on stderr and a non-zero exit, never a traceback: `main` catches
`JourneysError` and click's usage errors around the Typer app.

The commands sit by who uses them: `authoring` (validate, schema, render, simulate), `campaigns` (customers
import, enroll, report, migrate, pause, resume), `support` (signal, status, cancel, move) and `running` (dev,
worker, serve); `app` registers them and holds `main`; `shared` holds the consoles and helpers they share,
`views` how results print, and `demo` is `make demo`.
"""

from journeys.cli.app import app, main

__all__ = ["app", "main"]
