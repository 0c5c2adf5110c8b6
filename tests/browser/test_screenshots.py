"""The README's pictures of the console, taken by this test's browser from `make demo`'s story, so they show
what the console shows today: docs/screenshots/journey.png (the modem swap's journey page) and
docs/screenshots/customer.png (a Persian customer's page), 1280 pixels wide. Taken on every browser run;
the docs' copies are replaced only when `JOURNEYS_UPDATE_SCREENSHOTS=1` (`make screenshots`), so a test run
leaves the tree as it found it (the customer's page shows times: each run's picture differs).

The story is `journeys/cli/demo.py`'s: its scenario's customers imported, c4's earlier swap recorded, everyone
enrolled, c1 registering and uploading her ID, c3 swapping. One change: the customers live where it is
midday (`midday_zone`), so the modem swap's quiet hours hold no invitation whatever the hour the suite runs.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from playwright.sync_api import Browser, expect
from ruamel.yaml import YAML

from tests.support import ROOT
from tests.support.clock import midday_zone
from tests.support.console_site import WAIT_MS, import_customers, settled, sign_in, started
from tests.support.devserver import Dev

SCENARIO = ROOT / "definitions" / "scenarios" / "modem_swap"
DOCS = ROOT / "docs" / "screenshots"
STORY = [  # make demo's commands after the import, in its order
    ["signal", "c4", "swapped", "--id", "c4-swapped-in-shop"],
    ["enroll", "modem-swap", "--all"],
    ["signal", "c1", "registered"],
    ["signal", "c1", "document_uploaded", "--data", "kind=national_id", "--data", "ref=courier-7731"],
    ["signal", "c3", "swapped"],
]
PERSIAN = "c3"  # رضا, fa-IR: invited, then swapped in a shop


def test_screenshots_of_the_demo_journey_and_a_persian_customer(browser: Browser, tmp_path: Path) -> None:
    shots = tmp_path / "screenshots"
    shots.mkdir()
    dev = Dev(tmp_path)
    dev.start()
    try:
        customers = YAML(typ="safe", pure=True).load((SCENARIO / "customers.yaml").read_text(encoding="utf-8"))
        import_customers(dev, [c | {"timezone": midday_zone()} for c in customers], tmp_path)
        for command in STORY:
            done = dev.run(*command)
            assert done.returncode == 0, f"journeys {' '.join(command)}: {done.stderr}"
        site = started(dev)
        settled(site, "modem-swap", {"await_registration": 2, "await_delivery": 1})  # c2 and c6; c1

        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        sign_in(page, site, site.admin, site.password)
        page.goto(site.url("journeys/modem-swap"))
        expect(page.locator('g.step[data-step="await_registration"]')).to_have_attribute("data-now", "2")
        below_map = page.locator("#map").bounding_box()
        assert below_map is not None
        height = below_map["y"] + below_map["height"] + 16  # the header, the counts line and the map
        page.screenshot(
            path=shots / "journey.png", full_page=True, clip={"x": 0, "y": 0, "width": 1280, "height": height}
        )

        page.goto(site.url(f"customers/{PERSIAN}"))
        expect(page.locator('#timeline li[data-kind="event"]')).to_contain_text("swapped", timeout=WAIT_MS)
        expect(page.locator('#timeline li[data-kind="message"]').first).to_be_visible()
        page.screenshot(path=shots / "customer.png", full_page=True)
        context.close()
    finally:
        dev.stop()

    for name in ("journey.png", "customer.png"):
        picture = (shots / name).read_bytes()
        assert picture[:8] == b"\x89PNG\r\n\x1a\n"
        assert int.from_bytes(picture[16:20], "big") == 1280  # the IHDR's width
        if os.environ.get("JOURNEYS_UPDATE_SCREENSHOTS") == "1":
            shutil.copyfile(shots / name, DOCS / name)
