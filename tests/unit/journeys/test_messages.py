"""Rendering one message for one customer: template files by locale, email HTML, escaping, the sandbox."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from journeys.engine.interpreter import Send
from journeys.engine.messages import MessageSource, Rendered, Undeliverable, render_message
from journeys.format.customers import Customer
from journeys.format.models import Message
from journeys.templates import TemplateError, TemplateFiles

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc)


def customer(**fields: Any) -> Customer:
    profile = {"id": "c1", "name": "Sara", "email": "sara@example.com", "phone": "+989121000001", "locale": "en"}
    return Customer(**{**profile, **fields})


def context(person: Customer) -> dict[str, Any]:
    return {
        "customer": person.context,
        "event": None,
        "journey": {"id": "modem-swap", "name": "Modem swap", "version": 1, "step": "invite"},
        "now": NOW,
    }


def render(channel: str, message: Message, person: Customer) -> Rendered:
    return render_message(channel, message, person, context(person))


def send(channel: str = "email", template: str = "swap/invite") -> Send:
    return Send(step="invite", channel=channel, template=template, message=None, seq=1, visit=1)


def write_template(root: Path, name: str, body: str) -> None:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body, encoding="utf-8")


# --- template files and locale fallback -------------------------------------------------------------


@pytest.mark.parametrize(
    ("present", "locale", "expected"),
    [
        (["fa-IR", "fa", None], "fa-IR", "fa-IR"),
        (["fa-IR", "fa", None], "fa_IR", "fa-IR"),
        (["fa", None], "fa-IR", "fa"),
        ([None], "fa-IR", None),
        (["fa-IR", "fa", None], "fa", "fa"),
        (["fa-IR", "fa", None], "en", None),
        (["fa-IR", "fa", None], None, None),
        (["fa-IR", "fa"], "fa-AF", "fa"),
    ],
)
def test_message_source_locale_fallback(
    tmp_path: Path, present: list[str | None], locale: str | None, expected: str | None
) -> None:
    for variant in present:
        middle = f".{variant}" if variant else ""
        write_template(tmp_path, f"swap/invite{middle}.email.yaml", f"subject: from {variant}\ntext: hello\n")
    message = MessageSource(TemplateFiles(tmp_path)).message(send(), locale)
    assert message.subject == f"from {expected}"


def test_message_source_picks_the_file_for_the_channel(tmp_path: Path) -> None:
    write_template(tmp_path, "swap/invite.email.yaml", "subject: by email\ntext: hello\n")
    write_template(tmp_path, "swap/invite.sms.yaml", "text: by sms\n")
    source = MessageSource(TemplateFiles(tmp_path))
    assert source.message(send("sms"), "en").text == "by sms"
    assert source.message(send("email"), "en").subject == "by email"


def test_message_source_without_a_file_raises_template_error(tmp_path: Path) -> None:
    write_template(tmp_path, "swap/invite.fa.email.yaml", "subject: s\ntext: t\n")
    source = MessageSource(TemplateFiles(tmp_path))
    with pytest.raises(TemplateError, match="swap/invite"):
        source.message(send(), "en")
    with pytest.raises(TemplateError):
        source.message(send("sms"), "fa")


def test_message_source_inline_message_wins(tmp_path: Path) -> None:
    inline = Send(step="s", channel="sms", template=None, message=Message(text="inline"), seq=1, visit=1)
    assert MessageSource(TemplateFiles(tmp_path)).message(inline, "fa").text == "inline"


def test_message_source_to_rendered_persian_email(tmp_path: Path) -> None:
    write_template(
        tmp_path,
        "swap/invite.fa.email.yaml",
        'subject: "{{ customer.name }}، مودم ۴G رایگان شما آماده است"\n'
        'text: "{{ customer.name }} عزیز،\\n\\nمودم جدید شما رایگان است."\n',
    )
    write_template(tmp_path, "swap/invite.email.yaml", 'subject: "{{ customer.name }}, hello"\ntext: "Dear you"\n')
    person = customer(name="علی", locale="fa")
    message = MessageSource(TemplateFiles(tmp_path)).message(send(), person.locale)
    rendered = render("email", message, person)
    assert rendered.channel == "email"
    assert rendered.to == "sara@example.com"
    assert rendered.subject == "علی، مودم ۴G رایگان شما آماده است"
    assert rendered.body == "علی عزیز،\n\nمودم جدید شما رایگان است."
    assert rendered.html is not None
    assert '<html lang="fa" dir="rtl">' in rendered.html
    assert "علی عزیز،" in rendered.html
    assert rendered.locale == "fa"


# --- email ------------------------------------------------------------------------------------------


def test_render_email_persian_locale_with_region_is_rtl() -> None:
    rendered = render("email", Message(subject="سلام", text="سلام"), customer(locale="fa-IR"))
    assert '<html lang="fa-IR" dir="rtl">' in rendered.html
    assert 'dir="rtl"' in rendered.html.split("<body", 1)[1]


def test_render_email_english_is_ltr() -> None:
    rendered = render("email", Message(subject="Hi {{ customer.name }}", text="Dear {{ customer.name }}"), customer())
    assert rendered.subject == "Hi Sara"
    assert rendered.body == "Dear Sara"
    assert '<html lang="en" dir="ltr">' in rendered.html
    assert 'dir="rtl"' not in rendered.html


def test_render_email_without_locale_is_english_ltr() -> None:
    rendered = render("email", Message(subject="s", text="t"), customer(locale=None))
    assert '<html lang="en" dir="ltr">' in rendered.html


def test_render_email_text_only_gets_an_escaped_html_part() -> None:
    message = Message(subject="Deal", text="Fish & chips <b>now</b>\nsecond line\n\nnew paragraph")
    rendered = render("email", message, customer())
    assert rendered.body == "Fish & chips <b>now</b>\nsecond line\n\nnew paragraph"
    assert rendered.html.startswith("<!DOCTYPE html>")
    assert "<p>Fish &amp; chips &lt;b&gt;now&lt;/b&gt;<br>\nsecond line</p>" in rendered.html
    assert "<p>new paragraph</p>" in rendered.html
    assert "<b>" not in rendered.html


def test_render_email_html_only_gets_a_text_part() -> None:
    message = Message(subject="s", html="<p>Hello <b>{{ customer.name }}</b></p><p>Fish &amp; chips</p>")
    rendered = render("email", message, customer())
    assert "<b>Sara</b>" in rendered.html
    assert rendered.body == "Hello Sara\nFish & chips"


def test_render_email_escapes_values_in_html_not_in_text() -> None:
    person = customer(name="<script>alert(1)</script>")
    message = Message(
        subject="Hi {{ customer.name }}", text="Dear {{ customer.name }}", html="<p>Dear {{ customer.name }}</p>"
    )
    rendered = render("email", message, person)
    assert rendered.body == "Dear <script>alert(1)</script>"
    assert rendered.subject == "Hi <script>alert(1)</script>"
    assert "<script>" not in rendered.html
    assert "<p>Dear &lt;script&gt;alert(1)&lt;/script&gt;</p>" in rendered.html


def test_render_email_text_part_values_are_escaped_in_the_derived_html() -> None:
    rendered = render("email", Message(subject="s", text="Dear {{ customer.name }}"), customer(name="<script>x"))
    assert rendered.body == "Dear <script>x"
    assert "<script>" not in rendered.html
    assert "Dear &lt;script&gt;x" in rendered.html


# --- other channels ---------------------------------------------------------------------------------


def test_render_sms_and_voice_go_to_the_phone() -> None:
    sms = render("sms", Message(text="Hi {{ customer.name }}"), customer())
    assert (sms.channel, sms.to, sms.body, sms.html, sms.subject) == ("sms", "+989121000001", "Hi Sara", None, None)
    voice = render(
        "voice", Message(say="Hello {{ customer.name }}", gather={"digits": 1, "event": "rated"}), customer()
    )
    assert (voice.to, voice.body) == ("+989121000001", "Hello Sara")
    assert voice.gather is not None and voice.gather.event == "rated"


@pytest.mark.parametrize(
    ("channel", "message", "missing"),
    [
        ("email", Message(subject="s", text="t"), {"email": None}),
        ("email", Message(subject="s", text="t"), {"email": ""}),
        ("sms", Message(text="t"), {"phone": None}),
        ("voice", Message(say="t"), {"phone": None}),
    ],
)
def test_render_without_an_address_is_undeliverable(channel: str, message: Message, missing: dict[str, Any]) -> None:
    with pytest.raises(Undeliverable):
        render(channel, message, customer(**missing))


def test_render_webhook_body_is_rendered_recursively_as_json() -> None:
    message = Message(
        url="https://hooks.example.com/{{ customer.id }}",
        body={
            "name": "{{ customer.name }}",
            "nested": {"plan": "{{ customer.attributes.plan }}", "list": ["{{ customer.id }}", 7, True, None]},
            "count": 3,
        },
    )
    rendered = render("webhook", message, customer(attributes={"plan": "wimax"}, name='Sa"ra'))
    assert rendered.to == "https://hooks.example.com/c1"
    assert rendered.method == "POST"
    expected = {"name": 'Sa"ra', "nested": {"plan": "wimax", "list": ["c1", 7, True, None]}, "count": 3}
    assert rendered.payload == expected
    assert json.loads(rendered.body) == expected


def test_render_webhook_keeps_the_method() -> None:
    rendered = render("webhook", Message(url="https://x.example", method="PUT", body={"a": "b"}), customer())
    assert rendered.method == "PUT"
    assert json.loads(rendered.body) == {"a": "b"}


# --- errors and the sandbox -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text", ["{{ nickname }}", "{{ customer.nickname }}", "{{ customer.attributes.plan }}", "{{ event.name }}"]
)
def test_render_undefined_name_is_template_error(text: str) -> None:
    with pytest.raises(TemplateError):
        render("sms", Message(text=text), customer())


def test_render_syntax_error_is_template_error() -> None:
    with pytest.raises(TemplateError):
        render("sms", Message(text="{{ customer.name "), customer())


def _render_in_thread(text: str, timeout: float = 10) -> BaseException | Rendered:
    outcome: list[BaseException | Rendered] = []

    def target() -> None:
        try:
            outcome.append(render("sms", Message(text=text), customer()))
        except Exception as exc:  # the test inspects whatever was raised
            outcome.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), f"rendering {text!r} did not finish in {timeout}s"
    return outcome[0]


@pytest.mark.parametrize(
    "text",
    [
        "{{ customer.__class__ }}",
        "{{ ''.__class__.__mro__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ customer.name.__class__.__base__ }}",
        "{{ range(10**9)|list }}",
        "{{ 'x' * 10**8 }}",
        "{{ 10**8 * 'x' }}",
        "{{ ('x' * 1000) * 1000 }}",
        "{{ 2 ** 10000000 }}",
        "{{ 'ab'|replace('', 'x' * 50000) }}",
    ],
)
def test_render_sandbox_escapes_are_template_errors(text: str) -> None:
    outcome = _render_in_thread(text)
    assert isinstance(outcome, TemplateError), outcome


def test_render_small_range_and_repetition_are_allowed() -> None:
    rendered = render("sms", Message(text="{{ range(3)|list|join(',') }} {{ '-' * 3 }}"), customer())
    assert rendered.body == "0,1,2 ---"


# --- SMS length -------------------------------------------------------------------------------------


def test_rendered_sms_length_persian_is_ucs2() -> None:
    person = customer(name="علی", locale="fa")
    rendered = render("sms", Message(text="{{ customer.name }} عزیز، کد ملی خود را بفرستید."), person)
    info = rendered.sms_length()
    assert info is not None
    assert info["encoding"] == "UCS-2"
    assert info["characters"] == len(rendered.body)
    assert info["segments"] == 1


def test_rendered_sms_length_english_is_gsm7_and_email_has_none() -> None:
    assert render("sms", Message(text="Hi {{ customer.name }}"), customer()).sms_length() == {
        "encoding": "GSM-7",
        "characters": 7,
        "segments": 1,
    }
    assert render("email", Message(subject="s", text="t"), customer()).sms_length() is None


def test_rendered_sms_length_long_persian_needs_several_segments() -> None:
    rendered = render("sms", Message(text="س" * 71), customer(locale="fa"))
    assert rendered.sms_length() == {"encoding": "UCS-2", "characters": 71, "segments": 2}
