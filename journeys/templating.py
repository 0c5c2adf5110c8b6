"""Sandboxed Jinja2 for expressions and message templates, and the template file lookup.

Template files live under `definitions/templates/` as YAML holding the same fields as an inline
`message:`. A step's `template: modem_swap/invite` for a customer with locale `fa-IR` on the email
channel is looked up as, in order:

    modem_swap/invite.fa-IR.email.yaml
    modem_swap/invite.fa.email.yaml
    modem_swap/invite.email.yaml

The first file that exists wins. Validation requires at least one file per channel used, and warns
when the locale-free fallback is missing.
"""

from __future__ import annotations

import ast
import difflib
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, nodes
from jinja2.sandbox import SandboxedEnvironment, is_internal_attribute

from journeys.errors import JourneysError

CONTEXT_NAMES = ("customer", "event", "journey", "now")
MAX_OUTPUT = 100_000  # characters one rendered field may hold
MAX_RANGE = 10_000

RTL_LANGUAGES = frozenset({"ar", "fa", "he", "ku", "ps", "sd", "ug", "ur", "yi", "dv"})


class TemplateError(JourneysError):
    """A template or expression failed to render for one customer."""


def _bounded_range(*args: int) -> range:
    r = range(*args)
    if len(r) > MAX_RANGE:
        raise TemplateError(f"range of {len(r)} items is over the limit of {MAX_RANGE}")
    return r


class _Sandbox(SandboxedEnvironment):
    """The sandbox plus bounds: no huge ranges, no huge string repetition."""

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "*" and (isinstance(left, str) or isinstance(right, str)):
            count = right if isinstance(left, str) else left
            text = left if isinstance(left, str) else right
            if isinstance(count, int) and len(text) * count > MAX_OUTPUT:
                raise TemplateError("string repetition is over the output limit")
        if operator == "**" and isinstance(right, int) and right > 64:
            raise TemplateError("exponent is over the limit of 64")
        return super().call_binop(context, operator, left, right)


def _environment(autoescape: bool) -> SandboxedEnvironment:
    env = _Sandbox(undefined=StrictUndefined, autoescape=autoescape, keep_trailing_newline=False)
    env.intercepted_binops = frozenset({"*", "**"})
    env.globals["range"] = _bounded_range
    return env


TEXT_ENV = _environment(autoescape=False)
HTML_ENV = _environment(autoescape=True)


# --- static checks --------------------------------------------------------------------------------


def _refused_attribute(name: str) -> bool:
    return name.startswith("_") or is_internal_attribute(object, name) or name in {"mro", "format", "format_map"}


def _check_tree(tree: nodes.Node, allowed: Iterable[str]) -> list[str]:
    """Find what the sandbox would refuse, and names the context does not have."""
    problems: list[str] = []
    allowed = set(allowed) | set(TEXT_ENV.globals)
    assigned = {n.name for n in tree.find_all(nodes.Name) if n.ctx in ("store", "param")}
    for name in tree.find_all(nodes.Name):
        if name.ctx == "load" and name.name not in allowed and name.name not in assigned:
            hint = difflib.get_close_matches(name.name, sorted(allowed), n=1)
            problems.append(
                f"unknown name {name.name!r}"
                + (f", did you mean {hint[0]!r}?" if hint else "")
                + f" (the context has {', '.join(CONTEXT_NAMES)})"
            )
    for attr in tree.find_all(nodes.Getattr):
        if _refused_attribute(attr.attr):
            problems.append(f"the sandbox refuses access to attribute {attr.attr!r}")
    for item in tree.find_all(nodes.Getitem):
        if isinstance(item.arg, nodes.Const) and isinstance(item.arg.value, str) and _refused_attribute(item.arg.value):
            problems.append(f"the sandbox refuses access to {item.arg.value!r}")
    for flt in tree.find_all(nodes.Filter):
        if flt.name == "attr":
            problems.append("the sandbox refuses the |attr filter; use dotted access")
        elif flt.name not in TEXT_ENV.filters:
            problems.append(f"unknown filter {flt.name!r}")
    for test in tree.find_all(nodes.Test):
        if test.name not in TEXT_ENV.tests:
            problems.append(f"unknown test {test.name!r}")
    return problems


