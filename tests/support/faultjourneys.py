"""What the fault tests run and how they judge it: journeys that send webhooks to the loopback receiver
(`faultkit.ReceiverServer`), the runs' outcomes as the store has them, and the one documented window in which
a message may legitimately reach the provider twice."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from journeys.store import Store
from journeys.workflows.journey import SEND_RETRY, SEND_TIMEOUT
from tests.support.faultkit import Journeys, Post
from tests.support.polling import until

# A send that was running on a SIGKILLed worker is retried only when its start-to-close timeout runs out (the
# send activity has no heartbeat): that, plus the first retry's backoff, bounds the recovery.
RECOVERY_S = SEND_TIMEOUT.total_seconds() + SEND_RETRY.initial_interval.total_seconds() + 45


def webhook_step(step_id: str, url: str) -> str:
    """One step that posts `{customer, step}` to `url`."""
    return (
        f"  - {{id: {step_id}, send: webhook, message: {{url: '{url}', "
        "body: {customer: '{{ customer.id }}', step: '{{ journey.step }}'}}}\n"
    )


def await_go_journey(url: str, exit_on: str | None = None) -> str:
    """`await-go`: wait (up to an hour) for `go`, then one webhook (`notify`); with `exit_on`, that event ends
    the run at once, `exited`, and nothing is sent."""
    return (
        "id: await-go\nname: One webhook once the customer says go\n"
        + (f"exit_on: [{exit_on}]\n" if exit_on else "")
        + "steps:\n  - {id: hold, wait_for: go, timeout: 1h, on_timeout: timed_out}\n"
        + webhook_step("notify", url)
        + "  - {id: done, end: done}\n  - {id: timed_out, end: timed_out}\n"
    )


def outcomes(store: Store, customers: list[str]) -> dict[str, list[tuple[str, str | None]]]:
    """Per customer, (outcome, end label) of each run."""
    return {c: [(r.outcome, r.end_label) for r in store.runs_of(c)] for c in customers}


def by_message(posts: list[Post]) -> dict[tuple[str, str], list[Post]]:
    """What the receiver got, per (customer, step)."""
    grouped: dict[tuple[str, str], list[Post]] = defaultdict(list)
    for post in posts:
        grouped[(post.customer, post.step)].append(post)
    return grouped


def wait_all_ended(store: Store, customers: list[str], timeout: float, journeys: Journeys) -> None:
    """Until every customer's runs have ended; else fail naming the runs still going, with the workers' logs."""

    def ended() -> bool:
        return all(runs and all(o != "running" for o, _ in runs) for runs in outcomes(store, customers).values())

    try:
        until(ended, timeout, "every run to end", every=0.5)
    except AssertionError:
        running = {c: runs for c, runs in outcomes(store, customers).items() if not runs or runs[0][0] == "running"}
        raise AssertionError(f"runs still not ended: {running}\n{journeys.worker_log()}") from None


# A post the worker made just before it was killed may be read by the test's receiver a moment after the kill
# (seen: 20 ms on a loaded machine); a retry by another worker comes a send timeout (a minute) later.
RECEIVER_LAG_S = 0.5


@dataclass(frozen=True)
class Kill:
    """When a worker was SIGKILLed, and from when another worker could have retried its sends."""

    at: float
    retry_from: float


def outside_window(
    received: dict[tuple[str, str], list[Post]], keys: dict[tuple[str, str], str], kill: Kill
) -> dict[tuple[str, str], list[tuple[str, float]]]:
    """The messages received more than once outside the window the README documents (the provider accepted a
    message and the worker died before the message row was completed): inside it, a message arrives exactly
    twice with its row's idempotency key, first before the kill (as the receiver saw it: `RECEIVER_LAG_S`), again
    once another worker could retry it."""
    found = {}
    for message, group in received.items():
        if len(group) == 1:
            continue
        same_key = {p.key for p in group} == {keys[message]}
        first_before_kill = group[0].at <= kill.at + RECEIVER_LAG_S
        repeats_after = all(p.at >= kill.retry_from for p in group[1:])
        if not (same_key and first_before_kill and repeats_after and len(group) == 2):
            found[message] = [(p.key, round(p.at - kill.at, 2)) for p in group]
    return found
