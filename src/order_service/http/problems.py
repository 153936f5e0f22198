"""Rendering of every failure as an RFC 9457 problem with a stable `code`."""

from __future__ import annotations

import logging
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.routing import Match

from order_service.http import nul
from order_service.kit import errors
from order_service.kit.errors import PROBLEM_TYPE_BASE, DomainError

log = logging.getLogger("order_service.http.problems")

PROBLEM_MEDIA_TYPE = "application/problem+json"


class FieldError(BaseModel):
    field: str = Field(
        description="Dotted path of the invalid field, e.g. `line_items.0.quantity`."
    )
    message: str
    type: str = Field(description="Machine-readable kind of failure, e.g. `missing`.")


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    type: str = Field(examples=[PROBLEM_TYPE_BASE + "order_not_found"])
    title: str = Field(examples=["Order not found"])
    status: int = Field(examples=[404])
    detail: str = Field(examples=["No order with id ord_01jd0000000000000000000000"])
    code: str = Field(
        description="Stable machine-readable error code; switch on this, not on `title`.",
        examples=["order_not_found"],
    )
    errors: list[FieldError] | None = Field(
        default=None, description="For 422 validation problems: one entry per invalid field."
    )


class ProblemResponse(JSONResponse):
    media_type = PROBLEM_MEDIA_TYPE


