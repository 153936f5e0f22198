"""One database transaction per request, committed before the response leaves.

Every `/v1` route runs inside `TransactionalRoute`: it opens the request's session,
claims the `Idempotency-Key` of a POST, runs the endpoint, saves the response for
replay in the same transaction (in the same statement as the events the endpoint emitted,
which are held until then), and commits. Committing here rather than in a
dependency's teardown keeps the replay record and the change atomic, and means a
client never sees a 2xx for a change that failed to commit.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from datetime import datetime, timedelta
from typing import Any, TypeVar

from fastapi.dependencies.utils import get_flat_params
from fastapi.routing import APIRoute
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from order_service.http import idempotency, nul
from order_service.http.context import IF_MATCH_HEADER, services
from order_service.http.problems import merge_responses, responses
from order_service.kit import errors, secrecy, sql
from order_service.kit.errors import DomainError

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
        self.one_statement = getattr(endpoint, _ONE_STATEMENT, False)  # for the handler
        super().__init__(path, endpoint, **kwargs)
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
            now = request.state.now = svc.clock()
            maker = svc.autocommit_sessionmaker if self.one_statement else svc.sessionmaker
            # Begun by the first statement and committed here; closed only on failure, as
            # a commit gives the connection back. (Cheaper than `async with maker() as
            # session, session.begin()`, which switches to SQLAlchemy's greenlet twice more
            # and closes in a task of its own.)
            session = request.state.session = maker()
            request.state.key_lookup = None  # the Idempotency-Key claim's API key lookup
            try:
                response = await _answer(
                    handler, request, session, now, svc.settings.idempotency_ttl, self.shown_once
                )
                await session.commit()
            except BaseException:
                # Shielded, as AsyncSession's own context manager closes: a cancelled
                # request still rolls back and gives its connection back.
                await asyncio.shield(session.close())
                raise
            return response

        return run_in_transaction


async def _answer(
    handler: Callable[[Request], Awaitable[Response]],
    request: Request,
    session: AsyncSession,
    now: datetime,
    ttl: timedelta,
    shown_once: tuple[str, ...],
) -> Response:
    """Claim the request's Idempotency-Key first (or answer with its first response), hold
    the endpoint's events and timeline entries, and write them with the record of its
    response for replays (with the `shown_once` fields null), in one statement."""
    claimed = None
    key = request.headers.get(idempotency.HEADER)
    if request.method == "POST" and key is not None:
        outcome = await idempotency.claim(session, request, key, now)
        if isinstance(outcome, Response):
            return outcome
        claimed = outcome
    outbox = request.state.outbox = sql.Outbox()
    response = await handler(request)
    if claimed is not None and 200 <= response.status_code < 300:
        await idempotency.save(session, request, claimed, response, now, ttl, shown_once, outbox)
    else:
        await outbox.write(session)
    return response
