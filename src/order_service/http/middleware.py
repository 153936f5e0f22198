"""Pure ASGI middleware: request ids, one log line per request, metrics, body size limit."""

from __future__ import annotations

import logging
import os
import re
import time
from typing import Any

from prometheus_client import Counter, Histogram
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from order_service.http import problems
from order_service.kit import errors, metrics

log = logging.getLogger("order_service.http")

REQUEST_ID_HEADER = "x-request-id"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")

HTTP_REQUESTS = Counter(
    "order_service_http_requests_total", "HTTP requests served", ["method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "order_service_http_request_duration_seconds",
    "HTTP request latency",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


def _route_of(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return str(path) if path else "unmatched"


def _new_id() -> str:
    """32 random hex digits, the shape of `uuid4().hex` without building a UUID."""
    return os.urandom(16).hex()


class RequestContextMiddleware:
    """Accepts or assigns `X-Request-ID`, echoes it, and logs one structured line per request
    (never headers or bodies, so no key material reaches the logs)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = ""
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
                break
        request_id = incoming if incoming and _VALID_REQUEST_ID.match(incoming) else _new_id()
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500
        responded = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, responded
            if message["type"] == "http.response.start":
                responded = True
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            try:
                await self.app(scope, receive, send_with_id)
            except Exception as exc:
                # A bug: answered here rather than by Starlette's outermost handler, so the
                # 500 problem carries the X-Request-ID its log line has.
                if responded:
                    raise
                response = await problems.unexpected(Request(scope), exc)
                await response(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = _route_of(scope)
            method = scope["method"]
            metrics.series(HTTP_REQUESTS, method, route, str(status)).inc()
            metrics.series(HTTP_LATENCY, method, route).observe(elapsed)
            actor = scope.get("state", {}).get("actor")
            extra: dict[str, Any] = {
                "request_id": request_id,
                "method": method,
                "path": scope["path"],
                "route": route,
                "status": status,
                "duration_ms": round(elapsed * 1000, 2),
            }
            if actor is not None:
                extra["actor"] = {"id": actor.id, "name": actor.name, "role": actor.role.value}
            log.info("%s %s %s", method, scope["path"], status, extra=extra)


class BodyLimitMiddleware:
    """Refuses bodies over `max_bytes` with a 413 problem, whether or not the client sent a
    Content-Length (chunked bodies are counted as they arrive)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        declared = None
        for name, value in scope["headers"]:
            if name == b"content-length":
                declared = value
                break
        if declared is not None:
            try:
                too_large = int(declared) > self.max_bytes
            except ValueError:
                too_large = False
            if too_large:
                await self._refuse(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problems.render(
            errors.PayloadTooLarge(f"Request bodies are limited to {self.max_bytes} bytes.")
        )
        await response(scope, receive, send)
