"""Every error of the API as `{"error": "one line"}` with its status, naming the field that is wrong; never a
traceback, never the input echoed back whole."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from journeys.runtime.logs import get_logger

log = get_logger(__name__)

_BODY_SHAPE = {"model_attributes_type", "dict_type", "model_type", "missing"}
_PLAIN = {
    "datetime_from_date_parsing": "not an ISO 8601 date-time",
    "datetime_parsing": "not an ISO 8601 date-time",
    "datetime_type": "not an ISO 8601 date-time",
    "timezone_aware": "an ISO 8601 date-time with its offset (2026-11-23T08:00:00+03:30)",
    "missing": "required",
    "extra_forbidden": "not a field this takes",
    "string_type": "must be a string",
    "dict_type": "must be an object",
    "list_type": "must be a list",
}


class ApiRefusal(Exception):
    """A request, or one item of a batch, refused before it changed anything: the status, one line, and
    headers (Retry-After)."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


class ApiError(BaseModel):
    """What every refused request gets: one line, naming the field when one is wrong."""

    error: str


def error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status, headers=headers)


def field_path(loc: Sequence[Any]) -> str:
    """`("body", "events", 3, "at")` → `events[3].at`."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


def describe(errors: Sequence[Any]) -> str:
    """The first validation error as one line: `events[3].at: not an ISO 8601 date-time`."""
    first = errors[0]
    where = field_path([p for p in first.get("loc", ()) if p not in ("body", "query", "path", "header")])
    text = _PLAIN.get(first.get("type", ""), str(first.get("msg", "invalid")).splitlines()[0])
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where or 'body'}: {text}{more}"


async def refused(request: Request, exc: Exception) -> JSONResponse:
    """A request refused on purpose (a key, a rate, an item): its status and its one line."""
    assert isinstance(exc, ApiRefusal)
    return error(exc.status, exc.message, exc.headers)


async def invalid(request: Request, exc: Exception) -> JSONResponse:
    """400 for a body that is not JSON or not the shape the route takes; 422 for a field that is wrong."""
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    first = errors[0] if errors else {}
    if first.get("type") == "json_invalid":
        return error(400, "malformed JSON")
    if first.get("type") in _BODY_SHAPE and tuple(first.get("loc", ())) == ("body",):
        return error(400, "the body is not what this route takes")
    return error(422, describe(errors) if errors else "invalid request")


async def http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    message = exc.detail if isinstance(exc.detail, str) else "request refused"
    if exc.status_code == 404 and message == "Not Found":
        message = f"no route {request.url.path}"
    elif exc.status_code == 405:
        message = f"{request.method} is not allowed on {request.url.path}"
    return error(exc.status_code, message, getattr(exc, "headers", None))


async def store_down(request: Request, exc: Exception) -> JSONResponse:
    log.warning("api.store_unavailable", path=request.url.path)
    return error(503, "the store does not answer; nothing was changed: try again", {"Retry-After": "5"})


async def internal(request: Request, exc: Exception) -> JSONResponse:
    log.error("api.internal_error", path=request.url.path, error=type(exc).__name__)
    return error(500, "internal error (logged on the server)")
