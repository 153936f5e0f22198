"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import text

from order_service.http.context import services
from order_service.kit.metrics import exposition
from order_service.webhooks import metrics as webhook_metrics

log = logging.getLogger("order_service.http.health")

router = APIRouter(tags=["operations"])


@router.get(
    "/healthz",
    description="Liveness: the process answers. Does not touch the database, so a database "
    "outage does not get healthy API processes restarted.",
)
async def healthz() -> dict[str, str]:
    """Liveness probe"""
    return {"status": "ok"}


@router.get(
    "/readyz",
    description="Readiness: 200 when the database answers and its schema is at the migration "
    "head this build expects, or ahead of it (a release migrates before its new processes "
    "start, and the old ones keep serving); 503 with the reason when the database is "
    "unreachable or its schema is behind. Point load balancers here.",
    responses={503: {"description": "Database unreachable or migrations not at head."}},
)
async def readyz(request: Request) -> JSONResponse:
    """Readiness probe"""
    svc = services(request)
    expected = request.app.state.migration_head
    try:
        async with svc.engine.connect() as conn:
            current = await conn.scalar(text("SELECT version_num FROM alembic_version"))
    except Exception as exc:
        return JSONResponse(
            {"status": "unavailable", "database": "unreachable", "error": type(exc).__name__},
            status_code=503,
        )
    body = {"status": "ok", "database": "ok", "migration": current, "expected": expected}
    known = request.app.state.known_revisions
    behind = expected is not None and current != expected and (current in known or not current)
    if behind:
        # A schema ahead of this build (migrated for the next release) is fine: releases
        # migrate first, and the previous version keeps serving meanwhile.
        body["status"] = "migrations_pending"
        return JSONResponse(body, status_code=503)
    return JSONResponse(body)


@router.get(
    "/metrics",
    description="Prometheus metrics of all API processes: requests and latency by route and "
    "status; events committed by type (orders created, cancelled, refunds created and "
    "settled, fulfilments, ...); cancellations by who; refunded amounts by currency; webhook "
    "delivery attempts by outcome, the webhook backlog and the age of its oldest delivery, "
    "and disabled webhook endpoints.",
    response_class=Response,
)
async def metrics(request: Request) -> Response:
    """Prometheus metrics"""
    svc = services(request)
    try:
        async with svc.sessionmaker() as session:
            await webhook_metrics.refresh(session, svc.clock())
    except Exception as exc:  # metrics must answer even when the database does not
        log.warning("webhook backlog metrics unavailable: %r", exc)
    body, content_type = exposition()
    return Response(body, media_type=content_type)
