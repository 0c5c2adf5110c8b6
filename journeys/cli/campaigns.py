"""The commands of whoever runs campaigns: customers import, events import, enroll, report, migrate, pause and
resume.

Plain functions: `journeys.cli.app` registers them as commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from journeys.cli.shared import console, errors, print_json, run, runtime
from journeys.errors import InputError
from journeys.settings import Settings


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
        print_json(report.model_dump(mode="json"))
    else:
        from journeys.cli.views import print_import

        print_import(console, errors, report)
    raise typer.Exit(1 if report.rejected else 0)


def events_import(
    file: Annotated[Path, typer.Argument(help="events: CSV or JSON Lines (.jsonl)", show_default=False)],
    journey: Annotated[str | None, typer.Option("--journey", help="deliver only to this journey's runs")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
) -> None:
    """Record many events, each with the effect of `journeys signal`: bad lines reported with their numbers,
    good lines kept; the same ids again change nothing."""
    from journeys.services.events_import import import_events, read_events

    read_events(file)  # a file that cannot be read as a whole is told before anything is asked of Temporal

    async def body(client: Any, store: Any, settings: Settings) -> Any:
        return await import_events(client, store, settings, file, journey, console=None if as_json else console)

    result = run(lambda: runtime(body))
    if as_json:
        print_json(result.model_dump(mode="json"))
    else:
        from journeys.cli.views import print_events_import

        print_events_import(console, errors, result)
    raise typer.Exit(0 if result.complete else 1)


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
    published = catalogue.publish(catalogue.find_journey(Settings(), journey))
    enrolment.refuse_by_hand(published.journey)  # before anything is asked of Temporal or the store

    async def body(client: Any, store: Any, settings: Settings) -> Any:
        ids = store.customer_ids() if all_customers else list(customer or [])
        return published.journey, await enrolment.enroll(client, store, settings, published, ids)

    found, results = run(lambda: runtime(body))
    if as_json:
        print_json({"journey": found.id, "version": found.version, "enrolments": [r.model_dump() for r in results]})
    else:
        from journeys.cli.views import print_enrolments

        print_enrolments(console, found, results)


def report(
    journey: Annotated[str, typer.Argument(help="journey id", show_default=False)],
    by: Annotated[
        str | None, typer.Option("--by", help="day: enrolments, messages and conversions per UTC day", metavar="day")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
) -> None:
    """Per step: arrived, there now, left by each path; outcomes; messages; conversion per cohort; answers."""
    from journeys.services.reporting import journey_report
    from journeys.store import Store

    if by not in (None, "day"):
        raise InputError(f"--by {by!r}: only `day` is known")
    settings = Settings()
    store = Store.open(settings.store_url)
    try:
        result = journey_report(settings, store, journey, by_day=by == "day")
    finally:
        store.close()
    if as_json:
        print_json(result.model_dump(mode="json", exclude={"days"} if result.days is None else set()))
    else:
        from journeys.cli.views import print_report

        print_report(console, result)


def _mapping(pairs: list[str] | None) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for pair in pairs or []:
        old, sep, new = pair.partition("=")
        if not sep or not old.strip() or not new.strip():
            raise InputError(f"--map {pair!r}: expected OLD=NEW step ids")
        mapping[old.strip()] = new.strip()
    return mapping


def migrate(
    journey: Annotated[str, typer.Argument(help="journey id", show_default=False)],
    to_version: Annotated[
        int, typer.Option("--to-version", help="the version to move live runs onto", show_default=False)
    ],
    map_: Annotated[list[str] | None, typer.Option("--map", help="OLD=NEW step mapping (repeatable)")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="show what would move, change nothing")] = False,
    by: Annotated[str | None, typer.Option("--by", help="who (default: $USER; kept in each run's audit trail)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the plan as JSON")] = False,
) -> None:
    """Move live runs of older versions onto version N; refuses while a step with waiting runs is unmapped.
    Each run moved keeps who, when, from and to in its audit trail."""
    from journeys.services import control

    mapping = _mapping(map_)

    async def body(client: Any, store: Any, settings: Settings) -> Any:
        return await control.migrate(client, store, settings, journey, to_version, mapping, dry_run, by)

    plan = run(lambda: runtime(body))
    if as_json:
        print_json(plan.model_dump(mode="json"))
    else:
        from journeys.cli.views import print_migration

        print_migration(console, errors, plan)
    if plan.unmapped or plan.failed:
        raise typer.Exit(1)


def _pause(journey: str, paused: bool) -> None:
    from journeys.services import control

    async def body(client: Any, store: Any, settings: Settings) -> Any:
        return await control.set_paused(client, store, settings, journey, paused)

    live = run(lambda: runtime(body))
    state = "paused: it enrols no one and sends nothing" if paused else "resumed: held sends go out now"
    console.print(f"{journey} {state} ({live} live run(s) keep taking events)")


def pause(journey: Annotated[str, typer.Argument(help="journey id", show_default=False)]) -> None:
    """Pause a journey: it enrols no one and sends nothing; its runs still take events."""
    _pause(journey, True)


def resume(journey: Annotated[str, typer.Argument(help="journey id", show_default=False)]) -> None:
    """Resume a paused journey: sends that fell due go out (within quiet hours and caps), or are skipped."""
    _pause(journey, False)
