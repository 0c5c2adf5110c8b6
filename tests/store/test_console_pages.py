"""The web console's door and its pages that need no Temporal: signing in, sessions that expire and end when
the user is removed, forms refused without their CSRF token, each role refused beyond its rights (403, and
the control not shown), changes audited under the signed-in name, the customer search, the simulation page
as `journeys simulate` prints it, and bad input as one line."""

from __future__ import annotations

import asyncio
import html
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from temporalio.client import Client

from journeys.errors import TemporalUnavailable
from journeys.format.customers import Profile
from journeys.runtime.embedded import dev_console_user
from journeys.settings import Settings
from journeys.store import ROLES, Store
from tests.support import ROOT
from tests.support.cli import run_script
from tests.support.console import PASSWORD, console_client, csrf_of, post_form, post_on_customer, sign_in

SCENARIO = ROOT / "definitions" / "scenarios" / "modem_swap"


async def _no_temporal() -> Client:
    raise TemporalUnavailable("no Temporal server answers at localhost:1")


def _settings(tmp_path: Path, **changes: object) -> Settings:
    return Settings(data_dir=tmp_path / "data", definitions=ROOT / "definitions", **changes)  # type: ignore[arg-type]


@pytest.fixture
async def http(store: Store, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    for role in ROLES:
        store.add_user(role, role, PASSWORD, by="test")
    store.upsert_customers(
        [
            Profile(id="ada", name="Ada Lovelace", email="ada@example.com", phone="+4915112345678"),
            Profile(id="c2", name="علی رضایی", email="ali@example.com", phone="+989121000002"),
        ]
    )
    async with console_client(_settings(tmp_path), store, _no_temporal) as client:
        yield client


async def test_a_visitor_not_signed_in_is_sent_to_the_sign_in_page_and_back(http: httpx.AsyncClient) -> None:
    page = await http.get("/console/customers/ada")

    assert page.status_code == 303
    assert page.headers["location"] == "/console/sign-in?next=%2Fconsole%2Fcustomers%2Fada"
    form = await http.get(page.headers["location"])
    assert 'name="username"' in form.text and 'name="password"' in form.text
    assert re.search(r'<label for="username">', form.text) and re.search(r'<label for="password">', form.text)


async def test_signing_in_with_the_right_password_opens_the_console_with_a_strict_cookie(
    http: httpx.AsyncClient,
) -> None:
    answer = await sign_in(http, "viewer")

    assert (answer.status_code, answer.headers["location"]) == (303, "/console/")
    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "max-age=" in cookie
    assert (await http.get("/console/")).status_code == 200


async def test_a_wrong_password_or_an_unknown_name_does_not_sign_in(http: httpx.AsyncClient) -> None:
    wrong = await sign_in(http, "viewer", "not the password")
    unknown = await sign_in(http, "nobody")

    for answer in (wrong, unknown):
        assert answer.status_code == 401
        assert "unknown name or wrong password" in answer.text
    assert (await http.get("/console/")).status_code == 303


async def test_a_session_expires_after_its_hours(store: Store, tmp_path: Path) -> None:
    store.add_user("sam", "support", PASSWORD, by="test")
    brief = _settings(tmp_path, console_session_hours=1 / 3600)  # one second
    async with console_client(brief, store, _no_temporal) as http:
        await sign_in(http, "sam")
        assert (await http.get("/console/")).status_code == 200

        await asyncio.sleep(1.2)
        http.cookies.clear()  # the browser drops the cookie at its Max-Age; the server refuses it anyway:
        expired = await http.get("/console/")

    assert expired.status_code == 303 and expired.headers["location"].startswith("/console/sign-in")


async def test_an_expired_session_cookie_kept_by_a_client_is_refused(store: Store, tmp_path: Path) -> None:
    store.add_user("sam", "support", PASSWORD, by="test")
    brief = _settings(tmp_path, console_session_hours=1 / 3600)
    async with console_client(brief, store, _no_temporal) as http:
        signed = await sign_in(http, "sam")
        cookie = signed.cookies["journeys_console"]
        await asyncio.sleep(1.2)
        http.cookies.clear()
        replayed = await http.get("/console/", headers={"Cookie": f"journeys_console={cookie}"})

    assert replayed.status_code == 303


async def test_a_removed_user_is_signed_out_from_the_next_request_on(http: httpx.AsyncClient, store: Store) -> None:
    await sign_in(http, "support")
    assert (await http.get("/console/")).status_code == 200

    store.remove_user("support")

    assert (await http.get("/console/")).status_code == 303


async def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(
    http: httpx.AsyncClient, store: Store
) -> None:
    await sign_in(http, "support")
    fields = {"event": "swapped", "reason": "called us"}

    missing = await http.post("/console/customers/ada/events", data=fields)
    forged = await http.post("/console/customers/ada/events", data={**fields, "csrf": "0" * 64})

    assert missing.status_code == 403 and forged.status_code == 403
    assert "another site" in forged.text
    assert store.event_rows_of("ada") == [] and store.customer_audits_of("ada") == []


async def test_a_token_from_before_signing_in_is_worth_nothing_after(http: httpx.AsyncClient, store: Store) -> None:
    before = csrf_of((await http.get("/console/sign-in")).text)
    await http.post("/console/sign-in", data={"username": "support", "password": PASSWORD, "csrf": before})

    answer = await http.post(
        "/console/customers/ada/events", data={"event": "swapped", "reason": "called", "csrf": before}
    )

    assert answer.status_code == 403 and store.event_rows_of("ada") == []


async def _support_posts(http: httpx.AsyncClient, action: str, fields: dict[str, str]) -> httpx.Response:
    """Signed in as support, post one of the forms of Ada's page."""
    await sign_in(http, "support")
    return await post_on_customer(http, "ada", action, fields)


async def test_an_event_recorded_in_the_console_is_audited_under_the_signed_in_name(
    http: httpx.AsyncClient, store: Store
) -> None:
    answer = await _support_posts(
        http, "events", {"event": "swapped", "data": '{"shop": "Tehran 3"}', "reason": "she swapped in the shop"}
    )

    assert answer.status_code == 303 and answer.headers["location"].startswith("/console/customers/ada?said=")
    (event,) = store.event_rows_of("ada")
    assert (event.name, event.data, event.source) == ("swapped", {"shop": "Tehran 3"}, "console")
    (audit,) = store.customer_audits_of("ada")
    assert (audit.action, audit.by, audit.reason) == ("event", "support", "she swapped in the shop")
    assert audit.details == {"event": "swapped", "event_id": event.id}


async def test_a_consent_change_in_the_console_is_audited_under_the_signed_in_name(
    http: httpx.AsyncClient, store: Store
) -> None:
    answer = await _support_posts(http, "consent", {"channel": "sms", "allow": "off", "reason": "asked on the phone"})

    assert answer.status_code == 303
    (audit,) = store.customer_audits_of("ada")
    assert (audit.action, audit.by, audit.reason) == ("consent", "support", "asked on the phone")
    page = await http.get("/console/customers/ada")
    assert 'data-channel="sms">sms: <strong>no</strong>' in page.text


async def test_a_form_posted_by_the_page_script_gets_one_line_of_json(http: httpx.AsyncClient, store: Store) -> None:
    await sign_in(http, "support")
    token = csrf_of((await http.get("/console/customers/ada")).text)
    headers = {"X-Console-Fetch": "1"}

    ok = await http.post(
        "/console/customers/ada/events", data={"event": "called", "reason": "r", "csrf": token}, headers=headers
    )
    bad = await http.post(
        "/console/customers/ada/events",
        data={"event": "called", "data": "{not json", "reason": "r", "csrf": token},
        headers=headers,
    )

    assert ok.status_code == 200 and ok.json()["message"].startswith("called recorded")
    assert bad.status_code == 422 and bad.json() == {
        "error": "data: not JSON (line 1, column 2: Expecting property name enclosed in double quotes)"
    }
    timeline = await http.get("/console/customers/ada/timeline")
    assert timeline.text.count('data-kind="event"') == 1 and timeline.text.count('data-kind="audit"') == 1


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("reason", " ", "reason: say why (it is kept in the audit trail)"),
        ("data", "[1, 2]", "data: must be a JSON object"),
        ("event", "", "event: give the name of the event"),
    ],
)
async def test_a_bad_event_form_is_one_line_and_records_nothing(
    http: httpx.AsyncClient, store: Store, field: str, value: str, error: str
) -> None:
    await sign_in(http, "support")
    fields = {"event": "swapped", "reason": "called", "data": "", field: value}

    answer = await post_on_customer(http, "ada", "events", fields)

    assert answer.status_code == 422
    assert error in answer.text and "Traceback" not in answer.text
    assert store.event_rows_of("ada") == [] and store.customer_audits_of("ada") == []


