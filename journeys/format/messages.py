"""Messages as written, inline (`message:`) or in template files: the fields each channel takes and needs,
their templates' syntax, and loading a template file (its channel read from its name)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from journeys.errors import DefinitionError, Problem
from journeys.format.models import CHANNELS, Message
from journeys.format.problems import sorted_problems, validated
from journeys.format.yaml import MAX_DEFINITION_BYTES, MAX_INT, Positions, YamlPath, load_yaml
from journeys.templates import check_template

CHANNEL_FIELDS: dict[str, tuple[str, ...]] = {
    "email": ("subject", "text", "html"),
    "sms": ("text",),
    "voice": ("say", "gather"),
    "webhook": ("url", "method", "body"),
}
CHANNEL_NEEDS: dict[str, list[tuple[str, ...]]] = {
    "email": [("subject",), ("text", "html")],
    "sms": [("text",)],
    "voice": [("say",)],
    "webhook": [("url",)],
}
TEMPLATE_FIELDS = frozenset({"subject", "text", "html", "say", "url"})


def strings(value: Any, path: YamlPath) -> Iterator[tuple[YamlPath, str]]:
    """Every string inside nested mappings and lists, with its path (webhook bodies, `update.set`)."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from strings(item, path + (key,))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from strings(item, path + (i,))


def templates_of(message: Message, at: YamlPath = ()) -> Iterator[tuple[YamlPath, str]]:
    """Every template a message renders, with its path: its text fields, then each string of a webhook body."""
    for name in Message.model_fields:
        value = getattr(message, name)
        if name in TEMPLATE_FIELDS and value is not None:
            yield at + (name,), value
    yield from strings(message.body, at + ("body",))


def check_message(
    message: Message, positions: Positions, file: str, channel: str | None, at: YamlPath = (), prefix: str = ""
) -> list[Problem]:
    """Template syntax of every rendered field, and whether the fields fit the channel (when known)."""
    problems: list[Problem] = []

    def error(path: YamlPath, text: str, on_key: bool = False) -> None:
        where = positions.key(path) if on_key else positions.at(path)
        problems.append(Problem(file, *where, prefix + text))

    fields = {name: getattr(message, name) for name in Message.model_fields if getattr(message, name) is not None}
    for path, text in templates_of(message, at):
        for problem in check_template(text):
            error(path, f"{'.'.join(map(str, path[len(at) :]))}: {problem}")
    if channel is None:
        return problems
    allowed = CHANNEL_FIELDS[channel]
    for name in fields:
        if name not in allowed:
            error(
                at + (name,),
                f"field {name!r} does not fit channel {channel} ({channel} takes {', '.join(allowed)})",
                on_key=True,
            )
    for options in CHANNEL_NEEDS[channel]:
        if not any(name in fields for name in options):
            error(at, f"a message on channel {channel} needs {' or '.join(map(repr, options))}")
    return problems


def _channel_of(path: Path) -> str | None:
    """Template files are named `name[.locale].channel.yaml`."""
    parts = Path(path).name.split(".")
    return parts[-2] if len(parts) >= 3 and parts[-2] in CHANNELS else None


def load_message_file(path: Path) -> tuple[Message | None, list[Problem]]:
    """Load a template file: the fields of an inline `message:`, checked for its channel (from the name)."""
    file = str(path)
    try:
        data, positions = load_yaml(path, max_bytes=MAX_DEFINITION_BYTES, max_int=MAX_INT)
    except DefinitionError as exc:
        return None, exc.problems
    message, problems = validated(Message, data, positions, file)
    if message is not None:
        problems += check_message(message, positions, file, _channel_of(path))
    return message, sorted_problems(problems, file)
