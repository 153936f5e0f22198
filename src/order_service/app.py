"""The FastAPI application."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from fastapi_offline import FastAPIOffline

from order_service import __version__, worker
from order_service.auth.endpoints import router as api_keys_router
from order_service.cancellations.endpoints import router as cancellations_router
from order_service.edits.endpoints import router as edits_router
from order_service.events.endpoints import router as events_router
from order_service.fulfillments.endpoints import order_router as order_fulfillments_router
from order_service.fulfillments.endpoints import router as fulfillments_router
from order_service.http import health, problems, serving
from order_service.http.context import Clock, Services, utcnow
from order_service.http.middleware import BodyLimitMiddleware, RequestContextMiddleware
from order_service.kit import logs
from order_service.kit.db import create_engine, create_sessionmaker
from order_service.kit.migrations import head, known_revisions
from order_service.orders.endpoints import router as orders_router
from order_service.policies.endpoints import router as policies_router
from order_service.refunds.endpoints import router as refunds_router
from order_service.reports.endpoints import router as reports_router
from order_service.returns.endpoints import router as returns_router
from order_service.settings import Settings, get_settings
from order_service.webhooks.endpoints import router as webhooks_router

DESCRIPTION = """
The system of record for an order after checkout.

* **Storefront backends** (`storefront` keys) create and read orders and act for customers:
  the customer cancellation and refund policy applies to them.
* **Ops teams** (`ops` keys) cancel, refund, fulfil, archive and investigate.
* **Admins** (`admin` keys) also manage API keys and webhook endpoints, and delete orders.
* **Other services** learn what happened through signed webhooks and call back with `ops` keys.

Conventions: JSON over `/v1`; money is an integer in the minor unit of the order's ISO 4217
`currency`; timestamps are RFC 3339 UTC; errors are RFC 9457 problems with a stable `code`;
every POST accepts an `Idempotency-Key`; orders carry a `version`, sent as `ETag` and checked
through `If-Match`; lists are cursor-paginated (`limit` ≤ 250, `next_cursor`).

A `503 service_unavailable` (with `Retry-After`) means the database is unreachable or the
service is at capacity (no connection came free within its `DATABASE_POOL_TIMEOUT`): retry
after that long; a POST retried with the same `Idempotency-Key` acts at most once. A
`500 internal_error` is a bug: quote its `X-Request-ID` header, which its logged traceback
carries too.
"""

TAGS = [
    {"name": "orders", "description": "Create, read, edit, pay, archive and delete orders."},
    {
        "name": "fulfillments",
        "description": "Ship an order's units, track them to the door, and see them delivered.",
    },
    {
        "name": "cancellation",
        "description": "Customer self-cancellation inside the window, merchant cancellation "
        "before shipping, and what cancelling does.",
    },
    {
        "name": "refunds",
        "description": "The refund eligibility policy, previews, refunds and their settlement.",
    },
    {
        "name": "returns",
        "description": "Returns, exchanges and claims: the return policy, requests, approval, "
        "receipt with dispositions, and the refund or replacement order they lead to.",
    },
    {"name": "reports", "description": "Cancellations, refunds, returns, fulfilment; JSON or CSV."},
    {"name": "policies", "description": "The policies in force, for storefronts to show."},
    {"name": "events", "description": "Everything the service emitted (the webhook outbox)."},
    {
        "name": "webhooks",
        "description": "Webhook endpoints, their deliveries, and redelivery of events (admin).",
    },
    {"name": "api keys", "description": "Issue, list and revoke API keys (admin)."},
    {"name": "operations", "description": "Health, readiness and metrics."},
]


def _operation_id(route: APIRoute) -> str:
    return route.name


EXAMPLES_FILE = Path(__file__).with_name("openapi_examples.json")


def _with_examples(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """`app.openapi` that adds, to every operation, the request and response examples
    captured from a real run (openapi/capture_examples.py), where none is written by hand."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        spec = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
            tags=app.openapi_tags,
            separate_input_output_schemas=app.separate_input_output_schemas,
        )
        captured = json.loads(EXAMPLES_FILE.read_text()) if EXAMPLES_FILE.exists() else {}
        for methods in spec["paths"].values():
            for operation in methods.values():
                example = captured.get(operation.get("operationId"), {})
                body = operation.get("requestBody", {}).get("content", {}).get("application/json")
                if body is not None and "request" in example:
                    body.setdefault("example", example["request"])
                for status, value in example.get("responses", {}).items():
                    content = operation["responses"].get(status, {}).get("content", {})
                    media = content.get("application/json")
                    if media is not None and "example" not in media and "examples" not in media:
                        media["example"] = value
        app.openapi_schema = spec
        return spec

    return openapi


def create_app(
    settings: Settings | None = None, *, clock: Clock = utcnow, run_worker: bool = False
) -> FastAPI:
    """The app. `run_worker` runs the background tasks (webhook delivery, schedules) inside
    this process for as long as it serves; `serve` turns it on unless `--without-worker`."""
    settings = settings or get_settings()
    if not settings.database_url:
        raise RuntimeError("ORDER_SERVICE_DATABASE_URL is not set")
    engine = create_engine(
        settings.database_url,
        pool_size=settings.database_pool_size,
        pool_timeout=settings.database_pool_timeout.total_seconds(),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stop = asyncio.Event()
        background = (
            asyncio.create_task(worker.run_tasks(app.state.services, stop)) if run_worker else None
        )
        try:
            yield
        finally:
            stop.set()
            if background is not None:
                await background
            await app.state.services.transports.aclose()
            await engine.dispose()

    # /docs and /redoc load Swagger UI and ReDoc from the service itself (the package ships
    # them), not from a CDN and Google Fonts: they work on a network with no internet.
    app = FastAPIOffline(
        title="order-service",
        version=__version__,
        description=DESCRIPTION,
        openapi_tags=TAGS,
        generate_unique_id_function=_operation_id,
        # Request and response models are separate classes, so one schema per class; without
        # this a class used both ways would become `X-Input` and `X-Output` components.
        separate_input_output_schemas=False,
        lifespan=lifespan,
    )
    app.openapi = _with_examples(app)  # type: ignore[method-assign]
    app.state.services = Services(
        settings=settings, engine=engine, sessionmaker=create_sessionmaker(engine), clock=clock
    )
    app.state.migration_head = head()
    app.state.known_revisions = known_revisions()
    problems.install(app)
    for router in (
        orders_router,
        order_fulfillments_router,
        fulfillments_router,
        cancellations_router,
        edits_router,
        refunds_router,
        returns_router,
        reports_router,
        policies_router,
        webhooks_router,
        api_keys_router,
        events_router,
        health.router,
    ):
        app.include_router(router)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestContextMiddleware)
    return app


def create_app_from_env() -> FastAPI:
    """Factory for `uvicorn --factory` in every API process."""
    settings = get_settings()
    logs.configure(settings.log_level)
    app = create_app(settings, run_worker=settings.in_process_worker)
    serving.freeze_heap()
    return app
