"""What the console's templates are given, and how a page or an answer to a form is made.

The templates are ours (`templates/`), so a plain Jinja2 environment with autoescape on everywhere: any text
from a customer, a journey or a message is escaped. A form posted by the page's script (`fetch`, with the
header `X-Console-Fetch`) gets JSON back; the same form posted without JavaScript gets a redirect to the page
(or the page again with the one-line error).
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader

from journeys.http.console.auth import CSRF_FIELD, Person
from journeys.settings import Settings
from journeys.store import Store

HERE = Path(__file__).resolve().parent
FETCH_HEADER = "x-console-fetch"

environment = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=True, trim_blocks=True)


def when(value: datetime | str | None) -> str:
    """A time as people read it, in UTC (the same for everyone looking at the same page)."""
    if value is None:
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return f"{value:%Y-%m-%d %H:%M:%S} UTC" if value.tzinfo is None else value.strftime("%Y-%m-%d %H:%M:%S %Z")


def iso(value: datetime | str | None) -> str:
    return value.isoformat() if isinstance(value, datetime) else (value or "")


def as_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def percent(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.1f}%"


def url_part(text: Any) -> str:
    return quote(str(text), safe="")


environment.filters.update(when=when, iso=iso, json=as_json, percent=percent, url=url_part)


def state(request: Request) -> tuple[Settings, Store]:
    """The app's settings and store."""
    return request.app.state.settings, request.app.state.store


def page(
    request: Request, template: str, title: str, person: Person | None, status: int = 200, **context: Any
) -> HTMLResponse:
    html = environment.get_template(template).render(
        title=title, person=person, csrf_field=CSRF_FIELD, request=request, **context
    )
    return HTMLResponse(html, status)


def fragment(template: str, **context: Any) -> HTMLResponse:
    return HTMLResponse(environment.get_template(template).render(**context))


def fetched(request: Request) -> bool:
    return request.headers.get(FETCH_HEADER) == "1"


def done(request: Request, back: str, message: str) -> Response:
    """A form's success: JSON for the page's script, else back to the page, saying what was done."""
    if fetched(request):
        return JSONResponse({"message": message})
    separator = "&" if "?" in back else "?"
    return RedirectResponse(f"{back}{separator}said={quote(message, safe='')}", 303)


def failed(request: Request, person: Person | None, status: int, message: str) -> Response:
    """A form's refusal in one line: JSON for the page's script, else a page saying it."""
    if fetched(request):
        return JSONResponse({"error": message}, status)
    return page(request, "refused.html", "Not done", person, status, message=message)
