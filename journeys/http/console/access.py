"""`/console/access` (admin): the people who sign in to the console and the API keys, as `journeys users` and
`journeys keys` manage them; a new password or key is shown once, on the answer to its form, and kept only
hashed."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from journeys.http.console.auth import Person, actor, viewer
from journeys.http.console.views import page
from journeys.store import ROLES, SCOPES, KeyExists, Store, UserExists

router = APIRouter()
PAGE = "/console/access"


async def _page(
    request: Request,
    person: Person,
    status: int = 200,
    *,
    said: str | None = None,
    error: str | None = None,
    secret: str | None = None,
) -> Response:
    store: Store = request.app.state.store
    users, keys = await asyncio.gather(asyncio.to_thread(store.users), asyncio.to_thread(store.keys))
    return page(
        request,
        "access.html",
        "Users and API keys",
        person,
        status,
        users=users,
        keys=keys,
        roles=ROLES,
        scopes=SCOPES,
        said=said,
        error=error,
        secret=secret,
    )


async def _add(
    request: Request,
    person: Person,
    what: str,
    name: str,
    kind: tuple[str, str, tuple[str, ...]],
    add: Callable[[], str | None],
    said: str,
) -> Response:
    """Add a user or a key named `name` whose `kind` (its field, its value, the values known) is checked first;
    `add` returns the secret to show once (None: none). Refusals are one line on the page."""
    field, value, known = kind
    if not name.strip() or any(c.isspace() for c in name) or len(name) > 100:
        return await _page(request, person, 422, error=f"{what} name {name!r}: one word, no spaces")
    if value not in known:
        return await _page(request, person, 422, error=f"{field} {value!r}: expected one of {', '.join(known)}")
    try:
        secret = await asyncio.to_thread(add)
    except (UserExists, KeyExists):
        return await _page(request, person, 422, error=f"a {what} named {name!r} exists")
    return await _page(request, person, said=said + ("; shown this once:" if secret else ""), secret=secret)


@router.get("/access", response_class=HTMLResponse)
async def access(request: Request, person: Annotated[Person, Depends(viewer("admin"))]) -> Response:
    return await _page(request, person)


@router.post("/access/users", response_class=HTMLResponse)
async def add_user(
    request: Request,
    person: Annotated[Person, Depends(actor("admin"))],
    name: Annotated[str, Form()] = "",
    role: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
) -> Response:
    store: Store = request.app.state.store
    chosen = password or secrets.token_urlsafe(12)

    def add() -> str | None:
        store.add_user(name, role, chosen, by=person.name)
        return None if password else chosen

    return await _add(request, person, "user", name, ("role", role, ROLES), add, f"user {name!r} ({role}) added")


@router.post("/access/users/{name}/remove", response_class=HTMLResponse)
async def remove_user(request: Request, name: str, person: Annotated[Person, Depends(actor("admin"))]) -> Response:
    store: Store = request.app.state.store
    if name == person.name:
        return await _page(request, person, 422, error="you cannot remove yourself: another admin can")
    if not await asyncio.to_thread(store.remove_user, name):
        return await _page(request, person, 404, error=f"no user named {name!r}")
    return await _page(request, person, said=f"user {name!r} removed")


@router.post("/access/keys", response_class=HTMLResponse)
async def create_key(
    request: Request,
    person: Annotated[Person, Depends(actor("admin"))],
    name: Annotated[str, Form()] = "",
    scope: Annotated[str, Form()] = "",
) -> Response:
    store: Store = request.app.state.store

    def add() -> str | None:
        return store.create_key(name, scope, by=person.name)

    return await _add(request, person, "key", name, ("scope", scope, SCOPES), add, f"key {name!r} ({scope}) made")


@router.post("/access/keys/{name}/revoke", response_class=HTMLResponse)
async def revoke_key(request: Request, name: str, person: Annotated[Person, Depends(actor("admin"))]) -> Response:
    store: Store = request.app.state.store
    if await asyncio.to_thread(store.revoke_key, name) is None:
        return await _page(request, person, 404, error=f"no API key named {name!r}")
    return await _page(request, person, said=f"key {name!r} revoked")
