"""Request bodies are bounded before any route reads them: 413 over the limit, declared or streamed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send


@dataclass(frozen=True)
class Limit:
    """Bodies of paths under `prefix`: at most `size` bytes, else `too_large()`; a bad Content-Length `bad()`."""

    prefix: str
    size: int
    too_large: Callable[[], Response]
    bad: Callable[[], Response]
    on_refusal: Callable[[Scope, str], None] = lambda scope, reason: None


class BodyLimit:
    """The first of `limits` whose prefix the path starts with bounds its body; the body is read before the app
    runs, so no route sees part of a body that is then refused."""

    def __init__(self, app: ASGIApp, limits: list[Limit]) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = next(rule for rule in self.limits if scope["path"].startswith(rule.prefix))
        declared = dict(scope["headers"]).get(b"content-length", b"0")
        if not declared.isdigit():
            limit.on_refusal(scope, "bad request")
            await limit.bad()(scope, receive, send)
            return
        if int(declared) > limit.size:
            limit.on_refusal(scope, "too large")
            await limit.too_large()(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit.size:
                limit.on_refusal(scope, "too large")
                await limit.too_large()(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": b"".join(chunks), "more_body": False}

        await self.app(scope, replay, send)