# --- roles ---------------------------------------------------------------------------------------------------


async def test_a_viewer_sees_everything_but_no_control_and_is_refused_every_action(
    http: httpx.AsyncClient, store: Store
) -> None:
    await sign_in(http, "viewer")
    page = await http.get("/console/customers/ada")
    journey = await http.get("/console/journeys/modem-swap")
    token = csrf_of(page.text)  # the sign-out form's: the viewer's session is real

    assert page.status_code == 200 and journey.status_code == 200
    assert "/events" not in page.text and "/consent" not in page.text and "/erase" not in page.text
    assert "/pause" not in journey.text and "/enrol" not in journey.text
    for action, fields in (
        ("/console/customers/ada/events", {"event": "swapped", "reason": "r"}),
        ("/console/customers/ada/consent", {"channel": "sms", "allow": "off", "reason": "r"}),
        ("/console/customers/ada/cancel", {"reason": "r"}),
        ("/console/customers/ada/move", {"journey": "modem-swap", "step": "done", "reason": "r"}),
        ("/console/journeys/modem-swap/pause", {}),
        ("/console/customers/ada/erase", {"reason": "r"}),
    ):
        refused = await http.post(action, data={**fields, "csrf": token})
        assert refused.status_code == 403, action
        assert "viewer is viewer" in refused.text
    assert store.event_rows_of("ada") == [] and store.customer_audits_of("ada") == []
    assert not store.is_paused("modem-swap")


