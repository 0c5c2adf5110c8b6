"""Message channels: email, SMS, voice, webhook and the outbox, behind one small protocol (`channels.base`)."""

from __future__ import annotations

from channels.base import Channel
from channels.outbox import Outbox
from journeys.settings import Settings


def channels_for(settings: Settings) -> dict[str, Channel]:
    """The channel that delivers each kind of message; the outbox where no provider is configured."""
    outbox = Outbox()
    return {"email": outbox, "sms": outbox, "voice": outbox, "webhook": outbox}
