"""The `journeys` command (the reference is `docs/commands.md`).

Every user mistake ends as one line on stderr and a non-zero exit, never a traceback: `main` catches
`JourneysError` and click's usage errors around the Typer app.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from datetime import datetime, timezone
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from typer.exceptions import TyperException

from journeys.errors import DefinitionError, InputError, JourneysError, TemporalUnavailable
from journeys.settings import Settings
from journeys.templates import TemplateFiles

app = typer.Typer(
    name="journeys",
    help="Customer journeys written in YAML, run as durable Temporal workflows.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
errors = Console(stderr=True)
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _one_line(text: str) -> str:
    """An error for the terminal: control characters, line separators and bidi overrides that came from a file
    written out as escapes, so the message stays one line and shows what is there (Persian text is kept)."""
    return _UNPRINTABLE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), str(text))


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def _templates_for(path: Path) -> TemplateFiles:
    """Templates sit in `templates/` beside the journey file (the definitions folder)."""
    return TemplateFiles(path.parent / "templates")


# --- marketers ------------------------------------------------------------------------------------


@app.command()
def validate(
    files: Annotated[list[Path], typer.Argument(help="journey definition files (YAML)", show_default=False)],
    as_json: Annotated[bool, typer.Option("--json", help="print the problems as JSON")] = False,
) -> None:
    """Check definitions and their templates; exit 0 when all are valid."""
    from journeys.format.loader import load_journey

    report = []
    failed = False
    for path in files:
        journey, problems = load_journey(path, _templates_for(path))
        has_errors = journey is None or any(p.severity == "error" for p in problems)
        failed |= has_errors
        report.append((path, journey, problems, has_errors))
    if as_json:
        _print_json(
            [
                {
                    "file": str(path),
                    "valid": not bad,
                    "journey": journey.id if journey else None,
                    "problems": [
                        {"line": p.line, "col": p.col, "severity": p.severity, "message": p.message} for p in problems
                    ],
                }
                for path, journey, problems, bad in report
            ]
        )
    else:
        for path, journey, problems, bad in report:
            for problem in problems:
                style = "yellow" if problem.severity == "warning" else "red"
                errors.print(_one_line(str(problem)), style=style, markup=False, highlight=False, soft_wrap=True)
            if not bad and journey is not None:
                console.print(
                    f"[green]✓[/] {path}: {journey.id} v{journey.version}, {len(journey.steps)} steps", highlight=False
                )
    raise typer.Exit(1 if failed else 0)


@app.command()
def schema() -> None:
    """Print the JSON Schema of the journey format, for editor completion."""
    from journeys.format.schema import journey_schema

    _print_json(journey_schema())


class MapFormat(str, Enum):
    mermaid = "mermaid"
    dot = "dot"
    svg = "svg"
    png = "png"


@app.command()
def render(
    file: Annotated[Path, typer.Argument(help="journey definition file", show_default=False)],
    format: Annotated[MapFormat, typer.Option("--format", "-f", help="output format")] = MapFormat.mermaid,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="write to this file")] = None,
) -> None:
    """Draw the journey map."""
    from journeys.format import journey_map
    from journeys.format.loader import load_or_raise

    journey = load_or_raise(file, _templates_for(file))
    if format is MapFormat.png:
        data: bytes | str = journey_map.to_png(journey)
    else:
        draw = {"mermaid": journey_map.to_mermaid, "dot": journey_map.to_dot, "svg": journey_map.to_svg}
        data = draw[format.value](journey)
    if output is not None:
        output.write_bytes(data if isinstance(data, bytes) else data.encode())
        console.print(f"wrote {output}")
    elif isinstance(data, bytes):
        raise InputError("png output is binary: give --output FILE")
    else:
        sys.stdout.write(data if data.endswith("\n") else data + "\n")


class Engine(str, Enum):
    local = "local"
    temporal = "temporal"


def _parse_start(value: str | None) -> datetime:
    if value is None:
        return datetime.now(timezone.utc).replace(microsecond=0)
    try:
        start = datetime.fromisoformat(value)
    except ValueError:
        raise InputError(
            f"--start {value!r}: expected an ISO 8601 date-time such as 2026-11-23T08:00:00+03:30"
        ) from None
    if start.tzinfo is None:
        raise InputError(f"--start {value!r}: add a UTC offset, e.g. {value}+00:00")
    if not 1900 <= start.year <= 9000:  # a simulation and its events must stay within dates Python can hold
        raise InputError(f"--start {value!r}: expected a date between the years 1900 and 9000")
    return start


@app.command()
def simulate(
    file: Annotated[Path, typer.Argument(help="journey definition file", show_default=False)],
    customers: Annotated[Path, typer.Option("--customers", help="customers: CSV, YAML or JSON", show_default=False)],
    events: Annotated[Path | None, typer.Option("--events", help="events: YAML list")] = None,
    days: Annotated[int, typer.Option("--days", min=0, max=3650, help="simulated days")] = 30,
    start: Annotated[str | None, typer.Option("--start", help="ISO 8601 date-time with offset (default: now)")] = None,
    engine: Annotated[Engine, typer.Option("--engine", help="local: in-process; temporal: test server")] = Engine.local,
    as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
) -> None:
    """Run the real journey code in simulated time; nothing is sent."""
    from journeys.engine.messages import MessageSource
    from journeys.format.inputs import read_customers, read_events
    from journeys.format.loader import load_or_raise
    from journeys.simulate.inprocess import simulate as run_simulation

    journey = load_or_raise(file, _templates_for(file))
    began = _parse_start(start)
    people = read_customers(customers)
    planned = read_events(events, began, {c.id for c in people}) if events else []
    if engine is Engine.temporal:
        from journeys.services.catalogue import publish
        from journeys.simulate.temporal import simulate_on_temporal

        published = publish(file)
        result = _run(lambda: simulate_on_temporal(published, people, planned, began, days))
    else:
        result = run_simulation(journey, people, planned, began, days, MessageSource(_templates_for(file)))
    if as_json:
        _print_json(result.model_dump(mode="json"))
    else:
        from journeys.cli.views import print_simulation

        print_simulation(console, result, people, journey)


# --- runtime: everyone, operations, support ------------------------------------------------------


def _run(coro_factory: Any) -> Any:
    """Run an async command body; Ctrl-C ends it quietly."""
    try:
        return asyncio.run(coro_factory())
    except KeyboardInterrupt:
        raise typer.Exit(130) from None


async def _runtime(body: Any) -> Any:
    """Connect to Temporal (failing fast, in one line, when nothing answers), open the store, run `body`."""
    from journeys.runtime.temporal import connect, quiet_runtime
    from journeys.store import Store

    quiet_runtime()
    settings = Settings()
    client = await connect(settings)
    store = Store.open(settings.store_url)
    try:
        return await body(client, store, settings)
    finally:
        store.close()


@app.command()
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

    _run(lambda: run_dev(Settings(), port, ui_port, lambda line: console.print(line, highlight=False)))


@app.command()
def worker() -> None:
    """Run a worker against the configured Temporal server and store (also `python worker.py`)."""
    from journeys.runtime.embedded import run_worker

    _run(lambda: run_worker(Settings(), lambda line: console.print(line, highlight=False)))


@app.command()
def serve(
    port: Annotated[
        int | None, typer.Option("--port", help="port to listen on (default: JOURNEYS_SERVE_PORT, 8080)")
    ] = None,
) -> None:
    """The inbound HTTP server: provider callbacks, inbound SMS, voice answers, unsubscribe links, until Ctrl-C."""
    from journeys.runtime.embedded import run_serve

    _run(lambda: run_serve(Settings(), port, lambda line: console.print(line, highlight=False)))


customers_app = typer.Typer(help="Customer profiles in the store.", no_args_is_help=True)
app.add_typer(customers_app, name="customers")


@customers_app.command("import")
def customers_import(
    file: Annotated[Path, typer.Argument(help="customers: CSV, YAML or JSON", show_default=False)],
    region: Annotated[
        str | None, typer.Option("--region", help="country of phone numbers written without +, e.g. IR")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
) -> None:
    """Import or update customer profiles: bad rows reported with line numbers, good rows kept, idempotent."""
    from journeys.services.importing import import_customers
    from journeys.store import Store

    settings = Settings()
    store = Store.open(settings.store_url)
    try:
        report = import_customers(file, store, console=None if as_json else console, default_region=region)
    finally:
        store.close()
    if as_json:
        _print_json(report.model_dump(mode="json"))
    else:
        from journeys.cli.views import print_import

        print_import(console, errors, report)
    raise typer.Exit(1 if report.rejected else 0)


@app.command()
def enroll(
    journey: Annotated[str, typer.Argument(help="journey id (or its YAML file)", show_default=False)],
    customer: Annotated[list[str] | None, typer.Option("--customer", help="customer id (repeatable)")] = None,
    all_customers: Annotated[bool, typer.Option("--all", help="every customer in the store")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
) -> None:
    """Enrol customers (respecting entry rules), idempotently: enrolling twice makes one run."""
    from journeys.services import catalogue, enrolment

    if bool(customer) == all_customers:
        raise InputError("give --customer ID (one or more) or --all")

    async def body(client: Any, store: Any, settings: Settings) -> Any:
        published = catalogue.publish(catalogue.find_journey(settings, journey))
        ids = store.customer_ids() if all_customers else list(customer or [])
        return published.journey, await enrolment.enroll(client, store, settings, published, ids)

    found, results = _run(lambda: _runtime(body))
    if as_json:
        _print_json({"journey": found.id, "version": found.version, "enrolments": [r.model_dump() for r in results]})
    else:
        from journeys.cli.views import print_enrolments

        print_enrolments(console, found, results)


def _data(pairs: list[str] | None) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--data {pair!r}: expected KEY=VALUE")
        data[key.strip()] = value
    return data


@app.command()
def signal(
    customer: Annotated[str, typer.Argument(help="customer id", show_default=False)],
    event: Annotated[str, typer.Argument(help="event name, e.g. swapped", show_default=False)],
    data: Annotated[list[str] | None, typer.Option("--data", help="KEY=VALUE (repeatable)")] = None,
    event_id: Annotated[str | None, typer.Option("--id", help="event id: the same id twice is one event")] = None,
    journey: Annotated[str | None, typer.Option("--journey", help="only this journey's runs")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
) -> None:
    """Record an event and deliver it at once to every live run of the customer; print what each did."""
    from journeys.services import delivery

    values = _data(data)

    async def body(client: Any, store: Any, settings: Settings) -> Any:
        return await delivery.signal(client, store, settings, customer, event, values, event_id, journey)

    result = _run(lambda: _runtime(body))
    if as_json:
        _print_json(result.model_dump(mode="json"))
    else:
        from journeys.cli.views import print_signal

        print_signal(console, result)


@app.command()
def status(
    customer: Annotated[str, typer.Argument(help="customer id", show_default=False)],
    as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
) -> None:
    """The customer's runs: journey, version, current step, what it waits for and until when, messages, outcome."""
    from journeys.services.status import status as customer_status

    async def body(client: Any, store: Any, settings: Settings) -> Any:
        return await customer_status(client, store, customer)

    result = _run(lambda: _runtime(body))
    if as_json:
        _print_json(result)
    else:
        from journeys.cli.views import print_status

        print_status(console, result)


