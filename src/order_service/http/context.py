"""Application state and the FastAPI dependencies every endpoint shares."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Header, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from order_service.auth.actor import Actor
from order_service.auth.schemas import Role
from order_service.auth.service import authenticate, bearer_token
from order_service.context import Context
from order_service.kit import errors, secrecy
from order_service.kit.db import create_sessionmaker
from order_service.kit.pagination import (
    CURSOR_PATTERN,
    DEFAULT_LIMIT,
    MAX_LIMIT,
    Cursors,
    PageRequest,
)
from order_service.kit.secrecy import Vault
from order_service.settings import Settings
from order_service.webhooks.transports import Transports

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class Services:
    """What the app holds for its lifetime; built by `create_app`."""

    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    clock: Clock = utcnow
    transports: Transports = field(init=False)
    """Webhook transports (HTTP pool, brokers), created on first use; closed at shutdown."""
    autocommit_sessionmaker: async_sessionmaker[AsyncSession] = field(init=False)
    """Sessions whose statements each commit by themselves (no BEGIN, no COMMIT), for
    reads of one statement (`routing.one_statement_read`)."""
    vault: Vault = field(init=False)
    """Encrypts and decrypts the webhook signing secrets kept in the database."""
    cursors: Cursors = field(init=False)

    def __post_init__(self) -> None:
        self.transports = Transports(self.settings)
        self.vault = secrecy.vault(self.settings)
        self.cursors = Cursors(self.settings.cursor_key)
        self.autocommit_sessionmaker = create_sessionmaker(
            self.engine.execution_options(isolation_level="AUTOCOMMIT")
        )


def services(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc


_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    description="An API key issued by `POST /v1/api-keys` or `order-service api-keys create`, "
    "sent as `Authorization: Bearer <key>`.",
)


async def _authenticated(
    request: Request, credentials: HTTPAuthorizationCredentials | None
) -> Actor:
    # `credentials` is what the OpenAPI documents; the key is read from the header as the
    # Idempotency-Key claim reads it (unstripped), so the claim's lookup of it serves.
    token = None if credentials is None else bearer_token(request.headers["authorization"])
    actor = (
        None
        if token is None
        else await authenticate(request.state.session, token, request.state.key_lookup)
    )
    if actor is None:
        error = errors.Unauthenticated(
            "Send a valid API key as `Authorization: Bearer <key>`."
            if credentials is None
            else "The API key is unknown or has been revoked."
        )
        error.headers["WWW-Authenticate"] = "Bearer"
        raise error
    request.state.actor = actor
    return actor


def require(*roles: Role) -> Callable[..., Awaitable[Context]]:
    """The dependency giving an endpoint its request `Context`, for a key of one of `roles`."""
    allowed = frozenset(roles)

    # One dependency for the whole context (dependencies are `async def` even when they never
    # await: FastAPI runs a plain `def` one in a thread pool): FastAPI resolves each node of
    # the graph on every request, and every operation has this one.
    async def dependency(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Context:
        actor = await _authenticated(request, credentials)
        if actor.role not in allowed:
            raise errors.Forbidden(
                f"This operation needs a key with role {' or '.join(sorted(allowed))}; "
                f"this key has role {actor.role}."
            )
        state = request.state
        return Context(state.session, actor, state.now, services(request).settings, state.outbox)

    return dependency


AnyContext = Annotated[Context, Depends(require(Role.storefront, Role.ops, Role.admin))]
OpsContext = Annotated[Context, Depends(require(Role.ops, Role.admin))]
AdminContext = Annotated[Context, Depends(require(Role.admin))]


IF_MATCH_HEADER = "If-Match"
_IF_MATCH = re.compile(r'[ \t]*(?:\*|(?:W/)?"?([0-9]{1,18})"?)[ \t]*')


async def _if_match(
    if_match: Annotated[
        str | None,
        Header(
            alias=IF_MATCH_HEADER,
            description="The `ETag` of the order as last read. The change is refused with 412 "
            "`precondition_failed` if the order has changed since; `*` matches any version.",
            examples=['"3"'],
            # Documented, and checked below to answer 400 `invalid_if_match` rather than 422.
            json_schema_extra={"pattern": f"^{_IF_MATCH.pattern}$"},
        ),
    ] = None,
) -> int | None:
    if if_match is None:
        return None
    matched = _IF_MATCH.fullmatch(if_match)
    if matched is None:
        raise errors.InvalidIfMatch('If-Match must be an ETag such as "3", as sent by GET.')
    return int(matched[1]) if matched[1] else None


IfMatchDep = Annotated[int | None, Depends(_if_match)]


async def _page(
    request: Request,
    limit: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description=f"Page size, at most {MAX_LIMIT}.")
    ] = DEFAULT_LIMIT,
    cursor: Annotated[
        str | None,
        Query(
            max_length=512,
            description="`next_cursor` of the previous page; absent or empty for the first.",
            # Documented, and checked when decoded to answer 400 `invalid_cursor`.
            json_schema_extra={"pattern": CURSOR_PATTERN},
        ),
    ] = None,
) -> PageRequest:
    return PageRequest(limit=limit, cursor=cursor, cursors=services(request).cursors)


PageDep = Annotated[PageRequest, Depends(_page)]


def etag(version: int) -> str:
    return f'"{version}"'
