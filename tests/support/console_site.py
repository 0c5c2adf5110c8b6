"""The web console of a running `journeys dev`, as a person in a browser meets it: the admin `journeys dev` made
and printed, signing in through the form, and waiting for the runs to settle at their steps."""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.support.devserver import JOURNEYS, Dev
from tests.support.polling import until

WAIT_MS = 15_000  # Playwright's auto-waiting bound: the pages follow the runs within 2 s, this is for a busy machine
_PRINTED = re.compile(r"^Console: (\S+) as (\S+) with the password (\S+) \(kept in .*\)$", re.MULTILINE)


@dataclass(frozen=True)
class Site:
    """The console of `dev`: its address (ending in /console/) and the admin's name and password."""

    dev: Dev
    address: str
    admin: str
    password: str

    def url(self, path: str = "") -> str:
        return self.address + path.lstrip("/")

    def add_user(self, name: str, role: str, password: str) -> None:
        """`journeys users add NAME --role ROLE`, the password on standard input."""
        added = subprocess.run(
            [*JOURNEYS, "users", "add", name, "--role", role],
            input=password,
            env=self.dev.env,
            cwd=self.dev.cwd,
            capture_output=True,
            text=True,
        )
        assert added.returncode == 0, added.stderr

    def report(self, journey: str) -> dict[str, object]:
        report = self.dev.json("report", journey)
        assert isinstance(report, dict)
        return report

    def now_at(self, journey: str) -> dict[str, int]:
        """Live runs at each step, as `journeys report --json` counts them (steps with none left out)."""
        return {s["step"]: s["now"] for s in self.report(journey)["steps"] if s["now"]}  # type: ignore[index,union-attr]


def started(dev: Dev) -> Site:
    """The console of a `journeys dev` that has started, with the admin it printed."""
    printed = _PRINTED.search("".join(dev.said))
    assert printed is not None, "journeys dev did not print the console's address:\n" + "".join(dev.said)
    address, admin, password = printed.groups()
    return Site(dev, address, admin, password)


def import_customers(dev: Dev, customers: list[dict[str, object]], folder: Path) -> None:
    """`journeys customers import` of these customers, written to a JSON file in `folder`."""
    path = folder / "customers.json"
    path.write_text(json.dumps(customers, ensure_ascii=False), encoding="utf-8")
    imported = dev.run("customers", "import", str(path))
    assert imported.returncode == 0, imported.stderr


def settled(site: Site, journey: str, where: dict[str, int]) -> None:
    """Wait until the live runs are at these steps, as many at each (no run still on its way)."""
    until(lambda: site.now_at(journey) == where, 60, f"runs settled at {where}", lambda: site.now_at(journey))


def sign_in(page: Page, site: Site, name: str, password: str) -> None:
    """Through the sign-in form, as a person does; on the journeys list afterwards."""
    page.goto(site.url("sign-in"))
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    expect(page).to_have_url(site.url(), timeout=WAIT_MS)
