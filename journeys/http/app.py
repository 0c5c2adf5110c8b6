"""The HTTP server of `journeys serve` and `journeys dev`: the API under `/v1`, the web console under
`/console/` (`journeys.http.console`), and the provider callbacks, inbound SMS, voice answers and unsubscribe
links (`journeys.http.inbound`), on one port.

`/openapi.json` describes the API; the console and the callbacks (the providers' contracts, not ours) stay out
of it.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import PlainTextResponse, Response
from starlette.exceptions import HTTPException
from starlette.types import Scope

from journeys.http import api, errors, inbound
from journeys.http.auth import RateLimiter
from journeys.http.console import mount as console
from journeys.http.errors import ApiRefusal
from journeys.http.limits import BodyLimit, Limit
from journeys.runtime.serving import serving
from journeys.settings import Settings
from journeys.store import Store, StoreUnavailable

Handler = Callable[[Request, Exception], Awaitable[Response]]
API_PREFIX = "/v1"
MAX_API_BODY_BYTES = 1024 * 1024


def create_app(settings: Settings, store: Store, client_factory: inbound.ClientFactory) -> FastAPI:
    """The app; `client_factory` is called once, on the first request that needs Temporal."""
    app = FastAPI(
        title="journeys",
        summary="Events and customers in, journeys' state out.",
        version="1",
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.settings, app.state.store = settings, store
    app.state.inbound = inbound.Inbound(settings, store, client_factory)
    app.state.rate_limiter = RateLimiter(settings.api_rate)
    too_large = f"request body over {MAX_API_BODY_BYTES // 1024} KiB"
    app.add_middleware(
        BodyLimit,
        limits=[
            Limit(
                API_PREFIX,
                MAX_API_BODY_BYTES,
                lambda: errors.error(413, too_large),
                lambda: errors.error(400, "bad Content-Length"),
            ),
            Limit(
                console.PREFIX + "/",
                console.MAX_BODY_BYTES,
                lambda: PlainTextResponse("request body too large", 413),
                lambda: PlainTextResponse("bad request", 400),
            ),
            Limit(
                "/",
                inbound.MAX_BODY_BYTES,
                lambda: PlainTextResponse("request body too large", 413),
                lambda: PlainTextResponse("bad request", 400),
                inbound.log_refusal,
            ),
        ],
    )
    app.add_exception_handler(ApiRefusal, errors.refused)
    app.add_exception_handler(RequestValidationError, _split(errors.invalid, console.or_else(inbound.bad_request)))
    app.add_exception_handler(HTTPException, _split(errors.http_error, http_exception_handler))  # type: ignore[arg-type]
    app.add_exception_handler(StoreUnavailable, errors.store_down)
    app.add_exception_handler(Exception, errors.internal)
    app.include_router(api.router)
    app.include_router(inbound.router, include_in_schema=False)
    console.install(app)
    return app


def _split(for_api: Handler, otherwise: Handler) -> Handler:
    """The API's handler for `/v1` paths (and the schema's), `otherwise` for the provider callbacks."""

    async def handle(request: Request, exc: Exception) -> Response:
        return await (for_api if _is_api(request.scope) else otherwise)(request, exc)

    return handle


def _is_api(scope: Scope) -> bool:
    path = scope.get("path", "")
    return path == API_PREFIX or path.startswith(API_PREFIX + "/") or path == "/openapi.json"


@contextlib.asynccontextmanager
async def http_server(
    settings: Settings,
    store: Store,
    client_factory: inbound.ClientFactory,
    port: int | None = None,
    host: str | None = None,
) -> AsyncIterator[int]:
    """Serve the app while the block runs; yields the port it listens on (`port=0`: any free one).

    Raises `JourneysError` in one line when the port is taken."""
    async with serving(
        create_app(settings, store, client_factory),
        settings.serve_host if host is None else host,
        settings.serve_port if port is None else port,
        "HTTP server",
        server_header=False,
        timeout_graceful_shutdown=5,
    ) as bound:
        yield bound
