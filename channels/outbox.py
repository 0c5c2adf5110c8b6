"""The outbox: the channel of a machine with no provider configured.

The message row in the store already holds exactly what would have been sent (recipient, subject, text,
HTML, payload), so delivering to the outbox is accepting it: nothing leaves the machine, and
`journeys status` shows it.
"""

from __future__ import annotations

from journeys.channels.base import Delivery
from journeys.engine.messages import Rendered


class Outbox:
    provider = "outbox"

    async def send(self, message: Rendered, key: str) -> Delivery:
        return Delivery(provider=self.provider, provider_id=key)
