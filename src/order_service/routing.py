"""One database transaction per request, committed before the response leaves.

Every `/v1` route runs inside `TransactionalRoute`: it opens the request's session,
claims the `Idempotency-Key` of a POST, runs the endpoint, saves the response for
replay in the same transaction (in the same statement as the events the endpoint emitted,
which are held until then), and commits. Committing here rather than in a
dependency's teardown keeps the replay record and the change atomic, and means a
client never sees a 2xx for a change that failed to commit.

The busiest operation (order creation) also has a fast path (`fast_path`, `FastLanes`):
the same claim, work and commit in an `sql.Unit`, without the framework's per-request
machinery, for the requests it can answer; it leaves the rest to the endpoint.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Coroutine
from datetime import datetime
from typing import Any, TypeVar

from fastapi import FastAPI
from fastapi.dependencies.utils import get_flat_params
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from order_service import errors, idempotency, nul, secrecy, sql
from order_service.context import IF_MATCH_HEADER, services
from order_service.errors import DomainError
from order_service.problems import merge_responses, responses

IDEMPOTENCY_KEY_PARAMETER = {
    "name": idempotency.HEADER,
    "in": "header",
    "required": False,
    "description": "Any unique string (a UUID) identifying this request. A retry with the "
    "same key returns the first response with `Idempotent-Replayed: true` instead of acting "
    "twice (with any secret it showed, such as a new API key, null: secrets are shown once); "
    "the same key with a different body is 422 `idempotency_key_reused`. Kept 24 h.",
    "schema": {
        "type": "string",
        "minLength": 1,
        "maxLength": idempotency.MAX_KEY_LENGTH,
        "pattern": idempotency.KEY_PATTERN,
    },
    "example": "3f0c2a9e-4d61-4c55-9b1e-0d6f5b2c7a10",
}


def _implied_errors(route: APIRoute) -> list[type[DomainError]]:
    """The problems any `/v1` operation can answer whatever its endpoint does, from its shape."""
    found: list[type[DomainError]] = [errors.ServiceUnavailable]
    params = {param.alias for param in get_flat_params(route.dependant)}
    if params or route.body_field is not None:
        found.append(errors.ValidationFailed)
    if route.body_field is not None:
        found += [errors.InvalidJson, errors.PayloadTooLarge, errors.UnsupportedMediaType]
    if "POST" in (route.methods or ()):
        found += [
            errors.InvalidIdempotencyKey,
            errors.IdempotencyKeyReused,
            errors.IdempotencyRequestInProgress,
        ]
    if IF_MATCH_HEADER in params:
        found += [errors.InvalidIfMatch, errors.PreconditionFailed]
    if "cursor" in params:
        found.append(errors.InvalidCursor)
    return found


_Endpoint = TypeVar("_Endpoint", bound=Callable[..., Any])
_ONE_STATEMENT = "__order_service_one_statement_read__"


def one_statement_read(endpoint: _Endpoint) -> _Endpoint:
    """Mark a GET whose answer is read by one statement (after the API key's lookup): it runs
    without a transaction, each statement committing by itself, which saves the BEGIN and
    the ROLLBACK round trips. Not for reads of several statements, which need one snapshot
    to agree with each other."""
    setattr(endpoint, _ONE_STATEMENT, True)
    return endpoint


FastPath = Callable[[Request, sql.Unit], Awaitable[Response | None]]
_FAST_PATH = "__order_service_fast_path__"


def fast_path(fast: FastPath) -> Callable[[_Endpoint], _Endpoint]:
    """Give a busy endpoint a fast path: `fast` runs first (`FastLanes` sends it the
    requests), in a transaction of its own on a pooled connection (an `sql.Unit`, no ORM
    session) after the same Idempotency-Key claim, and answers the requests it can without
    FastAPI's routing, dependency resolution, validation of a parsed body and validation of
    the response. For anything else (no or an unknown API key, a body that does not
    validate) it returns None: its transaction is rolled back and the endpoint answers the
    request from the start, with the problems it documents. The endpoint stays the
    definition of the operation; its tests hold the fast path to it."""

    def mark(endpoint: _Endpoint) -> _Endpoint:
        setattr(endpoint, _FAST_PATH, fast)
        return endpoint

    return mark


async def require_json(request: Request) -> None:
    """Refuse a body sent as anything but JSON (`application/json`, or `application/*+json`,
    which FastAPI also parses): FastAPI would validate its bytes and answer a puzzling 422.
    A request without a body needs no Content-Type."""
    if not await request.body():
        return
    media = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    kind, _, subtype = media.partition("/")
    if kind != "application" or not (subtype == "json" or subtype.endswith("+json")):
        sent = f"Content-Type {media}" if media else "no Content-Type"
        raise errors.UnsupportedMediaType(
            f"The request body must be JSON sent with Content-Type: application/json; "
            f"it came with {sent}."
        )


class TransactionalRoute(APIRoute):
    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        self.fast: FastPath | None = getattr(endpoint, _FAST_PATH, None)  # before the handler
        super().__init__(path, endpoint, **kwargs)
        self.one_statement = getattr(endpoint, _ONE_STATEMENT, False)
        self.shown_once = secrecy.shown_once_fields(self.response_model)
        assert not self.one_statement or self.methods == {"GET"}, path
        self.responses = merge_responses(responses(*_implied_errors(self)), self.responses)
        if "POST" in (self.methods or ()):
            extra = dict(self.openapi_extra or {})
            extra["parameters"] = [*extra.get("parameters", []), IDEMPOTENCY_KEY_PARAMETER]
            self.openapi_extra = extra

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def run_in_transaction(request: Request) -> Response:
            if self.body_field is not None:
                await require_json(request)
            await nul.reject(request)
            svc = services(request)
            now = svc.clock()
            request.state.now = now
            maker = svc.autocommit_sessionmaker if self.one_statement else svc.sessionmaker
            async with maker() as session, session.begin():
                request.state.session = session
                answered = await _in(
                    session, request, now, lambda: handler(request), self.shown_once
                )
            assert answered is not None
            return answered

        return run_in_transaction

    async def answer_fast(self, request: Request) -> Response | None:
        """The route's fast path (`fast_path`), or None when it declined."""
        assert self.fast is not None
        fast = self.fast
        await require_json(request)
        await nul.reject(request)
        svc = services(request)
        now = svc.clock()
        request.state.now = now
        async with sql.unit(svc.engine) as unit:
            response = await _in(unit, request, now, lambda: fast(request, unit), self.shown_once)
            if response is not None:
                return response
            sql.decline()
        return None


class FastLanes:
    """ASGI middleware, innermost of ours: a request for a route with a fast path goes
    straight to it, past the framework's exception middleware, router and request handling
    (their layers and wrappers were a tenth of an order creation's API CPU in-process), its
    errors rendered by the app's exception handlers as the exception middleware would. A
    request the fast path declines goes on down the stack, its body replayed, as if this
    middleware were not there."""

    def __init__(self, app: ASGIApp, fastapi: FastAPI) -> None:
        self.app = app
        self.fastapi = fastapi
        self.lanes: dict[tuple[str, str], TransactionalRoute] | None = None

    def _routes(self) -> dict[tuple[str, str], TransactionalRoute]:
        lanes = {}
        for context in iter_route_contexts(self.fastapi.routes):  # included routers too
            route = context.original_route
            if isinstance(route, TransactionalRoute) and route.fast is not None and context.path:
                lanes.update({(method, context.path): route for method in route.methods or ()})
        return lanes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.lanes is None:
            self.lanes = self._routes()
        route = self.lanes.get((scope.get("method", ""), scope.get("path", "")))
        if route is None or scope["type"] != "http" or scope.get("root_path"):
            await self.app(scope, receive, send)
            return
        scope["route"] = route
        request = Request(scope, receive)
        try:
            response = await route.answer_fast(request)
        except Exception as exc:
            handler = self._handler(exc)
            if handler is None:
                raise
            answered = handler(request, exc)
            response = await answered if inspect.isawaitable(answered) else answered
        if response is not None:
            await response(scope, receive, send)
            return
        body = await request.body()
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    def _handler(self, exc: Exception) -> Callable[[Request, Any], Any] | None:
        """The app's handler for `exc`, as Starlette's exception middleware looks it up (the
        handler for `Exception` is the outermost middleware's, for what nothing handled)."""
        handlers = self.fastapi.exception_handlers
        for cls in type(exc).__mro__:
            if cls is Exception:
                return None
            if cls in handlers:
                return handlers[cls]
        return None


async def _in(
    tx: sql.Tx,
    request: Request,
    now: datetime,
    endpoint: Callable[[], Awaitable[Response | None]],
    shown_once: tuple[str, ...],
) -> Response | None:
    """Run `endpoint` in `tx`: claim the request's Idempotency-Key first (or answer with its
    first response), hold its events and timeline entries, and write them with the record of
    its response for replays, in one statement. The record has the `shown_once` fields null."""
    claimed = None
    key = request.headers.get(idempotency.HEADER)
    if request.method == "POST" and key is not None:
        outcome = await idempotency.claim(tx, request, key, now)
        if isinstance(outcome, Response):
            return outcome
        claimed = outcome
    sql.defer(tx)
    response = await endpoint()
    if response is None:
        return None
    if claimed is not None and 200 <= response.status_code < 300:
        ttl = services(request).settings.idempotency_ttl
        await idempotency.save(tx, request, claimed, response, now, ttl, shown_once)
    await sql.write_deferred(tx)
    return response
