"""A template is the marketer's code, run for every customer: whatever it says, it neither escapes the sandbox
nor hangs nor eats memory.

What can be known from the text is refused by `journeys validate` (`check_template`); everything is bounded
while rendering (`render`), and a bound that is hit is a `TemplateError` naming it: each string or list a
template makes holds at most `MAX_VALUE` characters, one render runs at most `MAX_STEPS` loop iterations and
calls, makes at most `MAX_MADE` characters, takes at most `MAX_SECONDS`, and returns at most `MAX_OUTPUT`.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from journeys import templates as templating
from journeys.cli import main
from journeys.format.customers import Customer
from journeys.templates import MAX_OUTPUT, TemplateError, check_expression, check_template, evaluate, limits, render

BIG = "a" * 100_000  # a customer's attribute as long as a rendered field may be
PEAK_BYTES = 64_000_000  # what one refused render may allocate at most, with everything Python adds


def context(**attributes: Any) -> dict[str, Any]:
    person = Customer(
        id="c1",
        name="Sara",
        tags=["vip", "new"],
        attributes={"n": 10_000, "huge": 10**9, "big": BIG, "wide": "%999999999s", **attributes},
    )
    return {"customer": person.context, "event": None, "journey": {"id": "j", "step": "s"}, "now": None}


def outcome(
    source: str, ctx: dict[str, Any] | None = None, html: bool = False, timeout: float = 20, clock: Any = None
) -> Any:
    """What rendering gives (text or the exception), in a thread that must finish within `timeout`; bounded
    in time by `clock` too when one is given (as the send activity renders)."""
    result: list[Any] = []

    def target() -> None:
        try:
            with templating.time_limit(clock) if clock else contextlib.nullcontext():
                result.append(render(source, ctx or context(), html=html))
        except Exception as exc:  # the test looks at whatever was raised
            result.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), f"rendering {source!r} did not finish in {timeout}s"
    return result[0]


def refused(source: str, ctx: dict[str, Any] | None = None) -> str:
    """Render under tracemalloc: the render must fail with a TemplateError, allocating little; its message."""
    tracemalloc.start()
    try:
        result = outcome(source, ctx)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert isinstance(result, TemplateError), f"{source!r} gave {result!r}"[:300]
    assert peak < PEAK_BYTES, f"{source!r} allocated {peak:,} bytes before it was refused"
    assert "\n" not in str(result)
    return str(result)


# --- escapes ------------------------------------------------------------------------------------------

ESCAPES = [
    "{{ ''.__class__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ customer.__class__ }}",
    "{{ customer['__class__'] }}",
    "{{ ''|attr('__class__') }}",
    "{{ ''|attr('_' * 2 ~ 'class' ~ '_' * 2) }}",
    "{{ (customer|attr('__init__')).__globals__ }}",
    "{{ range.__self__ }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ namespace.__init__.__globals__.os }}",
    "{{ lipsum.__globals__['os'].popen('id').read() }}",
    "{{ customer.name.format.__globals__ }}",
    "{{ '{0.__class__}'.format(customer) }}",
    "{{ customer.tags.append('hacked') }}",
    "{{ customer.attributes.update({'plan': 'free'}) }}",
    "{{ customer.attributes.clear() }}",
    "{% include '/etc/passwd' %}",
    "{% import 'os' as os %}",
    "{% extends 'base' %}",
]


@pytest.mark.parametrize("source", ESCAPES)
def test_sandbox_escapes_are_refused_by_validate_and_fail_at_render(source: str) -> None:
    assert check_template(source), source
    assert isinstance(outcome(source), TemplateError)


def test_a_template_cannot_change_the_customer_it_renders_for() -> None:
    ctx = context()
    for source in ("{{ customer.tags.append('x') }}", "{{ customer.attributes.pop('n') }}", "{{ [].append(1) }}"):
        assert isinstance(outcome(source, ctx), TemplateError)
    assert ctx["customer"]["tags"] == ["vip", "new"]
    assert ctx["customer"]["attributes"]["n"] == 10_000


def test_validate_refuses_an_escape_in_a_journey_with_its_position(tmp_path: Path, capsys: Any) -> None:
    path = tmp_path / "j.yaml"
    path.write_text(
        "id: j\nname: J\nsteps:\n  - id: a\n    send: sms\n    message: {text: \"{{ ''.__class__ }}\"}\n",
        encoding="utf-8",
    )
    with pytest.raises(SystemExit) as exited:
        main(["validate", str(path)])
    assert exited.value.code == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"{path}:6:") and "'__class__'" in err and "\n" not in err


# --- refused while validating -------------------------------------------------------------------------

STATIC = [
    ("{{ range(10**9)|list }}", "range of 1,000,000,000 items is over the limit of 10,000"),
    ("{{ range(10**10**10) }}", "range of a huge number of items"),
    (
        "{% for a in range(10**4) %}{% for b in range(10**4) %}{{ b }}{% endfor %}{% endfor %}",
        "loops nested here run 100,000,000 times, over the limit of 100,000",
    ),
    ("{% for a in [1,2,3] %}{% for b in range(50000) %}.{% endfor %}{% endfor %}", "run 150,000 times"),
    ("{{ 'x' * 10**9 }}", "repeating a text 1,000,000,000 times is over the limit of 100,000 characters"),
    ("{{ 10**9 * 'x' }}", "repeating a text 1,000,000,000 times"),
    ("{{ 2 ** 10000000 }}", "exponent 10,000,000 is over the limit of 64"),
    ("{{ (10**64) ** 64 }}", "a number over the limit of 4,096 bits"),
    ("{{ 'x'|center(10**9) }}", "center(1,000,000,000) is wider than the limit of 100,000 characters"),
    ("{{ 'x'|indent(10**9) }}", "indent(1,000,000,000) is wider"),
    ("{{ '%999999999s'|format(1) }}", "width 999999999 in a % format is over the limit of 100,000 characters"),
    ("{{ '%.999999999f' % 1.0 }}", "width 999999999 in a % format"),
    ("{{ '%*d' % (10**9, 1) }}", "a * width in a % format is not allowed"),
    ("{{ range(10)|slice(10**9)|list }}", "slice(1,000,000,000) is over the limit of 10,000"),
    ("{{ range(10)|batch(10**9, 'x')|list }}", "batch(1,000,000,000) is over the limit of 10,000"),
    ("{{ lipsum(10**6) }}", "lipsum is over the limit of 10,000 words"),
    ("{{ customer|tojson(10**9) }}", "tojson(1,000,000,000): an indent over 100 is not allowed"),
    ("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", "macro 'f' calls itself: recursion is not allowed"),
    ("{% macro a() %}{{ b() }}{% endmacro %}{% macro b() %}{{ a() }}{% endmacro %}{{ a() }}", "macro 'a' calls itself"),
    ("{% for x in [[1]] recursive %}{{ loop(x) }}{% endfor %}", "recursive loops are not allowed"),
    ("{{ '{:>999999999}'.format(1) }}", "the sandbox refuses access to attribute 'format'"),
    ("{{ x|_journeys_loop }}", "unknown filter '_journeys_loop'"),
    ("{% for a in [1] %}" * 25 + "{% endfor %}" * 25, "template does not compile"),
    ("{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}", "template is nested too deeply"),
]


@pytest.mark.parametrize(("source", "message"), STATIC)
def test_validate_refuses_what_is_bound_to_break_a_bound(source: str, message: str) -> None:
    problems = check_template(source)
    assert any(message in p for p in problems), problems
    if "_journeys_loop" not in source:
        refused(source)


def test_validate_refuses_bounds_in_expressions_too() -> None:
    assert check_expression("range(10**9)|length > 0") == ["range of 1,000,000,000 items is over the limit of 10,000"]
    assert check_expression("(" * 5000 + "1" + ")" * 5000) == ["expression is nested too deeply"]
    with pytest.raises(TemplateError, match="range of 1000000000 items"):
        evaluate("range(10**9)|length > 0", context())


def test_validate_accepts_what_jinja_templates_are_for() -> None:
    sources = [
        "{% for t in customer.tags %}{{ loop.index }}. {{ t|upper }}{% if not loop.last %}, {% endif %}{% endfor %}",
        "{% macro greet(name) %}Hi {{ name }}{{ varargs|join }}{% endmacro %}{{ greet(customer.name) }}",
        "{% macro box() %}[{{ caller() }}]{% endmacro %}{% call box() %}{{ customer.name }}{% endcall %}",
        "{% set ns = namespace(total=0) %}{% for i in range(10) %}{% set ns.total = ns.total + i %}{% endfor %}"
        "{{ ns.total }}",
        "{{ '%-10s|%5.1f'|format(customer.name, 3.14159) }} {{ 'x' * 3 }} {{ 2 ** 10 }} {{ [1, 2] + [3] }}",
        "{{ customer.name|center(20) }}{{ 'a\nb'|indent(2) }}{{ customer.name|wordwrap(3) }}",
        "{{ customer.tags|join(', ') }} {{ (customer.name ~ '!')|replace('!', '?') }} {{ {'a': 1}|dictsort }}",
        "{% for a in range(100) %}{% for b in range(100) %}{% endfor %}{% endfor %}",
    ]
    for source in sources:
        assert check_template(source) == [], source
        assert isinstance(outcome(source), str), source
    assert outcome(sources[0]) == "1. VIP, 2. NEW"
    assert outcome(sources[1]) == "Hi Sara"
    assert outcome(sources[2]) == "[Sara]"
    assert outcome(sources[3]) == "45"


# --- bounded while rendering ----------------------------------------------------------------------------

RUNTIME = [
    ("{{ range(customer.attributes.huge)|list }}", "range of 1000000000 items is over the limit"),
    (
        "{% for a in range(customer.attributes.n) %}{% for b in range(customer.attributes.n) %}{% endfor %}"
        "{% endfor %}",
        "runs over 100,000 loop iterations and calls",
    ),
    ("{% for a in customer.attributes.big %}{% for b in customer.attributes.big %}{% endfor %}{% endfor %}", "100,000"),
    ("{{ 'x' * customer.attributes.huge }}", "repetition"),
    ("{{ customer.tags * customer.attributes.huge }}", "repetition"),
    ("{{ 'x'|center(customer.attributes.huge) }}", "center: width 1,000,000,000 is over the limit"),
    ("{{ 'a\nb'|indent(customer.attributes.huge) }}", "indent would be over the limit"),
    ("{{ customer.attributes.wide|format(1) }}", "width 999999999 in a % format"),
    ("{{ customer.attributes.wide % 1 }}", "width 999999999 in a % format"),
    ("{{ customer.attributes.big|wordwrap(1) }}", "wordwrap would be over the limit"),
    ("{{ customer.attributes.big|wordwrap(10, true, customer.attributes.big) }}", "wordwrap would be over"),
    ("{{ customer.attributes.big|replace('a', 'bb') }}", "replace would be over the limit"),
    ("{{ 'ab'|replace('', customer.attributes.big) }}", "replace would be over the limit"),
    ("{{ range(10000)|join(customer.attributes.big) }}", "join would be over the limit"),
    ("{{ customer.attributes.big ~ customer.attributes.big }}", "~ would be over the limit"),
    ("{{ customer.attributes.big + customer.attributes.big }}", "the result of + would be over"),
    ("{{ 'x'.ljust(customer.attributes.huge) }}", ".ljust(): width 1,000,000,000"),
    ("{{ '\t'.expandtabs(customer.attributes.huge) }}", ".expandtabs() would be over"),
    ("{{ 'x'.encode().center(customer.attributes.huge) }}", ".center(): width"),
    ("{{ customer.attributes.big.replace('a', 'bb') }}", ".replace() would be over"),
    ("{{ customer.attributes.big.join(customer.tags * 2) }}", ".join() would be over"),
    ("{{ range(10)|slice(customer.attributes.huge)|list }}", "slice into 1,000,000,000"),
    ("{{ lipsum(customer.attributes.huge) }}", "lipsum of 1000000000 paragraphs"),
    ("{{ 10 ** customer.attributes.n }}", "exponent is over the limit of 64"),
    ("{% set ns = namespace(n=3) %}{% for i in range(64) %}{% set ns.n = ns.n * ns.n %}{% endfor %}", "4,096 bits"),
    ("{% set ns = namespace(s='ab') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}", "~ would"),
    ("{% set ns = namespace(l=[1]) %}{% for i in range(64) %}{% set ns.l = [ns.l, ns.l] %}{% endfor %}", "a list"),
    ("{% set ns = namespace(l=[1]) %}{% for i in range(64) %}{% set ns.l = ns.l + ns.l %}{% endfor %}", "+"),
    ("{% set ns = namespace(d={}) %}{% for i in range(64) %}{% set ns.d = dict(a=ns.d, b=ns.d) %}{% endfor %}", "call"),
    ("{{ range(10000)|map('center', 100000)|list|length }}", "makes over 1,000,000 characters"),
    ("{% for i in range(10000) %}{{ customer.attributes.big|upper }}{% endfor %}", "makes over 1,000,000 characters"),
    (
        "{% macro m() %}{% for i in range(10000) %}{{ customer.attributes.big }}{% endfor %}{% endmacro %}{{ m() }}",
        "makes over 1,000,000 characters",
    ),
    ("{% set x %}{% for i in range(10000) %}{{ customer.attributes.big }}{% endfor %}{% endset %}", "makes over"),
    ("{% for i in range(10000) %}" + "x" * 1000 + "{% endfor %}", "rendered text is 10000000 characters"),
    ("{% macro m() %}{% for i in range(10000) %}" + "x" * 1000 + "{% endfor %}{% endmacro %}{{ m()|length }}", "over"),
    ("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", "calls nest over 40 deep"),
    ("{% for x in [1] recursive %}{{ loop([1]) }}{% endfor %}", "recursive loops are not allowed"),
    ("{{ customer.attributes.big * 2 }}", "repetition"),
    ("{{ customer.attributes.big|list|sort|join }}", "runs over 100,000 loop iterations and calls"),
    ("{{ customer.attributes.big|map('upper')|select|unique|list|length }}", "runs over 100,000"),
    ("{{ range(10000)|list|tojson(customer.attributes.n // 100) }}", "tojson would be over the limit"),
    ("{{ customer.attributes|tojson(customer.attributes.huge) }}", "tojson: an indent over 100 is not allowed"),
    ("{{ ('http://a ' * 10000)|urlize(none, false, customer.attributes.big) }}", "urlize would be over the limit"),
    ("{{ customer.attributes.big|list|groupby('x', customer.attributes.big) }}", "over"),
    ("{{ range(9000)|groupby('x', customer.attributes.big) }}", "makes over 1,000,000 characters"),
]


@pytest.mark.parametrize(("source", "message"), RUNTIME)
def test_render_bounds_are_template_errors_that_allocate_little(source: str, message: str) -> None:
    assert message in refused(source)


def test_render_output_is_capped_and_a_render_is_timed(monkeypatch: pytest.MonkeyPatch) -> None:
    assert len(outcome("{{ 'x' * 100000 }}")) == MAX_OUTPUT
    assert "over the limit of 100000" in str(outcome("{{ 'x' * 100000 }}!"))
    monkeypatch.setattr(limits, "MAX_SECONDS", 0.2)
    ticks = itertools.count(step=0.01)  # a clock that advances 10 ms each time it is read: no real time passes
    slow = "{% for i in range(10000) %}{{ customer.attributes.big[:50000]|wordwrap(9)|length }}{% endfor %}"
    assert str(outcome(slow, clock=lambda: next(ticks))) == "the template takes over 0.2 s to render"


def test_renders_decide_by_counts_alone_unless_given_a_clock_as_a_replayed_workflow_must(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(limits, "MAX_SECONDS", 0.0)
    slow = "{% for i in range(200) %}{{ i }}{% endfor %}"
    assert str(outcome(slow, clock=time.monotonic)) == "the template takes over 0 s to render"
    assert render(slow, context()) == "".join(str(i) for i in range(200))
    with pytest.raises(TemplateError, match="runs over 100,000 loop iterations"):
        render("{% for i in range(10000) %}{% for j in range(11) %}{% endfor %}{% endfor %}", context())


def test_render_value_bounds_a_whole_webhook_body() -> None:
    body = {f"k{i}": "{{ customer.attributes.big }}" for i in range(11)}
    with pytest.raises(TemplateError, match="over the limit of 1,000,000 characters in all"):
        templating.render_value(body, context())
    assert templating.render_value({"a": ["{{ customer.name }}", 1]}, context()) == {"a": ["Sara", 1]}


def test_html_rendering_is_bounded_the_same_way() -> None:
    assert isinstance(outcome("{{ customer.attributes.big ~ customer.attributes.big }}", html=True), TemplateError)
    assert outcome("<b>{{ customer.name ~ '<' }}</b>", html=True) == "<b>Sara&lt;</b>"


# --- anything at all --------------------------------------------------------------------------------------

NUMBERS = st.sampled_from(["0", "1", "3", "-1", "100000", "10**9", "2**64", "customer.attributes.n"])
TEXTS = st.sampled_from(["'x'", "'ab\\n'", "customer.name", "customer.attributes.big", "'%9999999s'", "''"])


def _grow(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    pair = st.tuples(inner, inner, NUMBERS)
    return st.one_of(
        pair.map(lambda p: f"({p[0]} * {p[2]})"),
        pair.map(lambda p: f"({p[0]} ~ {p[1]})"),
        pair.map(lambda p: f"({p[0]} + {p[1]})"),
        pair.map(lambda p: f"({p[0]} % {p[1]})"),
        pair.map(lambda p: f"[{p[0]}, {p[1]}]"),
        pair.map(lambda p: f"({p[2]} ** {p[2]})"),
        pair.map(lambda p: f"{p[0]}|center({p[2]})"),
        pair.map(lambda p: f"{p[0]}|indent({p[2]})"),
        pair.map(lambda p: f"{p[0]}|wordwrap({p[2]})"),
        pair.map(lambda p: f"{p[0]}|truncate({p[2]})"),
        pair.map(lambda p: f"{p[0]}|replace('', {p[1]})"),
        pair.map(lambda p: f"{p[0]}|format({p[1]})"),
        pair.map(lambda p: f"{p[0]}|join({p[1]})"),
        pair.map(lambda p: f"{p[0]}|batch({p[2]}, 'x')|list"),
        pair.map(lambda p: f"{p[0]}|list|sort"),
        pair.map(lambda p: f"{p[0]}.center({p[2]})"),
        pair.map(lambda p: f"range({p[2]})|map('string')|join({p[0]})"),
        pair.map(lambda p: f"{p[0]}|attr({p[1]})"),
        pair.map(lambda p: f"{p[0]}.__class__"),
    )


EXPRESSIONS = st.recursive(TEXTS | NUMBERS, _grow, max_leaves=6)
TEMPLATES = st.one_of(
    EXPRESSIONS.map(lambda e: "{{ " + e + " }}"),
    st.tuples(NUMBERS, EXPRESSIONS).map(lambda p: f"{{% for i in range({p[0]}) %}}{{{{ {p[1]} }}}}{{% endfor %}}"),
    st.tuples(NUMBERS, NUMBERS, EXPRESSIONS).map(
        lambda p: (
            f"{{% for i in range({p[0]}) %}}{{% for j in range({p[1]}) %}}{{{{ {p[2]} }}}}{{% endfor %}}{{% endfor %}}"
        )
    ),
    st.tuples(NUMBERS, EXPRESSIONS).map(
        lambda p: (
            f"{{% set ns = namespace(v={p[1]}) %}}{{% for i in range({p[0]}) %}}{{% set ns.v = ns.v ~ ns.v %}}"
            "{% endfor %}{{ ns.v|length }}"
        )
    ),
    EXPRESSIONS.map(lambda e: f"{{% macro m(x) %}}{{{{ m(x ~ {e}) }}}}{{% endmacro %}}{{{{ m('') }}}}"),
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(source=TEMPLATES)
def test_any_template_renders_or_fails_cleanly_within_its_bounds(source: str) -> None:
    problems = check_template(source)
    assert all(isinstance(p, str) and "\n" not in p for p in problems)
    old, limits.MAX_SECONDS = limits.MAX_SECONDS, 0.3
    tracemalloc.start()
    try:
        result = outcome(source, timeout=20, clock=time.monotonic)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        limits.MAX_SECONDS = old
    assert isinstance(result, str | TemplateError), f"{source!r} raised {result!r}"
    if isinstance(result, str):
        assert len(result) <= MAX_OUTPUT
    assert peak < PEAK_BYTES, f"{source!r} allocated {peak:,} bytes"


# --- `update.set` values read back -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("42", 42),
        ("-3.5", -3.5),
        ("True", True),
        ("[1, 'a']", [1, "a"]),
        ("{'plan': 'fiber'}", {"plan": "fiber"}),
        ("premium", "premium"),
        ("1" + "+1" * 50_000, None),  # Python's parser runs out of stack
        ("-" * 9_000 + "1", None),  # ... or out of memory
        ("{{}}", None),  # a set holding a dict: TypeError
        ("1e999", None),  # infinity: no JSON
        ("1j", None),
        ("{1, 2}", None),
        ("b'x'", None),
        ("...", None),
        ("9" * 30, None),  # over 64 bits
        ("[" * 30 + "]" * 30, None),  # nested deeper than a stored attribute may be
    ],
)
def test_literal_reads_back_plain_data_and_leaves_anything_else_as_text(text: str, value: Any) -> None:
    assert templating.literal(text) == (text if value is None else value)


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet="0123456789+-*/.,:'\"[]{}()eEjxTrueFalsNn ", max_size=60) | st.text(max_size=30))
def test_literal_never_raises_and_gives_json_data_or_the_text(text: str) -> None:
    value = templating.literal(text)
    assert value == text or json.loads(json.dumps(value, allow_nan=False)) == json.loads(json.dumps(value))
