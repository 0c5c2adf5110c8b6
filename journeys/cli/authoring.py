"""The commands of whoever writes journeys: validate, schema, render (the map) and simulate.

Plain functions: `journeys.cli.app` registers them as commands."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from journeys.cli.shared import console, errors, one_line, print_json, run
from journeys.errors import InputError
from journeys.templates import TemplateFiles

if TYPE_CHECKING:
    from journeys.errors import Problem
    from journeys.format.models import Journey


def _templates_for(path: Path) -> TemplateFiles:
    """Templates sit in `templates/` beside the journey file (the definitions folder)."""
    return TemplateFiles(path.parent / "templates")


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
        print_json(
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
                errors.print(one_line(str(problem)), style=style, markup=False, highlight=False, soft_wrap=True)
            if not bad and journey is not None:
                console.print(
                    f"[green]✓[/] {path}: {journey.id} v{journey.version}, {len(journey.steps)} steps", highlight=False
                )
    raise typer.Exit(1 if failed else 0)


def schema() -> None:
    """Print the JSON Schema of the journey format, for editor completion."""
    from journeys.format.schema import journey_schema

    print_json(journey_schema())


class MapFormat(str, Enum):
    mermaid = "mermaid"
    dot = "dot"
    svg = "svg"
    png = "png"


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


def _journey_files(paths: list[Path]) -> list[Path]:
    """The journey files named: a folder stands for its `*.yaml` files, sorted by name."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.glob("*.yaml") if p.is_file())
            if not found:
                raise InputError(f"{path}: a folder with no journey definitions (*.yaml) in it")
            files += found
        else:
            files.append(path)
    return files


def _load_journeys(files: list[Path]) -> list[Journey]:
    """Every journey, or `DefinitionError` with the problems of every file; a journey given twice is refused."""
    from journeys.errors import DefinitionError
    from journeys.format.loader import load_journey

    journeys: list[Journey] = []
    problems: list[Problem] = []
    given: dict[str, Path] = {}
    for path in files:
        journey, found = load_journey(path, _templates_for(path))
        if journey is None or any(p.severity == "error" for p in found):
            problems += found
            continue
        if journey.id in given:
            raise InputError(f"{path}: journey {journey.id!r} is given twice (also by {given[journey.id]})")
        given[journey.id] = path
        journeys.append(journey)
    if problems:
        raise DefinitionError(problems)
    return journeys


def simulate(
    files: Annotated[
        list[Path],
        typer.Argument(
            help="journey definition files, or folders of them; several are simulated together",
            metavar="FILE",
            show_default=False,
        ),
    ],
    customers: Annotated[Path, typer.Option("--customers", help="customers: CSV, YAML or JSON", show_default=False)],
    events: Annotated[Path | None, typer.Option("--events", help="events: YAML list")] = None,
    days: Annotated[int, typer.Option("--days", min=0, max=3650, help="simulated days")] = 30,
    start: Annotated[str | None, typer.Option("--start", help="ISO 8601 date-time with offset (default: now)")] = None,
    engine: Annotated[Engine, typer.Option("--engine", help="local: in-process; temporal: test server")] = Engine.local,
    as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
) -> None:
    """Run the real journey code in simulated time; nothing is sent. Several journeys (or a folder of them)
    are simulated together on the same customers: caps, triggers and exits act between them as they do live."""
    from journeys.engine.messages import MessageSource
    from journeys.format.inputs import read_customers, read_events, simulation_start
    from journeys.simulate.inprocess import simulate_together

    paths = _journey_files(files)
    journeys = _load_journeys(paths)
    if engine is Engine.temporal and len(journeys) > 1:
        raise InputError(
            f"--engine temporal simulates one journey; {len(journeys)} journeys simulate together "
            "in-process only (--engine local)"
        )
    began = simulation_start(start)
    people = read_customers(customers)
    planned = read_events(events, began, {c.id for c in people}) if events else []
    if engine is Engine.temporal:
        from journeys.runtime.temporal import quiet_runtime
        from journeys.services.catalogue import publish
        from journeys.simulate.temporal import simulate_on_temporal

        quiet_runtime()  # the SDK's warnings would land on stdout, before the --json
        published = publish(paths[0])
        results = [run(lambda: simulate_on_temporal(published, people, planned, began, days))]
    else:
        sources = [MessageSource(_templates_for(path)) for path in paths]
        results = simulate_together(list(zip(journeys, sources, strict=True)), people, planned, began, days)
    if as_json:
        if len(results) == 1:
            print_json(results[0].model_dump(mode="json"))
        else:
            print_json({"journeys": [result.model_dump(mode="json") for result in results]})
        return
    from journeys.cli.views import print_simulation, print_simulations

    if len(results) == 1:
        print_simulation(console, results[0], people, journeys[0])
    else:
        print_simulations(console, results, people, journeys)
