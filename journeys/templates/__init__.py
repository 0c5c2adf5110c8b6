"""Sandboxed Jinja2 for expressions and message templates, and the template file lookup.

Template files live under `definitions/templates/` as YAML holding the same fields as an inline
`message:`. A step's `template: modem_swap/invite` for a customer with locale `fa-IR` on the email
channel is looked up as, in order:

    modem_swap/invite.fa-IR.email.yaml
    modem_swap/invite.fa.email.yaml
    modem_swap/invite.email.yaml

The first file that exists wins. Validation requires at least one file per channel used, and warns
when the locale-free fallback is missing.

Bounds. A template is the marketer's code, run for every customer, in the worker and inside workflows, so
it must neither escape the sandbox nor hang or eat memory. Jinja's immutable sandbox refuses `_` attributes
and changing data (`.append`, `.update`); on top of it, `sandbox.Sandbox`:

- refuses, while validating, what is bound to fail: dunder access, `|attr`, huge `range`, repetition,
  exponents, widths (`center`, `indent`, `%999999999s`), loops nested to over `MAX_STEPS` iterations,
  macros that call themselves, recursive loops, includes, and templates Python cannot compile;
- bounds every render: each string or list a template makes holds at most `MAX_VALUE` characters (checked
  before width filters, repetition, `%`, `str.format`, `replace` and `join` build it, and after `~`, `+` and
  list, tuple and dict literals), one render runs at most `MAX_STEPS` loop iterations, calls and bounded
  filters, makes at most `MAX_MADE` characters in loops, macros and such operations, and returns at most
  `MAX_OUTPUT` characters; inside `time_limit(clock)` it also takes at most `MAX_SECONDS` by that clock.
  Past a bound, a `TemplateError` says which.

No clock is read here unless a caller hands one in: the interpreter and the workflow render by counts alone,
so a replay decides as the first run did; the send activity, which may, bounds its renders in time too.

The modules: `limits` (the bounds, `TemplateError`), `budget` (what one render may still do), `sizes` (how
large a value is), `filters` (Jinja's filters with bounds), `guard` (the rewriting that counts loops, output,
`~` and literals), `sandbox` (the environments), `static_bounds` and `checks` (validation), `render`
(rendering for one customer), `files` (template files).
"""

from journeys.templates.budget import time_limit
from journeys.templates.checks import check_expression, check_template, names_read
from journeys.templates.files import TemplateFiles, locale_chain
from journeys.templates.limits import MAX_OUTPUT, TemplateError
from journeys.templates.render import evaluate, is_rtl, literal, render, render_value

__all__ = [
    "MAX_OUTPUT",
    "TemplateError",
    "TemplateFiles",
    "check_expression",
    "check_template",
    "evaluate",
    "is_rtl",
    "literal",
    "locale_chain",
    "names_read",
    "render",
    "render_value",
    "time_limit",
]
