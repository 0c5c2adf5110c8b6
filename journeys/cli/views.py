"""Rich output for people (tables, timelines); `--json` output bypasses this module."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone
from typing import Any

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from journeys.format.customers import Customer
from journeys.format.models import Journey
from journeys.simulate.inprocess import SimCustomer, Simulation

_OUTCOME_STYLE = {
    "completed": "green",
    "exited": "cyan",
    "running": "yellow",
    "skipped": "dim",
    "holdout": "magenta",
    "cancelled": "red",
    "failed": "bold red",
}
_SEND_STYLE = {"delivered": "green", "sent": "green", "failed": "bold red", "skipped": "dim", "sending": "yellow"}


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


def print_simulations(
    console: Console, simulations: list[Simulation], customers: list[Customer], journeys: list[Journey]
) -> None:
    """Journeys simulated together: each journey's simulation in turn, under a heading of its own."""
    for number, (simulation, journey) in enumerate(zip(simulations, journeys, strict=True), 1):
        if number > 1:
            console.print()
        heading = f"journey {number} of {len(journeys)}: {journey.id} v{journey.version} — {journey.name}"
        console.rule(Text(heading, style="bold"), align="left")
        console.print()
        print_simulation(console, simulation, customers, journey)


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


def _when(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.astimezone().strftime("%Y-%m-%d %H:%M %Z")


def print_enrolments(console: Console, journey: Journey, results: list[Any]) -> None:
    table = Table(title=f"{journey.id} v{journey.version}: enrolment", title_justify="left", show_edge=False)
    for column in ("customer", "status", "run / reason"):
        table.add_column(column)
    style = {"started": "green", "already": "yellow", "skipped": "dim"}
    for r in results:
        table.add_row(r.customer, Text(r.status, style=style[r.status]), r.workflow_id or r.reason or "")
    console.print(table)
    counts = Counter(r.status for r in results)
    console.print(", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "no customers")


def print_signal(console: Console, result: Any) -> None:
    if result.duplicate:
        console.print(f"event {result.event_id} was already recorded: nothing to do (duplicate)", highlight=False)
        return
    console.print(f"recorded {result.event} for {result.customer} (id {result.event_id})", highlight=False)
    if not result.runs:
        console.print("no live run took it; no journey is triggered by it")
    for run in result.runs:
        reason = f" ({run.reason})" if run.reason else ""
        console.print(f"  {run.journey}: {run.effect}{reason}  [dim]{run.workflow_id}[/]", highlight=False)


def print_status(console: Console, status: dict[str, Any], *, text: bool = False) -> None:
    """The customer's whole story; `text` adds each message's rendered subject and text."""
    c = status["customer"]
    if not status.get("live", True):
        console.print(
            "[bold yellow]Temporal does not answer: what follows is from the store alone, each run as last recorded[/]",
            highlight=False,
        )
    console.print(f"[bold]{c['id']}[/] {c.get('name') or ''} · {c.get('email') or '-'} · {c.get('phone') or '-'}")
    tags = ", ".join(c.get("tags") or []) or "-"
    console.print(f"locale {c.get('locale') or '-'} · zone {c.get('timezone') or '-'} · tags {tags}")
    consent = status.get("consent") or {}
    if consent:
        console.print(
            "consent: " + ", ".join(f"{ch} {'allowed' if ok else 'denied'}" for ch, ok in consent.items()),
            highlight=False,
        )
    if c.get("documents"):
        console.print("documents: " + ", ".join(sorted(c["documents"])))
    _print_events(console, status.get("events", []))
    if not status["runs"]:
        console.print("no runs")
    for run in status["runs"]:
        _print_run(console, run, text)
    if status.get("audit"):
        console.print("audit of the customer:")
    for entry in status.get("audit", []):
        counts = ", ".join(f"{k} {v}" for k, v in entry["details"].items())
        line = f"  {_when(entry['at'])}: {entry['action']} by {entry['by']}: {entry['reason'] or '-'}"
        console.print(line + (f" ({counts})" if counts else ""), highlight=False, markup=False)


def _print_events(console: Console, events: list[dict[str, Any]]) -> None:
    """The customer's timeline of events, oldest first, each with the door it came in by."""
    if not events:
        console.print("no events")
        return
    table = Table(title="events", title_justify="left", show_edge=False, box=None, padding=(0, 2))
    for column in ("at", "event", "source", "data"):
        table.add_column(column)
    for e in events:
        data = ", ".join(f"{k}={v}" for k, v in (e["data"] or {}).items())
        table.add_row(_when(e["at"]), Text(e["name"]), e["source"] or "-", Text(_short(data, 50)))
    console.print(table)


def _print_run(console: Console, run: dict[str, Any], text: bool) -> None:
    """One run: its heading, where it is and what it waits for, then its steps, messages and audit trail in time
    order."""
    outcome = run["outcome"]
    detail = run.get("exit_event") or run.get("end_label") or ""
    head = Text.assemble(
        (f"{run['journey']} v{run['version']}", "bold"),
        " — ",
        (outcome, _OUTCOME_STYLE.get(outcome, "")),
        f": {detail}" if detail else "",
        (f"  {run['workflow_id']}", "dim"),
    )
    console.print(head)
    if outcome == "running":
        waiting = ", ".join(run["waiting_for"]) or "time"
        until = f" until {_when(run['until'])}" if run["until"] else ""
        recorded = " [dim](last recorded)[/]" if run.get("state_from") == "store" else ""
        console.print(f"  at step [bold]{run['current_step']}[/], waiting for {waiting}{until}{recorded}")
    steps = run.get("steps", [])
    rows: list[tuple[Any, float, str, Text]] = []  # at, order among equal times, step, what
    for i, s in enumerate(steps):
        rows.append((s["at"], i, s["step"], Text("arrived", style="dim")))
    for m in run["messages"]:
        what = Text.assemble(
            (m["channel"], "bold"), f" → {m['to'] or '-'} ", (m["status"], _SEND_STYLE.get(m["status"], ""))
        )
        if m.get("error"):
            what.append(f" ({m['error']})")
        if text:
            for part in (m.get("subject"), m.get("body")):
                if part:
                    what.append("\n" + part.strip())
        elif m.get("subject") or m.get("body"):
            what.append(": " + _short(m.get("subject") or m.get("body"), 50))
        arrival = max(
            (i for i, s in enumerate(steps) if s["step"] == m["step"] and _instant(s["at"]) <= _instant(m["at"])),
            default=-1,
        )
        rows.append((m["at"], arrival + 0.5, m["step"], what))  # right after the arrival at its step
    for a in run.get("audit", []):
        rows.append((a["at"], len(steps), "", Text(_audit_line(a))))
    if rows:
        table = Table(show_edge=False, box=None, padding=(0, 2))
        for column in ("at", "step", "what"):
            table.add_column(column)
        for at, _, step, what in sorted(rows, key=lambda r: (_instant(r[0]), r[1])):
            table.add_row(_when(at), step, what)
        console.print(table)


def _audit_line(entry: dict[str, Any]) -> str:
    """A hand-made change to a run, in words: what, by whom, why."""
    if entry["action"] == "move":
        what = f"moved {entry['from_step']} → {entry['to_step']}"
    elif entry["action"] == "migrate":
        what = f"migrated v{entry['from_version']} → v{entry['to_version']} ({entry['from_step']} → {entry['to_step']})"
    else:
        what = "cancelled" if entry["action"] == "cancel" else entry["action"]
    return f"{what} by {entry['by']}: {entry['reason'] or '-'}"


def _instant(value: Any) -> datetime:
    """A time from the service (a datetime) or from JSON (ISO text); none sorts first."""
    if value is None:
        return datetime.min.replace(tzinfo=timezone.utc)
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def print_erasure(console: Console, erasure: Any) -> None:
    """What `journeys customers forget` removed, in counts."""
    console.print(f"[bold]{erasure.customer}[/] erased by {erasure.by}: {erasure.reason}", highlight=False)
    for run in erasure.runs:
        what = f"{run.histories} history deleted" if run.histories == 1 else f"{run.histories} histories deleted"
        console.print(f"  {run.journey} ({run.workflow_id}): {run.effect}, {what}", highlight=False, markup=False)
    table = Table(title="removed", title_justify="left", show_edge=False)
    table.add_column("what")
    table.add_column("count", justify="right")
    for what, count in erasure.removed.items():
        table.add_row(what.replace("_", " "), str(count))
    console.print(table)


def print_import(console: Console, errors: Console, report: Any) -> None:
    for problem in report.problems:
        errors.print(problem, markup=False, highlight=False, soft_wrap=True)
    for conflict in report.conflicts:
        errors.print(f"warning: {conflict}", style="yellow", markup=False, highlight=False, soft_wrap=True)
    console.print(
        f"{report.imported} imported ({report.created} new, {report.updated} updated, {report.unchanged} unchanged), "
        f"{report.rejected} rejected, {len(report.conflicts)} conflict(s)",
        highlight=False,
    )


def print_events_import(console: Console, errors: Console, report: Any) -> None:
    for problem in report.problems:
        errors.print(problem, markup=False, highlight=False, soft_wrap=True)
    effects = ", ".join(f"{n} {effect}" for effect, n in report.effects.items() if n) or "no run touched"
    console.print(
        f"{report.lines} line(s): {report.recorded} recorded, {report.duplicates} duplicate(s), "
        f"{report.rejected} rejected"
        + (f", {report.undelivered} not delivered" if report.undelivered else "")
        + (f", {report.not_taken} not taken" if report.not_taken else "")
        + f"; runs: {effects}",
        highlight=False,
    )


def print_report(console: Console, report: Any) -> None:
    versions = ", ".join(f"v{v}" for v in report.versions) or "no version enrolled yet"
    console.print(f"[bold]{report.journey}[/] ({versions}): {report.runs} run(s), {report.live} live")
    steps = Table(title="steps", title_justify="left", show_edge=False)
    for column in ("step", "arrived", "now", "left to"):
        steps.add_column(column, justify="right" if column in ("arrived", "now") else "left")
    for step in report.steps:
        left = ", ".join(f"{target} {n}" for target, n in sorted(step.left.items(), key=lambda kv: -kv[1]))
        steps.add_row(step.step, str(step.arrived), str(step.now), left)
    console.print(steps)
    outcomes = Table(title="outcomes", title_justify="left", show_edge=False)
    for column in ("outcome", "label", "runs"):
        outcomes.add_column(column)
    for o in report.outcomes:
        outcomes.add_row(Text(o.outcome, style=_OUTCOME_STYLE.get(o.outcome, "")), o.end_label or "", str(o.count))
    console.print(outcomes)
    messages = Table(title="messages", title_justify="left", show_edge=False)
    for column in ("channel", "status", "count"):
        messages.add_column(column)
    for m in report.messages:
        messages.add_row(m.channel, m.status, str(m.count))
    console.print(messages)
    for goal in report.goals:
        console.print(f"goal {goal.exit_event}: {goal.runs}/{goal.total} runs ({goal.rate:.0%})")
    _print_conversion(console, report.conversion)
    if report.answers:
        answers = Table(title="answers to voice questions", title_justify="left", show_edge=False)
        for column in ("question", "answers", "mean", "by answer"):
            answers.add_column(column, justify="right" if column in ("answers", "mean") else "left")
        for event, found in report.answers.items():
            mean = "" if found.mean is None else f"{found.mean:.2f}"
            by_answer = ", ".join(f"{answer}: {n}" for answer, n in found.by_answer.items())
            answers.add_row(event, str(found.count), mean, by_answer)
        console.print(answers)
    if report.days is not None:
        days = Table(title="by day (UTC)", title_justify="left", show_edge=False)
        for column in ("day", "enrolled", "messages", "converted"):
            days.add_column(column, justify="left" if column == "day" else "right")
        for day in report.days:
            days.add_row(day.day, str(day.enrolled), str(day.messages), str(day.converted))
        console.print(days)


def _print_conversion(console: Console, conversion: Any) -> None:
    goals = ", ".join(conversion.goals) or "none (no exit_on)"
    table = Table(title=f"conversion: a goal within {conversion.window}", title_justify="left", show_edge=False)
    for column in ("cohort", "enrolled", "converted", "rate", "lift vs holdout"):
        table.add_column(column, justify="left" if column == "cohort" else "right")
    for name, cohort in conversion.cohorts.items():
        lift = "" if cohort.lift_vs_holdout is None else f"{cohort.lift_vs_holdout:+.0%}"
        table.add_row(name, str(cohort.enrolled), str(cohort.converted), f"{cohort.rate:.0%}", lift)
    console.print(table)
    console.print(f"goals: {goals}" + (f"; {conversion.unsplit} run(s) not split yet" if conversion.unsplit else ""))


def print_migration(console: Console, errors: Console, plan: Any) -> None:
    verb = "would move" if plan.dry_run else "moves"
    table = Table(
        title=f"{plan.journey}: live runs onto version {plan.to_version}", title_justify="left", show_edge=False
    )
    for column in ("from version", "step", "runs", "to step"):
        table.add_column(column)
    for move in plan.moves:
        table.add_row(f"v{move['from_version']}", move["from_step"], str(move["runs"]), move["to_step"])
    for gap in plan.unmapped:
        table.add_row(f"v{gap['from_version']}", gap["step"], str(gap["runs"]), Text("unmapped", style="bold red"))
    console.print(table)
    for gap in plan.unmapped:
        errors.print(
            f"error: step {gap['step']!r} (v{gap['from_version']}, {gap['runs']} run(s)) has no step in version "
            f"{plan.to_version}: add --map {gap['step']}=NEW_STEP",
            markup=False,
            highlight=False,
        )
    if plan.unmapped:
        errors.print("nothing was migrated", markup=False, highlight=False)
    elif plan.dry_run:
        console.print(f"dry run: {verb} {sum(m['runs'] for m in plan.moves)} run(s); nothing changed")
    else:
        console.print(f"migrated {plan.migrated} run(s)")
    for failure in plan.failed:
        errors.print(f"error: {failure['workflow_id']}: {failure['reason']}", markup=False, highlight=False)
