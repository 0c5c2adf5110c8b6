"""Who is asking: the bearer key of a `/v1` request, its scope, and its rate.

Each request reads the key's row (one indexed read of the key's hash), so a revoked key is refused from the
next request on, on every server. The rate is a token bucket per key in each server process: with N servers
behind a balancer a key may reach N × `JOURNEYS_API_RATE`.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials as Credentials
from fastapi.security import HTTPBearer

from journeys.http.errors import ApiRefusal
from journeys.store import Store

# what each scope may do: `admin` everything, `events` write events and customers, `read` read
GRANTS = {"admin": {"admin", "events", "read"}, "events": {"events"}, "read": {"read"}}

bearer = HTTPBearer(auto_error=False, description="an API key made with `journeys keys create`")


@dataclass(frozen=True)
class Caller:
    key: str  # the key's name, never the key
    scope: str


@dataclass
class _Bucket:
    tokens: float
    at: float


@dataclass
class RateLimiter:
    """A token bucket per key: `rate` requests a second, up to one second's worth at once."""

    rate: float
    clock: Callable[[], float] = time.monotonic
    _buckets: dict[str, _Bucket] = field(default_factory=dict)

    def wait(self, key: str) -> float:
        """0 when `key` may go now (and takes its token), else the seconds until it may."""
        now = self.clock()
        bucket = self._buckets.setdefault(key, _Bucket(tokens=self.rate, at=now))
        bucket.tokens = min(self.rate, bucket.tokens + (now - bucket.at) * self.rate)
        bucket.at = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / self.rate


def requires(scope: str) -> Callable[..., Awaitable[Caller]]:
    """A dependency: the caller, when its key is live, grants `scope` and is within its rate; else refused."""

    async def caller(request: Request, credentials: Annotated[Credentials | None, Depends(bearer)]) -> Caller:
        if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
            raise ApiRefusal(401, "an API key is required: Authorization: Bearer <key>")
        store: Store = request.app.state.store
        found = await asyncio.to_thread(store.key_scope, credentials.credentials)
        if found is None:
            raise ApiRefusal(401, "unknown or revoked API key")
        name, granted = found
        if scope not in GRANTS[granted]:
            raise ApiRefusal(403, f"key {name!r} has scope {granted!r}; this needs {scope!r}")
        limiter: RateLimiter = request.app.state.rate_limiter
        wait = limiter.wait(name)
        if wait:
            retry = str(max(1, math.ceil(wait)))
            over = f"key {name!r} is over its rate of {limiter.rate:g} requests a second"
            raise ApiRefusal(429, over, {"Retry-After": retry})
        return Caller(key=name, scope=granted)

    return caller
