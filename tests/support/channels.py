"""Channels for tests: the provider boundary, recorded, and a hook into the window just before it.

`RecordingChannel` is a provider that keeps every message handed to it (each call is a message that went out).
`before_reserving` changes the store from inside a send activity, after the activity read the customer and
before it reserves the message: the last moment a run's decision can be overtaken.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from journeys.channels.base import Delivery
from journeys.engine.messages import Rendered
from journeys.store import Store


class RecordingChannel:
    """The provider: every call is a message that went out."""

    provider = "recording"

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []  # (idempotency key, body)

    async def send(self, message: Rendered, key: str) -> Delivery:
        self.sent.append((key, message.body))
        return Delivery(provider=self.provider, provider_id=f"p-{len(self.sent)}")


@contextmanager
def before_reserving(store: Store, change: Callable[[], object]) -> Iterator[list[object]]:
    """While inside, the first send activity that reads the customer from `store` calls `change()` right after
    (in the activity's thread); yields the list that receives what `change` returned."""
    read = store.customer_and_row
    done: list[object] = []

    def read_then_change(customer_id: str):  # type: ignore[no-untyped-def]
        found = read(customer_id)
        if not done:
            done.append(change())
        return found

    store.customer_and_row = read_then_change  # type: ignore[method-assign]
    try:
        yield done
    finally:
        del store.customer_and_row  # the class's method again
