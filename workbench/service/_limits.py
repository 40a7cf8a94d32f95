"""Rate limiting (a token bucket per client) and request body limits (an ASGI wrapper)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["RateLimiter", "BodyLimit", "BodyTooLarge"]


class RateLimiter:
    """``rate`` tokens per second, at most ``size`` banked, one bucket per key (a client).

    ``allow(key)`` takes a token and returns 0, or returns the seconds until one is available.
    Idle buckets are forgotten once more than ``max_keys`` are held (a full bucket is the same as none).
    """

    def __init__(self, rate: float, size: float, *, max_keys: int = 10_000, clock=time.monotonic) -> None:
        self.rate = rate
        self.size = size
        self.max_keys = max_keys
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def allow(self, key: str) -> float:
        if not self.enabled:
            return 0.0
        now = self._clock()
        with self._lock:
            tokens, at = self._buckets.get(key, (self.size, now))
            tokens = min(self.size, tokens + (now - at) * self.rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                wait = 0.0
            else:
                self._buckets[key] = (tokens, now)
                wait = (1.0 - tokens) / self.rate
            if len(self._buckets) > self.max_keys:
                self._forget_full(now)
        return wait

    def _forget_full(self, now: float) -> None:
        full_after = self.size / self.rate
        for key in [k for k, (_, at) in self._buckets.items() if now - at >= full_after]:
            del self._buckets[key]


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body larger than {limit} bytes")


class BodyLimit:
    """Refuses bodies over ``limit_for(path)`` bytes with 413 and a one-line JSON error: at once when
    Content-Length says so, else as soon as the streamed body passes the limit (the app's read raises
    :class:`BodyTooLarge`, an HTTPException the app turns into the same JSON)."""

    def __init__(self, app: ASGIApp, limit_for: Callable[[str], int]) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        length = next((v for k, v in scope["headers"] if k == b"content-length"), None)
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                declared = -1
            if declared < 0 or declared > limit:
                what = f"request body larger than {limit} bytes" if declared >= 0 else "bad Content-Length"
                await _json(send, 413 if declared >= 0 else 400, what)
                return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, counted, send)


async def _json(send: Send, status: int, error: str) -> None:
    body = json.dumps({"error": error}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
