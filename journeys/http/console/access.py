"""`/console/access` (admin): the people who sign in to the console and the API keys, as `journeys users` and
`journeys keys` manage them; a new password or key is shown once, on the answer to its form, and kept only
hashed."""

from __future__ import annotations

import asyncio
import secrets
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


def _name_error(name: str, what: str) -> str | None:
    if not name.strip() or any(c.isspace() for c in name) or len(name) > 100:
        return f"{what} name {name!r}: one word, no spaces"
    return None


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
    error = _name_error(name, "user") or (
        None if role in ROLES else f"role {role!r}: expected one of {', '.join(ROLES)}"
    )
    if error:
        return await _page(request, person, 422, error=error)
    chosen = password or secrets.token_urlsafe(12)
    try:
        await asyncio.to_thread(store.add_user, name, role, chosen, by=person.name)
    except UserExists:
        return await _page(request, person, 422, error=f"a user named {name!r} exists")
    if password:
        return await _page(request, person, said=f"user {name!r} ({role}) added")
    return await _page(
        request, person, said=f"user {name!r} ({role}) added; their password, shown this once:", secret=chosen
    )


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
    error = _name_error(name, "key") or (
        None if scope in SCOPES else f"scope {scope!r}: expected one of {', '.join(SCOPES)}"
    )
    if error:
        return await _page(request, person, 422, error=error)
    try:
        key = await asyncio.to_thread(store.create_key, name, scope, by=person.name)
    except KeyExists:
        return await _page(request, person, 422, error=f"a key named {name!r} exists (revoked keys keep their names)")
    return await _page(request, person, said=f"key {name!r} ({scope}) made; the key, shown this once:", secret=key)


@router.post("/access/keys/{name}/revoke", response_class=HTMLResponse)
async def revoke_key(request: Request, name: str, person: Annotated[Person, Depends(actor("admin"))]) -> Response:
    store: Store = request.app.state.store
    if await asyncio.to_thread(store.revoke_key, name) is None:
        return await _page(request, person, 404, error=f"no API key named {name!r}")
    return await _page(request, person, said=f"key {name!r} revoked")
