"""Rich output for people (tables, timelines); `--json` output bypasses this module."""

from __future__ import annotations

from datetime import datetime

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from journeys.definition import Journey
from journeys.interpreter import Customer
from journeys.simulate import SimCustomer, Simulation

_OUTCOME_STYLE = {
    "completed": "green",
    "exited": "cyan",
    "running": "yellow",
    "skipped": "dim",
    "holdout": "magenta",
    "cancelled": "red",
    "failed": "bold red",
}


def _short(text: str | None, width: int = 70) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def customer_timeline(result: SimCustomer, customer: Customer, journey: Journey, start: datetime) -> Table:
    """One customer's simulated steps and messages, in the customer's local time."""
    zone = customer.zone(journey.timezone) if customer.timezone else journey.timezone
    outcome = Text(result.outcome, style=_OUTCOME_STYLE.get(result.outcome, ""))
    detail = result.exit_event or result.end_label or result.current_step or result.skipped_reason or ""
    title = Text.assemble(f"{result.id}", (f" ({customer.name})" if customer.name else ""), " — ", outcome)
    if detail:
        title.append(f": {detail}")
    table = Table(title=title, title_justify="left", show_edge=False, expand=False)
    table.add_column(f"time ({zone.key})", no_wrap=True)
    table.add_column("step", no_wrap=True)
    table.add_column("what")
    rows: list[tuple[int, float, str, str]] = [
        (step.offset_s, i, step.step, "[dim]arrived[/]") for i, step in enumerate(result.steps)
    ]
    for message in result.messages:
        what = f"[bold]{message.channel}[/] → {message.to}: " + _short(message.subject or message.body)
        if message.sms:
            what += f" [dim]({message.sms['encoding']}, {message.sms['segments']} segment(s))[/]"
        arrival = max(
            (i for i, s in enumerate(result.steps) if s.step == message.step and s.offset_s <= message.offset_s),
            default=-1,
        )
        rows.append((message.offset_s, arrival + 0.5, message.step, what))
    for offset, _, step, what in sorted(rows, key=lambda r: (r[0], r[1])):
        local = datetime.fromtimestamp(start.timestamp() + offset, zone)
        table.add_row(local.strftime("%Y-%m-%d %H:%M"), step, what)
    return table


def print_simulation(console: Console, simulation: Simulation, customers: list[Customer], journey: Journey) -> None:
    start = datetime.fromisoformat(simulation.started_at)
    by_id = {c.id: c for c in customers}
    for result in simulation.customers:
        console.print(customer_timeline(result, by_id[result.id], journey, start))
        console.print()
    console.print(totals_table(simulation))


def totals_table(simulation: Simulation) -> Group:
    head = Text(
        f"{simulation.journey} v{simulation.version}: {len(simulation.customers)} customer(s), "
        f"{simulation.days} day(s) from {simulation.started_at}",
        style="bold",
    )
    table = Table(show_edge=False)
    table.add_column("totals")
    table.add_column("count", justify="right")
    table.add_row("messages", str(simulation.totals.messages))
    for channel, count in sorted(simulation.totals.by_channel.items()):
        table.add_row(f"  {channel}", str(count))
    for outcome, count in sorted(simulation.totals.outcomes.items()):
        table.add_row(Text(f"outcome {outcome}", style=_OUTCOME_STYLE.get(outcome, "")), str(count))
    return Group(head, table)
