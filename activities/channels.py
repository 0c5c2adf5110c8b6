"""The send activity: render for the customer as the store has them now, reserve, deliver, record.

Exactly-once, as far as it can be: the message row is written (unique on the send's idempotency key)
before the provider is called and completed after, so a retried activity finds the row and does not
send again. The one remaining window: the provider accepted the message and the worker died before the
row was completed; the retry then finds a row still `sending` and sends once more (channels that can,
pass the key to the provider so it drops the duplicate: the email Message-ID is derived from it).

What the run decided on is checked again as the message is reserved, in the reservation's transaction under
the customer's lock, immediately before the provider is called (`SendGuard`): an `exit_on` event recorded
since the run began, a cancel, an opt-out of the channel recorded meanwhile stops the send, recorded
`skipped` with why, even when the run has not heard of it yet; a pause holds it (the run decides again once
resumed) or skips it (`on_pause: skip`). A send reserved before such a change goes out, retries included.

Quiet hours and caps hold when a message actually goes out, not only when the run decided to send it. The
activity hands the decision back to the run (`deferred`: the interpreter holds the step and decides it again,
so quiet hours, caps, consent, pauses and exits all apply afresh) when
  - a frequency cap filled between the run's decision and the reservation (another journey sent), or
  - the send waited in its channel's queue over `QUEUED_TOO_LONG` (a rate limit) before any attempt
    reserved it, or
  - the provider certainly did not take it (`TransientFailure.unsent`: refused, unreachable) on the attempt
    that wrote its row. The row is completed `retried` (not a cap's concern, not a failure), and the run
    waits out the backoff of `SEND_RETRY` (a durable timer) before deciding again under a new key. After
    `SEND_RETRY.maximum_attempts` such attempts at one step the send fails for good: the step's
    `on_failure` decides, as when retries run out.
A failure that may have reached the provider (a timeout, a dropped connection) is retried under the same
key by the activity's retry policy: a row left `sending` is never decided again under another key.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta, timezone

from temporalio import activity
from temporalio.exceptions import ApplicationError

from journeys.channels.base import Channel, Delivery, PermanentFailure, TransientFailure
from journeys.engine.messages import Undeliverable, render_message
from journeys.engine.runs import SendOutcome, SendRequest
from journeys.format.customers import Event
from journeys.store import SendReservation, Store
from journeys.store.models import MessageRow
from journeys.store.records import SendGuard
from journeys.store.sends import opted_out_of
from journeys.templates import TemplateError, time_limit
from journeys.workflows.journey import SEND_RETRY

QUEUED_TOO_LONG = timedelta(minutes=1)  # both times from the server's clock: no skew between machines


class ChannelActivities:
    def __init__(self, store: Store, channels: dict[str, Channel]) -> None:
        self.store = store
        self.channels = channels

    @activity.defn(name="send_message")
    async def send_message(self, request: SendRequest) -> SendOutcome:
        info = activity.info()
        began = time.monotonic()
        store = self.store
        if info.started_time - info.current_attempt_scheduled_time > QUEUED_TOO_LONG:
            # it waited in the channel's queue (a rate limit) so long that quiet hours or caps may have changed;
            # unless an earlier attempt reserved it (and may have reached the provider): that one goes on
            if await asyncio.to_thread(self._row, request) is None:
                return SendOutcome(status="deferred", why="queued")
        found = await asyncio.to_thread(store.customer_and_row, request.customer_id)
        if found is None:
            return SendOutcome(status="failed", error="customer is not in the store")
        row, customer = found
        reservation = SendReservation(
            key=request.key,
            workflow_id=request.workflow_id,
            journey_id=request.journey_id,
            customer_id=request.customer_id,
            step=request.step,
            visit=request.visit,
            channel=request.channel,
            recipient="",
            created_at=request.now,
        )
        if opted_out_of(row.consent, request.channel):  # said before rendering; checked again as it is reserved
            return await asyncio.to_thread(self._unsent, reservation, "skipped", f"opted out of {request.channel}")
        try:
            with time_limit(time.monotonic):  # here, and only here, a render may be cut by the clock
                rendered = render_message(
                    request.channel, request.message, customer, {**request.context, "customer": customer.context}
                )
        except Undeliverable as exc:
            return await asyncio.to_thread(self._unsent, reservation, "skipped", str(exc))
        except TemplateError as exc:
            return await asyncio.to_thread(self._unsent, reservation, "failed", str(exc))
        reservation = reservation.model_copy(
            update={
                "recipient": rendered.to,
                "subject": rendered.subject,
                "body": rendered.body,
                "html": rendered.html,
                "payload": rendered.payload or {},
            }
        )
        guard = SendGuard(exit_on=tuple(request.exit_on), on_pause=request.on_pause, decided_at=request.now)
        result = await asyncio.to_thread(store.reserve_send, reservation, request.limits, request.now, guard)
        if result.status == "skipped":  # the run may no longer send it (an exit, a cancel, an opt-out, a pause)
            return SendOutcome(status="skipped", error=result.message.error if result.message else None)
        if result.status == "held":  # the journey was paused: the run holds the step until it is resumed
            return SendOutcome(status="deferred", why="paused")
        if result.status == "capped":
            return SendOutcome(status="deferred", until=result.until, why="cap")
        if result.status == "duplicate" and result.message is not None and result.message.status != "sending":
            if result.message.status == "retried":  # handed back, but the run never heard it
                return SendOutcome(status="deferred", why="provider")
            return SendOutcome(status=result.message.status, error=result.message.error)  # type: ignore[arg-type]
        channel = self.channels[request.channel]
        try:
            delivery = await channel.send(rendered, request.key)
        except PermanentFailure as exc:
            await asyncio.to_thread(
                store.complete_send, request.key, "failed", provider=channel.provider, error=str(exc), at=_now()
            )
            opted_out = await asyncio.to_thread(self._opted_out, request) if exc.opt_out else None
            return SendOutcome(status="failed", error=str(exc), event=opted_out)
        except TransientFailure as exc:
            if exc.unsent and result.status == "reserved":  # this attempt wrote the row: nothing went out under it
                elapsed = info.started_time - info.scheduled_time + timedelta(seconds=time.monotonic() - began)
                return await asyncio.to_thread(self._decide_again, request, str(exc), request.now + elapsed)
            raise ApplicationError(str(exc), type="TransientFailure") from None
        return await asyncio.to_thread(self._sent, request, delivery)

    def _sent(self, request: SendRequest, delivery: Delivery) -> SendOutcome:
        """Complete the row, and hand the run the customer as they are now: its next decision (usually the
        very next step) then needs no store read of its own."""
        now = _now()
        self.store.complete_send(
            request.key, "sent", provider=delivery.provider, provider_id=delivery.provider_id, at=now
        )
        return SendOutcome(status="sent", snapshot=self.store.snapshot(request.customer_id, request.journey_id, now))

    def _decide_again(self, request: SendRequest, error: str, failed_at: datetime) -> SendOutcome:
        """The provider refused (or was unreachable) and nothing went out: record this attempt and hand the
        send back to the run, to be decided again after the retry policy's backoff (`failed_at` is in the
        run's clock); after the policy's last attempt, fail it for good."""
        earlier = sum(
            1
            for m in self.store.messages_of_run(request.workflow_id)
            if (m.step, m.visit) == (request.step, request.visit) and m.key != request.key and m.status == "retried"
        )
        attempts = earlier + 1
        if SEND_RETRY.maximum_attempts and attempts >= SEND_RETRY.maximum_attempts:
            error = f"not sent after {attempts} attempts: {error}"
            self.store.complete_send(
                request.key, "failed", provider=self.channels[request.channel].provider, error=error, at=_now()
            )
            return SendOutcome(status="failed", error=error)
        backoff = SEND_RETRY.initial_interval * SEND_RETRY.backoff_coefficient**earlier
        if SEND_RETRY.maximum_interval is not None:
            backoff = min(backoff, SEND_RETRY.maximum_interval)
        self.store.complete_send(
            request.key,
            "retried",
            provider=self.channels[request.channel].provider,
            error=f"not sent: {error} (attempt {attempts}, decided again in {backoff.total_seconds():g} s)",
            at=_now(),
        )
        return SendOutcome(status="deferred", until=failed_at + backoff, why="provider")

    def _row(self, request: SendRequest) -> MessageRow | None:
        """The message row of this send's idempotency key, if an attempt wrote one."""
        return next((m for m in self.store.messages_of_run(request.workflow_id) if m.key == request.key), None)

    def _opted_out(self, request: SendRequest) -> Event:
        """The provider says the recipient unsubscribed: never again on this channel, from any journey."""
        event = Event(id=f"opted_out:{request.key}", name="opted_out", data={"channel": request.channel}, at=_now())
        # an opted_out with a channel sets its consent too
        self.store.record_event(request.customer_id, event, source="provider")
        return event

    def _unsent(self, reservation: SendReservation, status: str, error: str) -> SendOutcome:
        """Record a send that will not happen (no address, opted out, template error), once."""
        result = self.store.reserve_send(reservation, [], reservation.created_at)
        if result.status == "reserved":
            self.store.complete_send(reservation.key, status, provider="none", error=error, at=_now())
        return SendOutcome(status=status, error=error)  # type: ignore[arg-type]


def _now() -> datetime:
    return datetime.now(timezone.utc)