async def test_support_may_record_but_not_pause_enrol_or_erase(http: httpx.AsyncClient, store: Store) -> None:
    await sign_in(http, "support")
    page = await http.get("/console/customers/ada")
    journey = await http.get("/console/journeys/modem-swap")

    assert "/events" in page.text and "/consent" in page.text and "/erase" not in page.text
    assert "/pause" not in journey.text and "/enrol" not in journey.text and "/migrate" not in journey.text
    token = csrf_of(page.text)
    for action, fields in (
        ("/console/journeys/modem-swap/pause", {}),
        ("/console/journeys/modem-swap/enrol", {"customers": "ada"}),
        ("/console/journeys/modem-swap/migrate", {"to_version": "1"}),
        ("/console/customers/ada/erase", {"reason": "r"}),
    ):
        assert (await http.post(action, data={**fields, "csrf": token})).status_code == 403, action
    assert store.customer_row("ada") is not None and not store.is_paused("modem-swap")


async def test_a_marketer_sees_pause_enrol_and_migrate_but_not_erase(http: httpx.AsyncClient) -> None:
    await sign_in(http, "marketer")
    page = await http.get("/console/customers/ada")
    journey = await http.get("/console/journeys/modem-swap")

    assert "/pause" in journey.text and "/enrol" in journey.text and "/migrate" in journey.text
    assert "/events" in page.text and "/erase" not in page.text
    refused = await http.post("/console/customers/ada/erase", data={"reason": "r", "csrf": csrf_of(page.text)})
    assert refused.status_code == 403


async def test_an_admin_sees_the_erase_form(http: httpx.AsyncClient) -> None:
    await sign_in(http, "admin")
    assert "/console/customers/ada/erase" in (await http.get("/console/customers/ada")).text


async def test_a_role_changed_in_the_store_counts_from_the_next_request(http: httpx.AsyncClient, store: Store) -> None:
    await sign_in(http, "marketer")
    assert "/pause" in (await http.get("/console/journeys/modem-swap")).text
    store.remove_user("marketer")
    store.add_user("marketer", "viewer", PASSWORD, by="test")

    assert "/pause" not in (await http.get("/console/journeys/modem-swap")).text


# --- pages ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "found"),
    [("ada@example.com", ["ada"]), ("+989121000002", ["c2"]), ("lovelace", ["ada"]), ("رضایی", ["c2"]), ("c2", ["c2"])],
)
async def test_the_search_finds_customers_by_email_phone_name_and_id(
    http: httpx.AsyncClient, query: str, found: list[str]
) -> None:
    await sign_in(http, "viewer")

    page = await http.get("/console/", params={"q": query})

    assert re.findall(r'<tr data-customer="([^"]+)"', page.text) == found


