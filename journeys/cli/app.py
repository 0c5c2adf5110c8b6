"""The `journeys` Typer app: every command, in the order `journeys --help` lists them, and `main`, which ends
every user mistake as one line on stderr and a non-zero exit, never a traceback."""

from __future__ import annotations

import os
import sys

import typer
from typer.exceptions import TyperException

from journeys.cli import access, authoring, campaigns, running, support
from journeys.cli.shared import errors, one_line
from journeys.errors import DefinitionError, JourneysError, TemporalUnavailable
from journeys.runtime.collector import relax_collector

app = typer.Typer(
    name="journeys",
    help="Customer journeys written in YAML, run as durable Temporal workflows.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
for command in (
    authoring.validate,
    authoring.schema,
    authoring.render,
    authoring.simulate,
    running.dev,
    running.worker,
    running.serve,
    campaigns.enroll,
    support.signal,
    support.consent,
    support.status,
    support.cancel,
    campaigns.report,
    support.move,
    campaigns.migrate,
    campaigns.pause,
    campaigns.resume,
):
    app.command()(command)
customers_app = typer.Typer(help="Customer profiles in the store.", no_args_is_help=True)
customers_app.command("import")(campaigns.customers_import)
customers_app.command("forget")(support.customers_forget)
app.add_typer(customers_app, name="customers")
events_app = typer.Typer(help="Events in bulk.", no_args_is_help=True)
events_app.command("import")(campaigns.events_import)
app.add_typer(events_app, name="events")
keys_app = typer.Typer(help="API keys for the HTTP API.", no_args_is_help=True)
keys_app.command("create")(access.keys_create)
keys_app.command("list")(access.keys_list)
keys_app.command("revoke")(access.keys_revoke)
app.add_typer(keys_app, name="keys")
users_app = typer.Typer(help="People who sign in to the web console.", no_args_is_help=True)
users_app.command("add")(access.users_add)
users_app.command("list")(access.users_list)
users_app.command("remove")(access.users_remove)
app.add_typer(users_app, name="users")


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; user mistakes become one line on stderr."""
    args = sys.argv[1:] if argv is None else argv
    relax_collector()  # a worker or server runs for days with a large heap: see journeys.runtime.collector
    command = typer.main.get_command(app)
    try:
        code = command.main(args=args or ["--help"], prog_name="journeys", standalone_mode=False)
    except DefinitionError as exc:
        for problem in exc.problems:
            errors.print(one_line(str(problem)), markup=False, highlight=False, soft_wrap=True)
        sys.exit(1)
    except JourneysError as exc:
        errors.print(f"error: {one_line(str(exc))}", markup=False, highlight=False, soft_wrap=True)
        if isinstance(exc, TemporalUnavailable):
            # The SDK's core threads may still be unwinding a failed connection; exiting through the
            # interpreter's shutdown can then abort (PyGILState_Release). Nothing is left to flush.
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(1)
        sys.exit(1)
    except typer.Abort:
        errors.print("aborted")
        sys.exit(130)
    except TyperException as exc:  # usage errors: a bad option or a missing argument
        message = one_line(exc.format_message())
        errors.print(f"error: {message} (see --help)", markup=False, highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except Exception as exc:  # a bug: still one line, with the traceback when JOURNEYS_DEBUG is set
        if os.environ.get("JOURNEYS_DEBUG"):
            raise
        message = one_line(f"{type(exc).__name__}: {exc}")
        line = f"error: internal error ({message}); JOURNEYS_DEBUG=1 shows the traceback"
        errors.print(line, markup=False, highlight=False, soft_wrap=True)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
