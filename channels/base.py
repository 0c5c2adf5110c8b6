"""The one interface every channel implements, and how channels fail.

JourneysError
└── ChannelError            a send did not go through
    ├── PermanentFailure    never retried (bad address, unsubscribed): recorded on the message
    └── TransientFailure    retried with backoff (timeouts, 4xx SMTP, 429/5xx); `unsent` when the provider
                            certainly did not take the message (it refused it, or was never reached): the
                            run then decides the send again (quiet hours, caps) before trying once more
"""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel

from journeys.engine.messages import Rendered
from journeys.errors import JourneysError


class ChannelError(JourneysError):
    """A send did not go through."""


class PermanentFailure(ChannelError):
    """Retrying cannot help; `opt_out` is set when the provider says the recipient unsubscribed."""

    def __init__(self, message: str, *, opt_out: bool = False) -> None:
        super().__init__(message)
        self.opt_out = opt_out


class TransientFailure(ChannelError):
    """Worth retrying later.

    `unsent`: the provider certainly did not take the message (connection refused, a 4xx SMTP reply, an HTTP
    429/503 answer), so nothing went out under this idempotency key and the send may be decided afresh.
    Left False when it might have (a timeout or a dropped connection after the message was handed over):
    such a send is only ever retried under the same key."""

    def __init__(self, message: str, *, unsent: bool = False) -> None:
        super().__init__(message)
        self.unsent = unsent


class Delivery(BaseModel):
    """What the provider said when it accepted a message."""

    provider: str
    provider_id: str | None = None


class Channel(Protocol):
    """Sends one rendered message; `key` is the send's idempotency key (stable across retries)."""

    provider: str

    async def send(self, message: Rendered, key: str) -> Delivery: ...