async def test_the_home_page_lists_the_journeys_with_their_numbers(http: httpx.AsyncClient) -> None:
    await sign_in(http, "viewer")

    page = await http.get("/console/")

    listed = re.findall(r'<tr data-journey="([^"]+)"', page.text)
    assert listed == sorted(listed) and "modem-swap" in listed
    assert "<title>Journeys · journeys console</title>" in page.text


async def test_unknown_customers_journeys_and_steps_are_a_404_page(http: httpx.AsyncClient) -> None:
    await sign_in(http, "viewer")

    for path, words in (
        ("/console/customers/nobody", "no customer 'nobody' in the store"),
        ("/console/journeys/nothing", "no journey 'nothing'"),
        ("/console/journeys/modem-swap.yaml", "no journey 'modem-swap.yaml'"),
        ("/console/journeys/modem-swap/steps/nowhere", "journey 'modem-swap' has no step 'nowhere'"),
    ):
        page = await http.get(path)
        assert page.status_code == 404 and words in html.unescape(page.text), path


async def test_the_console_stays_out_of_the_api_schema(http: httpx.AsyncClient) -> None:
    schema = (await http.get("/openapi.json")).json()
    assert not [path for path in schema["paths"] if "console" in path]


async def test_the_simulation_page_shows_what_journeys_simulate_prints(http: httpx.AsyncClient) -> None:
    await sign_in(http, "viewer")
    start = "2026-11-23T08:00:00+03:30"
    customers = (SCENARIO / "customers.yaml").read_text(encoding="utf-8")
    events = (SCENARIO / "events.yaml").read_text(encoding="utf-8")

    page = await post_form(
        http,
        "/console/simulate",
        "/console/simulate",
        {"journey": "modem-swap", "customers": customers, "events": events, "days": "30", "start": start},
    )
    cli = run_script(
        "simulate",
        "definitions/modem_swap.yaml",
        "--customers",
        str(SCENARIO / "customers.yaml"),
        "--events",
        str(SCENARIO / "events.yaml"),
        "--start",
        start,
        "--json",
    )

    assert page.status_code == 200, page.text
    expected = [
        (c["id"], m["at"], m["step"], m["channel"]) for c in json.loads(cli.stdout)["customers"] for m in c["messages"]
    ]
    shown = [
        (customer, at, step, channel)
        for customer, section in re.findall(
            r'<section class="simulated" data-customer="([^"]+)">(.*?)</section>', page.text, re.S
        )
        for at, step, channel in re.findall(
            r'<tr class="message" data-at="([^"]+)" data-step="([^"]+)" data-channel="([^"]+)"', section
        )
    ]
    assert expected and shown == expected


async def test_an_uploaded_csv_of_customers_is_simulated_too(http: httpx.AsyncClient) -> None:
    await sign_in(http, "viewer")
    token = csrf_of((await http.get("/console/simulate")).text)
    csv = "id,name,email,phone,plan,wimax_id\nc9,Sara,sara@example.com,+989121000009,wimax,W-9\n"

    page = await http.post(
        "/console/simulate",
        data={"journey": "modem-swap", "csrf": token, "start": "2026-11-23T08:00:00+03:30"},
        files={"customers_file": ("people.csv", csv.encode(), "text/csv")},
    )

    assert page.status_code == 200 and '<section class="simulated" data-customer="c9">' in page.text


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"customers": "- {name: Sara, email: a@example.com}"}, "customers.yaml:1: "),
        ({"customers": "- {id: c1, email: a@example.com}", "events": "- {customer: c7, event: x}"}, "events.yaml:1"),
        ({"customers": "- {id: c1, email: a@example.com}", "start": "tomorrow"}, "start 'tomorrow': expected"),
        ({"customers": "- {id: c1, email: a@example.com}", "days": "many"}, "days 'many'"),
        ({"customers": "- {id: c1, email: a@example.com}", "journey": "nothing"}, "journey: choose one of"),
        ({"customers": "[unclosed"}, "customers.yaml"),
    ],
)
async def test_bad_simulation_input_is_one_line_on_the_page(
    http: httpx.AsyncClient, fields: dict[str, str], error: str
) -> None:
    await sign_in(http, "viewer")

    page = await post_form(http, "/console/simulate", "/console/simulate", {"journey": "modem-swap", **fields})

    assert page.status_code == 422
    (shown,) = re.findall(r'<p class="error" role="alert" dir="auto">(.*?)</p>', html.unescape(page.text), re.S)
    assert error in shown and "\n" not in shown.strip() and "/tmp" not in shown


