"""The commands of customer support: signal, status, cancel, move and customers forget, one customer at a time.

Plain functions: `journeys.cli.app` registers them as commands."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from journeys.cli.shared import console, print_json, run, runtime
from journeys.errors import InputError
from journeys.settings import Settings


def _data(pairs: list[str] | None) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--data {pair!r}: expected KEY=VALUE")
        data[key.strip()] = value
    return data


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

    result = run(lambda: runtime(body))
    if as_json:
        print_json(result.model_dump(mode="json"))
    else:
        from journeys.cli.views import print_signal

        print_signal(console, result)


def consent(
    customer: Annotated[str, typer.Argument(help="customer id", show_default=False)],
    channel: Annotated[str, typer.Argument(help="email, sms, voice, webhook, or all", show_default=False)],
    allow: Annotated[bool, typer.Option("--allow", help="the customer agrees to hear from us there")] = False,
    deny: Annotated[bool, typer.Option("--deny", help="no journey sends there any more")] = False,
    reason: Annotated[str, typer.Option("--reason", help="why (kept in the audit trail)", show_default=False)] = "",
    by: Annotated[str | None, typer.Option("--by", help="who (default: $USER)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
) -> None:
    """Set a customer's consent for one channel (or all): no journey sends on a denied channel. Recorded in the
    audit trail, and as an opted_out / opted_in event delivered to the customer's live runs."""
    from journeys.services import consent as consents
    from journeys.store import Store

    if allow == deny:
        raise InputError("say --allow or --deny (one of them)")
    if not reason.strip():
        raise InputError("--reason is required: say why (it is kept in the audit trail)")
    store = Store.open(Settings().store_url)
    try:  # a mistake is told before anything is asked of Temporal
        consents.check(store, customer, channel, reason)
    finally:
        store.close()

    async def body(client: Any, store: Any, settings: Settings) -> Any:
        return await consents.consent(client, store, settings, customer, channel, allow, reason, by)

    result = run(lambda: runtime(body))
    if as_json:
        print_json(result.model_dump(mode="json"))
        return
    word = "allowed" if allow else "denied"
    console.print(f"{customer}: {channel} {word} (by {result.by}: {result.reason})", highlight=False)
    for r in result.runs:
        console.print(f"  {r.journey} ({r.workflow_id}): {r.effect}", highlight=False)


def status(
    customer: Annotated[str, typer.Argument(help="customer id", show_default=False)],
    text: Annotated[bool, typer.Option("--text", help="show each message's rendered subject and text")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
) -> None:
    """The customer's whole story: profile, consent, documents, the timeline of events, each run (steps, current
    step, what it waits for until when, messages, outcome) and the audit trail. When Temporal does not answer,
    what the store last recorded, saying so."""
    from journeys.services.status import status as customer_status

    async def body(client: Any, store: Any, settings: Settings) -> Any:
        return await customer_status(client, store, customer)

    result = run(lambda: runtime(body, store_alone=True))
    if as_json:
        print_json(result)
    else:
        from journeys.cli.views import print_status

        print_status(console, result, text=text)


def cancel(
    customer: Annotated[str, typer.Argument(help="customer id", show_default=False)],
    reason: Annotated[str, typer.Option("--reason", help="why (kept in the audit trail)", show_default=False)],
    journey: Annotated[str | None, typer.Option("--journey", help="only this journey's run")] = None,
    by: Annotated[str | None, typer.Option("--by", help="who (default: $USER)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
) -> None:
    """End the customer's live runs with outcome cancelled; recorded with who, when and why."""
    from journeys.services import control

    async def body(client: Any, store: Any, settings: Settings) -> Any:
        return await control.cancel(client, store, customer, journey, reason, by)

    result = run(lambda: runtime(body))
    if as_json:
        print_json(result.model_dump(mode="json"))
    elif not result.runs:
        console.print(f"{customer} has no live run" + (f" of {journey}" if journey else ""), highlight=False)
    else:
        for r in result.runs:
            console.print(f"{r.journey} ({r.workflow_id}): {r.effect}", highlight=False)
        console.print(f"by {result.by}: {result.reason}", highlight=False, markup=False)


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

    moved = run(lambda: runtime(body))
    if as_json:
        print_json(moved.model_dump(mode="json"))
    else:
        console.print(f"{moved.workflow_id}: {moved.from_step} → {moved.to_step} (by {moved.by}: {moved.reason})")


def customers_forget(
    customer: Annotated[str, typer.Argument(help="customer id", show_default=False)],
    reason: Annotated[str, typer.Option("--reason", help="why (kept in the audit trail)", show_default=False)],
    by: Annotated[str | None, typer.Option("--by", help="who (default: $USER)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
) -> None:
    """Erase a customer: end their live runs, delete their workflow histories from Temporal, remove their
    personal data from the store; counts and an audit entry stay. Prints what was removed."""
    from journeys.services import erasure
    from journeys.store import Store

    store = Store.open(Settings().store_url)
    try:  # a mistake is told before anything is asked of Temporal
        erasure.check(store, customer, reason)
    finally:
        store.close()

    async def body(client: Any, store: Any, settings: Settings) -> Any:
        return await erasure.forget(client, store, customer, reason, by)

    result = run(lambda: runtime(body))
    if as_json:
        print_json(result.model_dump(mode="json"))
    else:
        from journeys.cli.views import print_erasure

        print_erasure(console, result)
