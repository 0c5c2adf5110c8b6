"""The web console as the tests use it: an app over ASGI, signing in through the sign-in form, and the CSRF
token read from a page as a browser's form would carry it."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

import httpx
from temporalio.client import Client

from journeys.http.app import create_app
from journeys.settings import Settings
from journeys.store import Store

ClientFactory = Callable[[], Awaitable[Client]]
_CSRF = re.compile(r'name="csrf" value="([^"]*)"')
PASSWORD = "correct horse battery staple"


def console_client(settings: Settings, store: Store, factory: ClientFactory) -> httpx.AsyncClient:
    """A browser-like client of the app: it keeps the cookies it is given and does not follow redirects."""
    app = create_app(settings, store, factory)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://journeys.test")


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found is not None, "the page has no form with a CSRF token"
    return found.group(1)


async def sign_in(http: httpx.AsyncClient, name: str, password: str = PASSWORD) -> httpx.Response:
    """Sign in through the form, as a person does; returns the answer to the form."""
    form = await http.get("/console/sign-in")
    return await http.post(
        "/console/sign-in", data={"username": name, "password": password, "csrf": csrf_of(form.text)}
    )


async def post_form(http: httpx.AsyncClient, page: str, action: str, fields: dict[str, str]) -> httpx.Response:
    """Post a form of `page` with the token that page carries, as the browser does with JavaScript off."""
    token = csrf_of((await http.get(page)).text)
    return await http.post(action, data={**fields, "csrf": token})


async def post_on_customer(
    http: httpx.AsyncClient, customer: str, action: str, fields: dict[str, str]
) -> httpx.Response:
    """Post one of the forms of a customer's page (`events`, `cancel`, `move`, `consent`, `erase`)."""
    page = f"/console/customers/{customer}"
    return await post_form(http, page, f"{page}/{action}", fields)
