"""The console on the app: its routes under `/console` (out of `/openapi.json`), its static files, and its
answers to a visitor who is not signed in (to the sign-in page), one beyond their role (403) and a page that
is not there (404), each a page, never JSON or a traceback."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from journeys.http.console import access, actions, live, pages, simulate
from journeys.http.console.auth import Person, Refused, SignInFirst, person, sign_in_url
from journeys.http.console.views import HERE, failed, page
from journeys.http.errors import describe

PREFIX = "/console"
MAX_BODY_BYTES = 2 * 1024 * 1024  # the simulate page's uploads
Handler = Callable[[Request, Exception], Awaitable[Response]]


def install(app: FastAPI) -> None:
    for router in (pages.router, live.router, actions.router, simulate.router, access.router):
        app.include_router(router, prefix=PREFIX, include_in_schema=False)
    app.mount(f"{PREFIX}/static", StaticFiles(directory=HERE / "static"), name="console-static")
    app.add_exception_handler(SignInFirst, _sign_in_first)
    app.add_exception_handler(Refused, _refused)
    app.add_exception_handler(pages.Missing, _missing)


def is_console(request: Request) -> bool:
    path = request.url.path
    return path == PREFIX or path.startswith(PREFIX + "/")


def or_else(otherwise: Handler) -> Handler:
    """A form field the route cannot take: one line on a console page; `otherwise` elsewhere."""

    async def handle(request: Request, exc: Exception) -> Response:
        if not is_console(request):
            return await otherwise(request, exc)
        assert isinstance(exc, RequestValidationError)
        return failed(request, await _signed_in_or_none(request), 422, describe(exc.errors()) if exc.errors() else "")

    return handle


async def _signed_in_or_none(request: Request) -> Person | None:
    try:
        return await person(request)
    except SignInFirst:
        return None


async def _sign_in_first(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SignInFirst)
    return RedirectResponse(sign_in_url(exc.next_path), 303)


async def _refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Refused)
    return failed(request, await _signed_in_or_none(request), 403, exc.message)


async def _missing(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, pages.Missing)
    return page(request, "refused.html", "Not found", await _signed_in_or_none(request), 404, message=exc.message)
