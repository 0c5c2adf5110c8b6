"""An ASGI app served in this process while a block runs: the HTTP server and the codec endpoint."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

import uvicorn

from journeys.errors import JourneysError


class _Server(uvicorn.Server):
    """uvicorn, leaving signals to whoever runs it (`journeys dev` stops everything on one Ctrl-C)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@contextlib.asynccontextmanager
async def serving(
    app: Any, host: str, port: int, what: str, error: type[JourneysError] = JourneysError, **options: Any
) -> AsyncIterator[int]:
    """Serve `app` on `host:port` (0: any free port) while the block runs; yields the port it listens on.

    A port that cannot be taken, or a server that does not start, raises `error` in one line naming `what`.
    uvicorn leaves the process's logging alone (`journeys.runtime.logs` configures it)."""
    sock = _listen(host, port, what, error)
    # no access log: inbound paths carry tokens
    config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="off", **options)
    server = _Server(config)
    running = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if running.done():
                await running
                raise error(f"the {what} did not start on {host}:{port}")
            await asyncio.sleep(0.01)
        yield sock.getsockname()[1]
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await running
        sock.close()


def _listen(host: str, port: int, what: str, error: type[JourneysError]) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # named TCP, so that asyncio sets TCP_NODELAY on each connection: without it, every answer on a kept-alive
    # connection waited ~40 ms for the client's delayed acknowledgement (Nagle's algorithm)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise error(f"the {what} cannot listen on {host}:{port}: {exc.strerror}") from None
    return sock
