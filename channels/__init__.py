"""Message channels: email, SMS, voice, webhook and the outbox, behind one small protocol (`channels.base`)."""

from __future__ import annotations

from channels.base import Channel
from channels.email import SmtpChannel
from channels.outbox import Outbox
from channels.twilio import TwilioChannel
from channels.webhook import WebhookChannel
from journeys.settings import Settings


def channels_for(settings: Settings) -> dict[str, Channel]:
    """The channel that delivers each kind of message; the outbox where no provider is configured."""
    outbox = Outbox()
    email = SmtpChannel.from_settings(settings)
    twilio = TwilioChannel.from_settings(settings)
    return {
        "email": email or outbox,
        "sms": twilio or outbox,
        "voice": twilio or outbox,
        "webhook": WebhookChannel.from_settings(settings) or outbox,
    }


def outbox_only() -> dict[str, Channel]:
    """Every channel on the outbox: for simulations and tests, which must never reach a provider."""
    return dict.fromkeys(("email", "sms", "voice", "webhook"), Outbox())
