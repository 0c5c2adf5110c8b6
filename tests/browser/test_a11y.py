"""The accessibility checks of tests/support/a11y.py, on pages made to pass and to fail them."""

from __future__ import annotations

from playwright.sync_api import Page

from tests.support.a11y import problems

GOOD = """<!doctype html><html lang="en"><head><title>Sign in</title></head><body>
<form>
  <label for="user">Name</label> <input id="user" name="username">
  <label>Password <input type="password" name="password"></label>
  <input name="q" aria-label="Search customers">
  <span id="reason-label">Reason</span> <textarea name="reason" aria-labelledby="reason-label"></textarea>
  <label for="role">Role</label> <select id="role" name="role"><option>viewer</option></select>
  <input type="hidden" name="csrf" value="x"> <input type="submit" value="Sign in">
</form>
<p style="color:#595959">Grey but readable: 7.0 on white.</p>
<p style="color:#fff;background:#0b4f8a">White on dark blue.</p>
<h1 style="font-size:32px;color:#949494">Large text needs only 3</h1>
<svg width="200" height="40"><rect width="200" height="40" fill="#1b1f24"/>
  <text x="10" y="25" fill="#ffffff">light on dark</text></svg>
</body></html>"""

BAD = """<!doctype html><html lang="en"><head><title> </title></head><body>
<input name="username"> <label>Password</label> <input type="password" name="password">
<p id="faint" style="color:#aaaaaa">Too faint on white</p>
<div style="background:#333"><span id="dark" style="color:#555">Dark on dark</span></div>
<svg width="200" height="40"><rect width="200" height="40" fill="#1b1f24"/>
  <text x="10" y="25" fill="#333333">hidden in the dark</text></svg>
</body></html>"""


def test_a11y_good_page_has_no_problems(page: Page) -> None:
    page.set_content(GOOD)
    assert problems(page) == []


def test_a11y_names_each_failing_element(page: Page) -> None:
    page.set_content(BAD)
    found = {(p.rule, p.element.split(" ")[0]) for p in problems(page)}
    assert found == {
        ("title", "html"),
        ("label", 'input[name="username"]'),
        ("label", 'input[name="password"]'),
        ("contrast", "p#faint"),
        ("contrast", "span#dark"),
        ("contrast", "text"),
    }
    faint = next(p for p in problems(page) if p.element.startswith("p#faint"))
    assert str(faint) == 'contrast: p#faint "Too faint on white": 2.32 < 4.5: rgb(170, 170, 170) on rgb(255, 255, 255)'
