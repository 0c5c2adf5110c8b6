"""Who is signed in to the console, what their role lets them do, and the forms' guard against other sites.

The session is a cookie signed with the data dir's secret (`journeys.secrets`): a random number, the user's
name once signed in, and when it expires (`JOURNEYS_CONSOLE_SESSION_HOURS`). It holds no role: the user's row
is read on every request, so a user removed, or given another role, counts from the next request on. Every
form that changes something carries a CSRF token made from the session's number (`csrf_token`), which another
site cannot read, and is refused with 403 without it; signing in starts a session with a new number.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from fastapi import Request, Response

from journeys.secrets import sign, verify
from journeys.settings import Settings
from journeys.store import Store, may

COOKIE = "journeys_console"
PURPOSE = "console-session"  # an unsubscribe link signed with the same secret is no session
CSRF_FIELD = "csrf"


class SignInFirst(Exception):
    """No session (or an expired one, or a removed user): to the sign-in page, then back to `next`."""

    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


class Refused(Exception):
    """403: beyond the signed-in user's role, or a form without its CSRF token."""

    def __init__(self, message: str) -> None:
        self.message = message


@dataclass(frozen=True)
class Session:
    nonce: str
    user: str | None
    expires: float


@dataclass(frozen=True)
class Person:
    """The signed-in user as the store has them now, and the CSRF token of their session."""

    name: str
    role: str
    csrf: str

    def may(self, role: str) -> bool:
        return may(self.role, role)


def _secret(request: Request) -> str:
    settings: Settings = request.app.state.settings
    return settings.signing_secret()


def session_of(request: Request) -> Session | None:
    """The request's session when its cookie is ours, unexpired; else None."""
    token = request.cookies.get(COOKIE)
    payload = verify(token, _secret(request)) if token else None
    if not payload or payload.get("k") != PURPOSE:
        return None
    expires, nonce, user = payload.get("exp"), payload.get("n"), payload.get("u")
    if not isinstance(expires, int | float) or expires <= time.time() or not isinstance(nonce, str):
        return None
    return Session(nonce=nonce, user=user if isinstance(user, str) else None, expires=float(expires))


def new_session(request: Request, user: str | None) -> Session:
    """A session with a new number (so a token seen before signing in is worth nothing after)."""
    settings: Settings = request.app.state.settings
    expires = time.time() + settings.console_session_hours * 3600
    return Session(nonce=secrets.token_urlsafe(16), user=user, expires=expires)


def keep_session(request: Request, response: Response, session: Session) -> None:
    """Set the session's cookie on the response: HttpOnly, SameSite=Lax, Secure behind https."""
    settings: Settings = request.app.state.settings
    payload: dict[str, Any] = {"k": PURPOSE, "n": session.nonce, "u": session.user, "exp": session.expires}
    response.set_cookie(
        COOKIE,
        sign(payload, _secret(request)),
        max_age=max(1, int(session.expires - time.time())),
        path="/console",
        httponly=True,
        samesite="lax",
        secure=settings.public_url.startswith("https:"),
    )


def end_session(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/console")


def csrf_token(request: Request, session: Session) -> str:
    mac = hmac.new(_secret(request).encode(), f"csrf:{session.nonce}".encode(), hashlib.sha256)
    return mac.hexdigest()


def check_csrf(request: Request, session: Session | None, given: str | None) -> None:
    """Refuse a form that does not carry its session's token."""
    if session is None or not given or not hmac.compare_digest(csrf_token(request, session), given):
        raise Refused("this form is out of date or came from another site: reload the page and try again")


async def person(request: Request, session: Session | None = None) -> Person:
    """The signed-in user (read from the store now), else `SignInFirst`."""
    session = session or session_of(request)
    store: Store = request.app.state.store
    row = await asyncio.to_thread(store.user, session.user) if session and session.user else None
    if session is None or row is None:
        raise SignInFirst(_here(request))
    return Person(name=row.name, role=row.role, csrf=csrf_token(request, session))


def viewer(needed: str = "viewer") -> Any:
    """A dependency: the signed-in user when their role allows `needed`, else sign-in or 403."""

    async def signed_in(request: Request) -> Person:
        found = await person(request)
        if not found.may(needed):
            raise Refused(f"{found.name} is {found.role}: this needs {needed}")
        return found

    return signed_in


def actor(needed: str) -> Any:
    """A dependency for a form that changes something: `viewer(needed)`, and the form's CSRF token checked."""

    async def acting(request: Request) -> Person:
        session = session_of(request)
        found = await person(request, session)
        form = await request.form()
        token = form.get(CSRF_FIELD)
        check_csrf(request, session, token if isinstance(token, str) else None)
        if not found.may(needed):
            raise Refused(f"{found.name} is {found.role}: this needs {needed}")
        return found

    return acting


def _here(request: Request) -> str:
    path = request.url.path
    return path + (f"?{request.url.query}" if request.url.query else "")


def sign_in_url(next_path: str) -> str:
    return f"/console/sign-in?next={quote(next_path, safe='')}"


def safe_next(value: str | None) -> str:
    """Where to go after signing in: a console path only, never another site."""
    if value and value.startswith("/console/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/console/"