@app.command()
def cancel(
    customer: Annotated[str, typer.Argument(help="customer id", show_default=False)],
    journey: Annotated[str | None, typer.Option("--journey", help="only this journey's run")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
) -> None:
    """End the customer's live runs with outcome cancelled."""
    from journeys.services import control

    async def body(client: Any, store: Any, settings: Settings) -> Any:
        return await control.cancel(client, store, customer, journey)

    results = _run(lambda: _runtime(body))
    if as_json:
        _print_json({"customer": customer, "runs": [r.model_dump() for r in results]})
    elif not results:
        console.print(f"{customer} has no live run" + (f" of {journey}" if journey else ""))
    else:
        for r in results:
            console.print(f"{r.journey} ({r.workflow_id}): {r.effect}", highlight=False)


@app.command()
def report(
    journey: Annotated[str, typer.Argument(help="journey id", show_default=False)],
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
) -> None:
    """Per step: how many arrived, are there now, left by each path; outcomes; messages; goal conversion."""
    from journeys.services.catalogue import find_journey
    from journeys.store import Store

    settings = Settings()
    store = Store.open(settings.store_url)
    try:
        result = store.journey_report(journey)
    finally:
        store.close()
    if not result.versions and not result.runs:
        find_journey(settings, journey)  # an unknown name is an error; a known journey with no runs reports zeros
    if as_json:
        _print_json(result.model_dump(mode="json"))
    else:
        from journeys.cli.views import print_report

        print_report(console, result)


@app.command()
def move(
    customer: Annotated[str, typer.Argument(help="customer id", show_default=False)],
    journey: Annotated[str, typer.Option("--journey", help="the journey of the run", show_default=False)],
    to: Annotated[str, typer.Option("--to", help="the step to put the run at", show_default=False)],
    reason: Annotated[str, typer.Option("--reason", help="why (kept in the audit trail)", show_default=False)],
    by: Annotated[str | None, typer.Option("--by", help="who (default: $USER)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
) -> None:
    """Move one live run to a step now; recorded with who, when and why."""
    from journeys.services import control

    async def body(client: Any, store: Any, settings: Settings) -> Any:
        return await control.move(client, store, customer, journey, to, reason, by)

    moved = _run(lambda: _runtime(body))
    if as_json:
        _print_json(moved.model_dump(mode="json"))
    else:
        console.print(f"{moved.workflow_id}: {moved.from_step} → {moved.to_step} (by {moved.by}: {moved.reason})")


def _mapping(pairs: list[str] | None) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for pair in pairs or []:
        old, sep, new = pair.partition("=")
        if not sep or not old.strip() or not new.strip():
            raise InputError(f"--map {pair!r}: expected OLD=NEW step ids")
        mapping[old.strip()] = new.strip()
    return mapping


@app.command()
def migrate(
    journey: Annotated[str, typer.Argument(help="journey id", show_default=False)],
    to_version: Annotated[
        int, typer.Option("--to-version", help="the version to move live runs onto", show_default=False)
    ],
    map_: Annotated[list[str] | None, typer.Option("--map", help="OLD=NEW step mapping (repeatable)")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="show what would move, change nothing")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the plan as JSON")] = False,
) -> None:
    """Move live runs of older versions onto version N; refuses while a step with waiting runs is unmapped."""
    from journeys.services import control

    mapping = _mapping(map_)

    async def body(client: Any, store: Any, settings: Settings) -> Any:
        return await control.migrate(client, store, settings, journey, to_version, mapping, dry_run)

    plan = _run(lambda: _runtime(body))
    if as_json:
        _print_json(plan.model_dump(mode="json"))
    else:
        from journeys.cli.views import print_migration

        print_migration(console, errors, plan)
    if plan.unmapped or plan.failed:
        raise typer.Exit(1)


def _pause(journey: str, paused: bool) -> None:
    from journeys.services import control

    async def body(client: Any, store: Any, settings: Settings) -> Any:
        return await control.set_paused(client, store, settings, journey, paused)

    live = _run(lambda: _runtime(body))
    state = "paused: it enrols no one and sends nothing" if paused else "resumed: held sends go out now"
    console.print(f"{journey} {state} ({live} live run(s) keep taking events)")


@app.command()
def pause(journey: Annotated[str, typer.Argument(help="journey id", show_default=False)]) -> None:
    """Pause a journey: it enrols no one and sends nothing; its runs still take events."""
    _pause(journey, True)


@app.command()
def resume(journey: Annotated[str, typer.Argument(help="journey id", show_default=False)]) -> None:
    """Resume a paused journey: sends that fell due go out (within quiet hours and caps), or are skipped."""
    _pause(journey, False)


# --- entry point ----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; user mistakes become one line on stderr."""
    args = sys.argv[1:] if argv is None else argv
    command = typer.main.get_command(app)
    try:
        code = command.main(args=args or ["--help"], prog_name="journeys", standalone_mode=False)
    except DefinitionError as exc:
        for problem in exc.problems:
            errors.print(_one_line(str(problem)), markup=False, highlight=False, soft_wrap=True)
        sys.exit(1)
    except JourneysError as exc:
        errors.print(f"error: {_one_line(str(exc))}", markup=False, highlight=False, soft_wrap=True)
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
        message = _one_line(exc.format_message())
        errors.print(f"error: {message} (see --help)", markup=False, highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except Exception as exc:  # a bug: still one line, with the traceback when JOURNEYS_DEBUG is set
        if os.environ.get("JOURNEYS_DEBUG"):
            raise
        message = _one_line(f"{type(exc).__name__}: {exc}")
        line = f"error: internal error ({message}); JOURNEYS_DEBUG=1 shows the traceback"
        errors.print(line, markup=False, highlight=False, soft_wrap=True)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
