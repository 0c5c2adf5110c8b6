"""Turning a step's message (inline or template file) into what a channel sends to one customer.

Shared by the simulator and the send activity, so what `simulate` shows is what the channels send.
"""

from __future__ import annotations

import html as htmllib
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from journeys.engine.interpreter import Send
from journeys.engine.sms import segments
from journeys.errors import DefinitionError, JourneysError
from journeys.format.customers import Customer
from journeys.format.messages import load_message_file
from journeys.format.models import Gather, Message
from journeys.templates import TemplateError, TemplateFiles, is_rtl, render, render_value


class Undeliverable(JourneysError):
    """The customer has no address for this channel: the send is skipped and recorded as such."""


class Rendered(BaseModel):
    """One message, rendered for one customer, exactly as the channel would send it."""

    channel: str
    to: str
    customer_id: str = ""
    subject: str | None = None
    body: str  # email text part, SMS text, voice `say`, webhook JSON text
    html: str | None = None
    gather: Gather | None = None
    method: str | None = None
    payload: dict[str, Any] | None = None
    locale: str | None = None

    def sms_length(self) -> dict[str, Any] | None:
        return segments(self.body).as_dict() if self.channel == "sms" else None


class MessageSource:
    """Resolves a `Send` to its `Message`: the inline one, or the template file for the customer's locale."""

    def __init__(self, templates: TemplateFiles) -> None:
        self.templates = templates
        self._loaded: dict[Path, Message] = {}

    def message(self, send: Send, locale: str | None) -> Message:
        if send.message is not None:
            return send.message
        assert send.template is not None  # the model requires one of the two
        path = self.templates.find(send.template, send.channel, locale)
        if path is None:
            raise TemplateError(f"no template file for {send.template!r} on channel {send.channel}")
        if path not in self._loaded:
            message, problems = load_message_file(path)
            if message is None:
                raise DefinitionError(problems)
            self._loaded[path] = message
        return self._loaded[path]


def render_message(channel: str, message: Message, customer: Customer, context: Mapping[str, Any]) -> Rendered:
    """Render every field of `message` for this customer; raises `Undeliverable` when there is no address."""
    rendered = _render(channel, message, customer, context)
    return rendered.model_copy(update={"customer_id": customer.id})


def _render(channel: str, message: Message, customer: Customer, context: Mapping[str, Any]) -> Rendered:
    locale = customer.locale
    if channel == "email":
        to = _address(customer.email, "email address")
        text = render(message.text, context) if message.text else None
        fragment = render(message.html, context, html=True) if message.html else None
        if text is None:
            text = _html_to_text(fragment or "")
        return Rendered(
            channel=channel,
            to=to,
            subject=render(message.subject or "", context).strip(),
            body=text,
            html=email_html(fragment if fragment is not None else _text_to_html(text), locale),
            locale=locale,
        )
    if channel == "sms":
        to = _address(customer.phone, "phone number")
        return Rendered(channel=channel, to=to, body=render(message.text or "", context), locale=locale)
    if channel == "voice":
        to = _address(customer.phone, "phone number")
        say = render(message.say or "", context)
        return Rendered(channel=channel, to=to, body=say, gather=message.gather, locale=locale)
    url = render(message.url or "", context).strip()
    payload = render_value(message.body or {}, context)
    return Rendered(
        channel=channel,
        to=url,
        body=json.dumps(payload, ensure_ascii=False, sort_keys=True, default=str),
        method=message.method or "POST",
        payload=payload,
        locale=locale,
    )


def email_html(fragment: str, locale: str | None) -> str:
    """A whole HTML document around a body fragment, with `lang` and `dir` so Persian renders right to left."""
    lang = (locale or "en").replace("_", "-")
    direction = "rtl" if is_rtl(locale) else "ltr"
    align = "right" if direction == "rtl" else "left"
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{htmllib.escape(lang)}" dir="{direction}">\n'
        '<head><meta charset="utf-8"></head>\n'
        f'<body dir="{direction}" style="direction:{direction};text-align:{align}">\n'
        f"{fragment}\n"
        "</body>\n</html>\n"
    )


def _address(value: str | None, what: str) -> str:
    if not value:
        raise Undeliverable(f"customer has no {what}")
    return value


def _text_to_html(text: str) -> str:
    paragraphs = [p for p in re.split(r"\n\s*\n", text.strip()) if p]
    return "\n".join("<p>" + htmllib.escape(p).replace("\n", "<br>\n") + "</p>" for p in paragraphs)


def _html_to_text(fragment: str) -> str:
    text = re.sub(r"(?i)<br\s*/?>|</p>", "\n", fragment)
    return htmllib.unescape(re.sub(r"<[^>]+>", "", text)).strip()