def problem_response(
    status: int,
    code: str,
    title: str,
    detail: str,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> ProblemResponse:
    body = {
        "type": PROBLEM_TYPE_BASE + code,
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        **extra,
    }
    return ProblemResponse(body, status_code=status, headers=headers)


PROBLEM_SCHEMA_REF = {"$ref": "#/components/schemas/Problem"}


def responses(*errs: type[DomainError]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` for the domain errors an operation can return."""
    out: dict[int | str, dict[str, Any]] = {}
    for err in errs:
        example = {
            "summary": err.title,
            "value": {
                "type": PROBLEM_TYPE_BASE + err.code,
                "title": err.title,
                "status": err.status,
                "detail": err.title + ".",
                "code": err.code,
            },
        }
        entry = out.setdefault(
            err.status,
            {"content": {PROBLEM_MEDIA_TYPE: {"schema": PROBLEM_SCHEMA_REF, "examples": {}}}},
        )
        entry["content"][PROBLEM_MEDIA_TYPE]["examples"][err.code] = example
    return {status: _described(entry) for status, entry in sorted(out.items(), key=_by_status)}


def merge_responses(
    *groups: dict[int | str, dict[str, Any]],
) -> dict[int | str, dict[str, Any]]:
    """Several `responses=` in one; problems with the same status list every code."""
    out: dict[int | str, dict[str, Any]] = {}
    for group in groups:
        for status, entry in group.items():
            current = out.get(status)
            problem = entry.get("content", {}).get(PROBLEM_MEDIA_TYPE)
            if current is None or problem is None:
                out[status] = {**(current or {}), **entry}
                continue
            content = current.setdefault("content", {})
            examples = content.setdefault(
                PROBLEM_MEDIA_TYPE, {"schema": PROBLEM_SCHEMA_REF, "examples": {}}
            ).setdefault("examples", {})
            examples.update(problem.get("examples", {}))
            out[status] = _described(current)
    return dict(sorted(out.items(), key=_by_status))


def _by_status(item: tuple[int | str, Any]) -> str:
    return str(item[0])


def _described(entry: dict[str, Any]) -> dict[str, Any]:
    codes = ", ".join(f"`{code}`" for code in entry["content"][PROBLEM_MEDIA_TYPE]["examples"])
    return {**entry, "description": f"Problem with code {codes}."}


def document(app: FastAPI) -> None:
    """Problems are documented as `application/problem+json` with the `Problem` schema,
    which the spec's components must then hold: no route returns it as a model."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = generate()
            schema = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
            components = spec.setdefault("components", {})
            schemas = {**components.get("schemas", {}), **schema.pop("$defs", {})}
            schemas["Problem"] = schema
            components["schemas"] = dict(sorted(schemas.items()))
            nul.document(spec)
        return app.openapi_schema or generate()

    app.openapi = openapi  # type: ignore[method-assign]


_HTTP_ERRORS: dict[int, type[DomainError]] = {
    400: errors.BadRequest,
    401: errors.Unauthenticated,
    403: errors.Forbidden,
    404: errors.NotFound,
    405: errors.MethodNotAllowed,
    406: errors.NotAcceptable,
    413: errors.PayloadTooLarge,
    415: errors.UnsupportedMediaType,
}
"""The errors Starlette and FastAPI raise as `HTTPException`, by status."""


def _field_path(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in {"body", "query", "path", "header"}:
        parts = parts[1:] if len(parts) > 1 else parts
    return ".".join(parts)


def render(error: DomainError) -> ProblemResponse:
    return ProblemResponse(
        error.to_problem(), status_code=error.status, headers=error.headers or None
    )


async def _domain_error(_: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, DomainError)
    return render(exc)


async def _validation_error(_: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, RequestValidationError)
    raw = exc.errors()
    if any(e.get("type") == "json_invalid" for e in raw):
        return render(errors.InvalidJson("The request body is not valid JSON."))
    field_errors = [
        {
            "field": _field_path(tuple(e.get("loc", ()))),
            "message": str(e.get("msg", "invalid")),
            "type": str(e.get("type", "invalid")),
        }
        for e in raw
    ]
    detail = "; ".join(f"{fe['field'] or 'body'}: {fe['message']}" for fe in field_errors[:5])
    return render(errors.ValidationFailed(detail, errors=field_errors))


async def _http_error(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, StarletteHTTPException)
    known = _HTTP_ERRORS.get(exc.status_code)
    code, title = (known.code, known.title) if known else ("http_error", "HTTP error")
    detail = exc.detail if isinstance(exc.detail, str) else title
    headers = dict(exc.headers) if exc.headers else {}
    if exc.status_code == 405:
        allowed = _allowed_methods(request)
        headers["Allow"] = ", ".join(allowed)
        detail = f"{request.method} is not allowed here; use {', '.join(allowed)}."
    return problem_response(exc.status_code, code, title, detail, headers=headers or None)


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this path (Starlette names only the first match's)."""
    routes = request.app.router.routes
    return [
        method
        for method in ("DELETE", "GET", "PATCH", "POST", "PUT")
        if any(
            route.matches({**request.scope, "method": method})[0] == Match.FULL for route in routes
        )
    ]


_UNAVAILABLE_SQLSTATES = {
    "57P01",  # admin_shutdown: the server is stopping
    "57P02",  # crash_shutdown
    "57P03",  # cannot_connect_now: starting up or recovering
    "53300",  # too_many_connections
}


def _causes(exc: BaseException) -> list[BaseException]:
    """`exc`, the driver error SQLAlchemy wrapped and what that was raised from."""
    seen: list[BaseException] = []
    pending: list[BaseException | None] = [exc]
    while pending and len(seen) < 10:
        current = pending.pop()
        if current is None or any(current is s for s in seen):
            continue
        seen.append(current)
        orig = getattr(current, "orig", None)
        pending += [orig if isinstance(orig, BaseException) else None]
        pending += [current.__cause__, current.__context__]
    return seen


def _is_unavailable(exc: BaseException) -> bool:
    """Whether `exc` means the database cannot be reached right now (a retry may work),
    rather than a bug: lost or refused connections, a server stopping or starting up."""
    for cause in _causes(exc):
        if isinstance(cause, OSError | PoolTimeoutError | OperationalError):
            return True
        if isinstance(cause, DBAPIError) and cause.connection_invalidated:
            return True
        # A statement on a connection the server closed (the same test SQLAlchemy's asyncpg
        # dialect makes); one that closes mid-statement is SQLSTATE 08003, below.
        if isinstance(cause, asyncpg.InterfaceError) and "connection is closed" in str(cause):
            return True
        sqlstate = getattr(cause, "sqlstate", None)
        if isinstance(sqlstate, str) and (
            sqlstate.startswith("08") or sqlstate in _UNAVAILABLE_SQLSTATES
        ):
            return True
    return False


async def _database_error(request: Request, exc: Exception) -> ProblemResponse:
    """Database errors, as SQLAlchemy raises them for every statement the service sends."""
    if isinstance(exc, IntegrityError):
        cause = getattr(exc, "orig", exc)
        log.warning("integrity error on %s %s: %s", request.method, request.url.path, cause)
        return render(
            errors.Conflict(
                "The change conflicts with the current state of the resource; reload and retry."
            )
        )
    if _is_unavailable(exc):
        busy = any(isinstance(cause, PoolTimeoutError) for cause in _causes(exc))
        log.warning(
            "%s on %s %s: %r",
            "no free database connection" if busy else "database unavailable",
            request.method,
            request.url.path,
            exc,
        )
        unavailable = errors.ServiceUnavailable(
            (
                "The service is at capacity: no database connection came free in time"
                if busy
                else "The database is unreachable"
            )
            + "; retry shortly (with the same Idempotency-Key)."
        )
        unavailable.headers["Retry-After"] = "2"
        return render(unavailable)
    return await unexpected(request, exc)


async def _client_disconnected(request: Request, exc: Exception) -> ProblemResponse:
    # The client hung up before its body arrived: nothing ran, nobody reads the answer. 499
    # (nginx's "client closed request") keeps it out of the 5xx metrics and the error log.
    log.info("client disconnected during %s %s", request.method, request.url.path)
    return problem_response(
        499, "client_closed_request", "Client closed request", "The client hung up."
    )


async def unexpected(request: Request, exc: Exception) -> ProblemResponse:
    """A 500 problem for a bug (or a 503 for a lost database in disguise), logged with the
    request id the client was given, so a support ticket quoting it finds the traceback."""
    if _is_unavailable(exc):
        return await _database_error(request, exc)
    log.exception(
        "unhandled error on %s %s",
        request.method,
        request.url.path,
        exc_info=exc,
        extra={"request_id": request.scope.get("state", {}).get("request_id")},
    )
    return problem_response(
        500,
        "internal_error",
        "Internal server error",
        "An unexpected error occurred; it has been logged with the request id.",
    )


def install(app: FastAPI) -> None:
    document(app)
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(DBAPIError, _database_error)
    app.add_exception_handler(PoolTimeoutError, _database_error)
    app.add_exception_handler(OSError, _database_error)
    app.add_exception_handler(ClientDisconnect, _client_disconnected)
    app.add_exception_handler(Exception, unexpected)


__all__ = ["Problem", "ProblemResponse", "errors", "install", "problem_response", "responses"]
