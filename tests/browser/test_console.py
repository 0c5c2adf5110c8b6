"""The web console end to end in Debian's Chromium: one `journeys dev` (dev server, worker, store) for the module,
the modem swap running for a few customers, and a person signing in and working through the pages.

The customers live where it is midday (`midday_zone`), so the modem swap's quiet hours hold none of their
invitations whatever the hour the suite runs: every run reaches `await_registration` and waits there.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.support.a11y import problems
from tests.support.clock import midday_zone
from tests.support.console_site import WAIT_MS, Site, import_customers, settled, sign_in, started
from tests.support.devserver import Dev
from tests.support.polling import until

JOURNEY = "modem-swap"
WAITING = "await_registration"  # where each enrolled run waits for the customer to register
PERSIAN = "maryam"
CUSTOMERS = ["sara", "omid", "nazanin", "mina", PERSIAN]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("console")
    dev = Dev(folder)
    dev.start()
    try:
        zone = midday_zone()
        people = [
            {"id": c, "name": c.title(), "email": f"{c}@example.com", "phone": f"+98912100000{n}", "locale": "en"}
            for n, c in enumerate(CUSTOMERS)
        ]
        people[-1] |= {"name": "مریم رضایی", "locale": "fa"}
        import_customers(
            dev, [p | {"timezone": zone, "plan": "wimax", "wimax_id": f"W-{p['id']}"} for p in people], folder
        )
        enrolled = dev.json("enroll", JOURNEY, "--all")
        assert [e["status"] for e in enrolled["enrolments"]] == ["started"] * len(CUSTOMERS)  # type: ignore[index]
        site = started(dev)
        settled(site, JOURNEY, {WAITING: len(CUSTOMERS)})
        yield site
    finally:
        if dev.process is not None and dev.process.poll() is None:
            dev.stop()


@pytest.fixture
def admin(page: Page, site: Site) -> Page:
    """A page signed in as the admin `journeys dev` made."""
    sign_in(page, site, site.admin, site.password)
    return page


def no_problems(page: Page) -> None:
    """The page passes the accessibility basics: a title, a label for each control, readable contrast."""
    assert problems(page) == [], page.url


def step_of(page: Page, step: str) -> object:
    return page.locator(f'g.step[data-step="{step}"]')


def test_sign_in_with_the_password_journeys_dev_printed(page: Page, site: Site) -> None:
    page.goto(site.url())
    expect(page).to_have_url(re.compile(r"/console/sign-in"), timeout=WAIT_MS)  # not signed in: sent to sign in
    no_problems(page)

    page.fill("input[name=username]", site.admin)
    page.fill("input[name=password]", site.password + "-not")
    page.click("button[type=submit]")
    expect(page.get_by_role("alert")).to_have_text("unknown name or wrong password", timeout=WAIT_MS)
    expect(page.locator("input[name=password]")).to_be_visible()
    no_problems(page)

    sign_in(page, site, site.admin, site.password)
    expect(page.locator("header")).to_contain_text(f"Signed in as {site.admin} (admin)")


def test_journeys_list_shows_the_modem_swap_with_its_live_runs(admin: Page, site: Site) -> None:
    live = sum(site.now_at(JOURNEY).values())
    row = admin.locator("tr", has=admin.locator(f'a[href="/console/journeys/{JOURNEY}"]'))
    expect(row).to_contain_text("WiMAX to TD-LTE modem swap", timeout=WAIT_MS)
    expect(row.locator("td").nth(3)).to_have_text(str(live))
    no_problems(admin)


def test_journey_map_counts_are_those_of_journeys_report(admin: Page, site: Site) -> None:
    admin.goto(site.url(f"journeys/{JOURNEY}"))
    now = site.now_at(JOURNEY)
    assert now  # runs wait somewhere: the comparison below is not of zeros alone
    for step, count in now.items():
        expect(step_of(admin, step)).to_have_attribute("data-now", str(count), timeout=WAIT_MS)
    shown = {
        s.get_attribute("data-step"): int(s.get_attribute("data-now") or 0)
        for s in admin.locator("g.step[data-step]").all()
    }
    assert {step: n for step, n in shown.items() if n} == now
    no_problems(admin)

    admin.click(f'a[href="/console/journeys/{JOURNEY}/steps/{WAITING}"]')
    expect(admin.locator("main")).to_contain_text("sara", timeout=WAIT_MS)
    no_problems(admin)


def test_event_recorded_on_customer_page_shows_in_timeline_and_journey_counts_without_reload(
    admin: Page, site: Site
) -> None:
    journey = admin.context.new_page()  # the journey page, left open in another tab
    journey.goto(site.url(f"journeys/{JOURNEY}"))
    before = site.now_at(JOURNEY)[WAITING]
    expect(step_of(journey, WAITING)).to_have_attribute("data-now", str(before), timeout=WAIT_MS)
    journey.evaluate("window.stillHere = true")

    admin.goto(site.url("customers/sara"))
    admin.evaluate("window.stillHere = true")
    expect(admin.locator('#timeline li[data-kind="event"]')).to_have_count(0)
    admin.fill("#event-name", "swapped")
    admin.fill("#event-reason", "swapped in the shop, said on the phone")
    admin.get_by_role("button", name="Record the event").click()

    expect(admin.locator('#timeline li[data-kind="event"]')).to_contain_text("swapped", timeout=WAIT_MS)
    expect(admin.locator("#runs li[data-run]")).to_contain_text("exited", timeout=WAIT_MS)
    expect(admin.locator("#said")).to_be_visible()
    expect(step_of(journey, WAITING)).to_have_attribute("data-now", str(before - 1), timeout=WAIT_MS)
    expect(journey.locator(f'[data-now-of="{WAITING}"]')).to_have_text(str(before - 1), timeout=WAIT_MS)
    assert admin.evaluate("window.stillHere") is True  # neither page was loaded again
    assert journey.evaluate("window.stillHere") is True
    no_problems(admin)


def test_move_a_run_with_a_reason_shows_the_audit_entry_by_the_signed_in_user(admin: Page, site: Site) -> None:
    admin.goto(site.url("customers/omid"))
    admin.select_option("#move-journey", JOURNEY)
    admin.select_option("#move-step", "await_delivery")
    admin.fill("#move-reason", "registered by phone with the call centre")
    admin.get_by_role("button", name="Move", exact=True).click()

    audit = admin.locator('#timeline li[data-kind="audit"]')
    expect(audit).to_contain_text(f"by {site.admin}", timeout=WAIT_MS)
    expect(audit).to_contain_text("registered by phone with the call centre")
    expect(audit).to_contain_text(f"{WAITING} → await_delivery")
    until(lambda: site.now_at(JOURNEY).get("await_delivery") == 1, WAIT_MS / 1000, "the run at await_delivery")
    no_problems(admin)


def test_viewer_sees_no_action_forms_and_is_refused_posting_one(page: Page, site: Site) -> None:
    site.add_user("vera", "viewer", "a viewer's long password")
    sign_in(page, site, "vera", "a viewer's long password")
    page.goto(site.url("customers/nazanin"))
    expect(page.locator("h1")).to_contain_text("Nazanin", timeout=WAIT_MS)
    assert page.locator("form[action*='/customers/']").count() == 0
    expect(page.get_by_role("button", name="Record the event")).to_have_count(0)

    token = page.locator("input[name=csrf]").first.get_attribute("value")  # the sign-out form's, her session's
    assert token
    refused = page.request.post(
        site.url("customers/nazanin/events"),
        form={"event": "swapped", "reason": "trying beyond my role", "csrf": token},
        max_redirects=0,
    )
    assert refused.status == 403
    page.reload()
    expect(page.locator("#timeline li[data-kind]").first).to_be_visible(timeout=WAIT_MS)
    expect(page.locator('#timeline li[data-kind="event"]')).to_have_count(0)  # nothing was recorded


def test_simulation_of_pasted_customers_and_events_shows_the_messages_it_would_send(admin: Page, site: Site) -> None:
    admin.goto(site.url("simulate"))
    no_problems(admin)
    admin.select_option("#sim-journey", JOURNEY)
    admin.fill(
        "#sim-customers",
        "- {id: s1, name: Sara, email: s1@example.com, phone: '+989121000001', plan: wimax, wimax_id: W-1}\n"
        "- {id: s2, name: Reza, email: s2@example.com, phone: '+989121000002', plan: wimax, wimax_id: W-2}\n",
    )
    admin.select_option("#sim-customers-format", "yaml")
    admin.fill("#sim-events", "- {customer: s2, event: swapped, after: 1h}\n")
    admin.fill("#sim-days", "10")
    admin.fill("#sim-start", "2026-11-23T10:00:00+03:30")  # a Monday morning in Tehran, out of quiet hours
    admin.get_by_role("button", name="Simulate", exact=True).click()

    expect(admin.locator("#result")).to_contain_text("2 customer(s)", timeout=WAIT_MS)
    first = admin.locator('section.simulated[data-customer="s1"]')
    expect(first.locator("tr.message").first).to_have_attribute("data-channel", "email")
    expect(first.locator('tr.message[data-step="remind"]').first).to_be_visible()
    swapped = admin.locator('section.simulated[data-customer="s2"]')
    expect(swapped).to_contain_text("on swapped")
    expect(swapped.locator("tr.message")).to_have_count(1)  # the invitation, then the swap ends it
    no_problems(admin)


def test_persian_name_reads_right_to_left_on_the_customer_page(admin: Page, site: Site) -> None:
    admin.goto(site.url(f"customers/{PERSIAN}"))
    name = admin.locator("h1 [dir]", has_text="مریم رضایی")
    expect(name).to_have_attribute("dir", re.compile("^(auto|rtl)$"), timeout=WAIT_MS)
    assert name.evaluate("element => getComputedStyle(element).direction") == "rtl"
    assert admin.locator("html").get_attribute("dir") == "ltr"  # the page itself stays left to right
    no_problems(admin)


def test_every_page_passes_the_accessibility_basics(admin: Page, site: Site) -> None:
    for path in ["", f"journeys/{JOURNEY}", f"journeys/{JOURNEY}/steps/{WAITING}", "customers/mina", "simulate"]:
        admin.goto(site.url(path))
        expect(admin.locator("h1")).to_be_visible(timeout=WAIT_MS)
        no_problems(admin)