def check_expression(source: str, allowed: Iterable[str] = CONTEXT_NAMES) -> list[str]:
    """Problems with an expression: syntax, names the context lacks, access the sandbox refuses."""
    if not isinstance(source, str) or not source.strip():
        return ["empty expression"]
    try:
        tree = TEXT_ENV.parse("{{ " + source + " }}")
    except TemplateSyntaxError as exc:
        return [f"expression does not parse: {exc.message}"]
    return _check_tree(tree, allowed)


def check_template(source: str, allowed: Iterable[str] = CONTEXT_NAMES) -> list[str]:
    """Problems with a template string, as `check_expression`."""
    try:
        tree = TEXT_ENV.parse(source)
    except TemplateSyntaxError as exc:
        return [f"template does not parse (line {exc.lineno}): {exc.message}"]
    return _check_tree(tree, allowed)


# --- rendering ------------------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def _compiled_expression(source: str) -> Any:
    return TEXT_ENV.compile_expression(source, undefined_to_none=False)


@lru_cache(maxsize=4096)
def _compiled_template(source: str, html: bool) -> Any:
    return (HTML_ENV if html else TEXT_ENV).from_string(source)


def evaluate(source: str, context: Mapping[str, Any]) -> Any:
    """Evaluate an expression for one customer; any failure is a `TemplateError`."""
    try:
        return _compiled_expression(source)(**context)
    except TemplateError:
        raise
    except Exception as exc:  # the sandbox, undefined names and the user's own code all raise here
        raise TemplateError(f"{source!r}: {exc}") from None


def render(source: str, context: Mapping[str, Any], html: bool = False) -> str:
    """Render a template string for one customer (HTML-escaped when `html`)."""
    try:
        text = _compiled_template(source, html).render(**context)
    except TemplateError:
        raise
    except Exception as exc:
        raise TemplateError(f"{exc}") from None
    if len(text) > MAX_OUTPUT:
        raise TemplateError(f"rendered text is {len(text)} characters, over the limit of {MAX_OUTPUT}")
    return text


def render_value(value: Any, context: Mapping[str, Any]) -> Any:
    """Render every string inside a mapping/list (webhook bodies, `update.set` values)."""
    if isinstance(value, str):
        return render(value, context)
    if isinstance(value, Mapping):
        return {k: render_value(v, context) for k, v in value.items()}
    if isinstance(value, list):
        return [render_value(v, context) for v in value]
    return value


def literal(value: str) -> Any:
    """A rendered `update.set` value read back as a number/bool when it looks like one."""
    try:
        return ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return value


def is_rtl(locale: str | None) -> bool:
    return bool(locale) and locale.replace("_", "-").split("-")[0].lower() in RTL_LANGUAGES


# --- template files -------------------------------------------------------------------------------


def locale_chain(locale: str | None) -> list[str | None]:
    """`fa-IR` → [`fa-IR`, `fa`, None]: the order in which template files are tried."""
    chain: list[str | None] = []
    if locale:
        locale = locale.replace("_", "-")
        chain.append(locale)
        language = locale.split("-")[0]
        if language != locale:
            chain.append(language)
    chain.append(None)
    return chain


class TemplateFiles:
    """Finds template files under a templates folder (see this module's docstring)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._cache: dict[tuple[str, str, str | None], Path | None] = {}

    def path(self, name: str, channel: str, locale: str | None = None) -> Path:
        middle = f".{locale}" if locale else ""
        return self.root / f"{name}{middle}.{channel}.yaml"

    def find(self, name: str, channel: str, locale: str | None = None) -> Path | None:
        """The file used for a customer with this locale, or None when there is none at all."""
        key = (name, channel, locale)
        if key not in self._cache:
            self._cache[key] = next(
                (p for loc in locale_chain(locale) if (p := self.path(name, channel, loc)).is_file()), None
            )
        return self._cache[key]

    def variants(self, name: str, channel: str) -> list[Path]:
        """Every file of this template for this channel (the fallback and each locale)."""
        if ".." in Path(name).parts or Path(name).is_absolute():
            return []
        folder = (self.root / name).parent
        stem = Path(name).name
        if not folder.is_dir():
            return []
        return sorted(p for p in folder.glob(f"{stem}.*{channel}.yaml") if p.name.split(".")[0] == stem and p.is_file())
