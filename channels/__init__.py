"""Message channels: email, SMS, voice, webhook and the outbox, behind one small protocol (`channels.base`)."""

from __future__ import annotations

import time

from temporalio import activity

from journeys.channels.base import Channel, ChannelError, Delivery, PermanentFailure
from journeys.channels.email import SmtpChannel
from journeys.channels.outbox import Outbox
from journeys.channels.twilio import TwilioChannel
from journeys.channels.webhook import WebhookChannel
from journeys.engine.messages import Rendered
from journeys.runtime.logs import get_logger
from journeys.settings import Settings

log = get_logger("channels")


class Logged:
    """A channel whose every send is logged once: `send.sent` (INFO), `send.failed` (WARNING: permanent) or
    `send.retrying` (WARNING: transient, tried again later), with the send's key, the customer id, the
    channel, the provider, the attempt and the time the provider took; never the recipient or the message.
    Error texts are the channels' own, which blank addresses and numbers out (and the log formatter redacts
    again). An email's provider id is its Message-ID, derived from the key, so it is not logged."""

    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        self.provider = channel.provider

    async def send(self, message: Rendered, key: str) -> Delivery:
        fields = {
            "key": key,
            "customer": message.customer_id,
            "channel": message.channel,
            "provider": self.provider,
            "attempt": activity.info().attempt if activity.in_activity() else 1,
        }
        start = time.perf_counter()
        try:
            delivery = await self.channel.send(message, key)
        except ChannelError as exc:
            took = round((time.perf_counter() - start) * 1000, 1)
            if isinstance(exc, PermanentFailure):
                log.warning("send.failed", **fields, ms=took, error=str(exc), opt_out=exc.opt_out)
            else:
                unsent = getattr(exc, "unsent", False)  # True: certainly not taken, the run decides it again
                log.warning("send.retrying", **fields, ms=took, error=str(exc), unsent=unsent)
            raise
        provider_id = delivery.provider_id if delivery.provider_id and "@" not in delivery.provider_id else None
        took = round((time.perf_counter() - start) * 1000, 1)
        log.info("send.sent", **fields, ms=took, provider_id=provider_id)
        return delivery


def channels_for(settings: Settings) -> dict[str, Channel]:
    """The channel that delivers each kind of message (logged); the outbox where no provider is configured."""
    outbox = Logged(Outbox())
    email = SmtpChannel.from_settings(settings)
    twilio = TwilioChannel.from_settings(settings)
    logged_twilio = Logged(twilio) if twilio else outbox
    webhook = WebhookChannel.from_settings(settings)
    return {
        "email": Logged(email) if email else outbox,
        "sms": logged_twilio,
        "voice": logged_twilio,
        "webhook": Logged(webhook) if webhook else outbox,
    }


def outbox_only() -> dict[str, Channel]:
    """Every channel on the outbox: for simulations and tests, which must never reach a provider."""
    return dict.fromkeys(("email", "sms", "voice", "webhook"), Outbox())