def test_journeys_dev_makes_one_console_admin_and_keeps_its_password(store: Store, tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    settings.data_dir.mkdir(parents=True)

    first = dev_console_user(settings, store)
    again = dev_console_user(settings, store)
    store.remove_user("admin")
    after_removal = dev_console_user(settings, store)

    assert first == again and first[0] == "admin" and first[2] == settings.data_dir / "console-password"
    assert store.signed_in("admin", first[1]) is None
    assert after_removal[0] == "admin" and store.signed_in("admin", after_removal[1]) is not None
    assert store.user("admin").role == "admin"  # type: ignore[union-attr]


async def test_an_admin_adds_a_user_whose_made_password_is_shown_once_and_signs_in(
    http: httpx.AsyncClient, store: Store, tmp_path: Path
) -> None:
    await sign_in(http, "admin")

    added = await post_form(http, "/console/access", "/console/access/users", {"name": "nika", "role": "support"})
    again = await http.get("/console/access")

    (password,) = re.findall(r'<code id="secret" dir="ltr">([^<]+)</code>', added.text)
    assert store.signed_in("nika", password) is not None and store.user("nika").role == "support"  # type: ignore[union-attr]
    assert password not in again.text and 'data-user="nika"' in again.text
    async with console_client(_settings(tmp_path), store, _no_temporal) as other:
        assert (await sign_in(other, "nika", password)).status_code == 303


async def test_an_admin_makes_and_revokes_an_api_key(http: httpx.AsyncClient, store: Store) -> None:
    await sign_in(http, "admin")

    made = await post_form(http, "/console/access", "/console/access/keys", {"name": "shop", "scope": "events"})
    (key,) = re.findall(r'<code id="secret" dir="ltr">([^<]+)</code>', made.text)
    assert store.key_scope(key) == ("shop", "events")

    await post_form(http, "/console/access", "/console/access/keys/shop/revoke", {})

    assert store.key_scope(key) is None


async def test_only_an_admin_sees_or_manages_users_and_keys(http: httpx.AsyncClient, store: Store) -> None:
    await sign_in(http, "marketer")
    home = await http.get("/console/")
    token = csrf_of(home.text)

    assert "/console/access" not in home.text
    assert (await http.get("/console/access")).status_code == 403
    refused = await http.post("/console/access/users", data={"name": "x", "role": "admin", "csrf": token})
    assert refused.status_code == 403 and store.user("x") is None


@pytest.mark.parametrize(
    "path",
    ["/console/", "/console/journeys/modem-swap", "/console/customers/c2", "/console/simulate", "/console/access"],
)
async def test_every_page_has_a_language_a_title_and_a_label_for_every_control(
    http: httpx.AsyncClient, path: str
) -> None:
    await sign_in(http, "admin")

    page = (await http.get(path)).text

    assert '<html lang="en" dir="ltr">' in page
    assert re.search(r"<title>[^<]{3,} · journeys console</title>", page)
    controls = [c for c in re.findall(r"<(?:input|select|textarea)\b[^>]*>", page) if 'type="hidden"' not in c]
    assert controls
    for control in controls:
        found = re.search(r'\bid="([^"]+)"', control)
        wrapped = re.search(r"<label>\s*" + re.escape(control), page)
        assert wrapped or (found and f'<label for="{found.group(1)}"' in page), control


async def test_persian_names_and_messages_are_laid_out_by_their_own_direction(http: httpx.AsyncClient) -> None:
    await sign_in(http, "viewer")

    page = await http.get("/console/customers/c2")
    found = await http.get("/console/", params={"q": "علی"})

    assert '<h1><span dir="auto">علی رضایی</span>' in page.text
    assert '<td dir="auto">علی رضایی</td>' in found.text
