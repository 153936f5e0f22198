"""The webhooks API: endpoints (admin), their deliveries, and redelivery of events."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from order_service.http.context import AdminContext, OpsContext, PageDep, services
from order_service.http.problems import responses
from order_service.http.routing import TransactionalRoute
from order_service.kit import errors
from order_service.webhooks import errors as webhook_errors
from order_service.webhooks import service
from order_service.webhooks.schemas import (
    DeliveryList,
    DeliveryOut,
    DeliveryStatus,
    PingResult,
    WebhookEndpointCreate,
    WebhookEndpointList,
    WebhookEndpointOut,
    WebhookEndpointUpdate,
    WebhookEndpointWithSecret,
)
from order_service.webhooks.transports import Transports

router = APIRouter(
    prefix="/v1/webhook-endpoints", tags=["webhooks"], route_class=TransactionalRoute
)

AUTH = (errors.Unauthenticated, errors.Forbidden)
IDEMPOTENCY = (errors.IdempotencyKeyReused, errors.IdempotencyRequestInProgress)
URL_ERRORS = (
    webhook_errors.InvalidWebhookUrl,
    webhook_errors.WebhookTargetNotAllowed,
    webhook_errors.WebhookUrlUnresolvable,
    webhook_errors.WebhookTransportNotAllowed,
    webhook_errors.WebhookTransportUnavailable,
)
NOT_FOUND = webhook_errors.WebhookEndpointNotFound


def _transports(request: Request) -> Transports:
    return services(request).transports


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=WebhookEndpointWithSecret,
    responses=responses(*AUTH, *URL_ERRORS, *IDEMPOTENCY),
    description="""
Subscribes a receiver to events. `events` lists topics (see `GET /v1/events` for the
payloads) or `["*"]` for every topic, including ones added later. From the moment this
commits, each matching event is delivered to `url`, signed per Standard Webhooks with the
`secret` returned here — **shown only now and on rotation** (a retry with the same
`Idempotency-Key` answers with `secret: null`). The service keeps it encrypted.

The URL's scheme picks the transport: `https://` (a POST per event; redirects are not
followed), `nats://host:port/subject` (NATS JetStream; without the service's `nats` extra
installed, 422 `webhook_transport_unavailable`), `log://` (the service log; for development:
422 `webhook_transport_not_allowed` in production), or a plugin's scheme. The host must
resolve only to public addresses: loopback, private, link-local and cloud-metadata targets,
and IPv6 addresses carrying such an IPv4 address (6to4, NAT64, Teredo, IPv4-mapped), are
refused with 422 `webhook_target_not_allowed` (unless `WEBHOOK_ALLOW_PRIVATE_TARGETS`, for
development, or the host is in `WEBHOOK_TRUSTED_HOSTS`). Roles: admin.
""",
)
async def create_webhook_endpoint(
    body: WebhookEndpointCreate, request: Request, ctx: AdminContext
) -> WebhookEndpointWithSecret:
    """Create a webhook endpoint"""
    svc = services(request)
    endpoint, secret = await service.create_endpoint(ctx, body, svc.transports, svc.vault)
    return WebhookEndpointWithSecret(
        **WebhookEndpointOut.model_validate(endpoint).model_dump(), secret=secret
    )


@router.get(
    "",
    response_model=WebhookEndpointList,
    responses=responses(*AUTH, errors.InvalidCursor),
    description="Every endpoint, newest first, enabled or not. A disabled endpoint shows "
    "`disabled_reason`: `manual`, `gone` (it answered 410) or `failing` (every attempt "
    "failed for `WEBHOOK_DISABLE_AFTER`). Secrets are not shown. Roles: admin.",
)
async def list_webhook_endpoints(page: PageDep, ctx: AdminContext) -> WebhookEndpointList:
    """List webhook endpoints"""
    result = await service.list_endpoints(ctx.session, page=page)
    return WebhookEndpointList(
        data=[WebhookEndpointOut.model_validate(e) for e in result.items],
        next_cursor=result.next_cursor,
    )


@router.get(
    "/{endpoint_id}",
    response_model=WebhookEndpointOut,
    responses=responses(*AUTH, NOT_FOUND),
    description="One endpoint: its URL, topics, whether it is enabled and, if it is "
    "failing, since when. Roles: admin.",
)
async def get_webhook_endpoint(endpoint_id: str, ctx: AdminContext) -> WebhookEndpointOut:
    """Get a webhook endpoint"""
    return WebhookEndpointOut.model_validate(await service.get_endpoint(ctx.session, endpoint_id))


@router.patch(
    "/{endpoint_id}",
    response_model=WebhookEndpointOut,
    responses=responses(*AUTH, NOT_FOUND, *URL_ERRORS),
    description="""
Changes `url`, `events`, `description` or `enabled`; fields left out stay as they are.
A new URL is checked like on creation. Setting `enabled: true` re-enables an endpoint that
was disabled for any reason (after a 410 or days of failures too): its pending deliveries
resume and failures are counted afresh. `enabled: false` stops delivery to it. Roles: admin.
""",
)
async def update_webhook_endpoint(
    endpoint_id: str, body: WebhookEndpointUpdate, request: Request, ctx: AdminContext
) -> WebhookEndpointOut:
    """Update a webhook endpoint"""
    endpoint = await service.update_endpoint(ctx, endpoint_id, body, _transports(request))
    return WebhookEndpointOut.model_validate(endpoint)


@router.delete(
    "/{endpoint_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=responses(*AUTH, NOT_FOUND),
    description="Deletes the endpoint with its delivery history; nothing more is sent to "
    "it (a delivery already on the wire may still arrive). Roles: admin.",
)
async def delete_webhook_endpoint(endpoint_id: str, ctx: AdminContext) -> Response:
    """Delete a webhook endpoint"""
    await service.delete_endpoint(ctx.session, endpoint_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{endpoint_id}/rotate-secret",
    response_model=WebhookEndpointWithSecret,
    responses=responses(*AUTH, NOT_FOUND, *IDEMPOTENCY),
    description="""
Issues a new signing secret, returned once (a retry with the same `Idempotency-Key` answers
with `secret: null`). For `WEBHOOK_SECRET_OVERLAP` (24 hours) every
message carries two signatures in `webhook-signature`, one per secret, so receivers can
switch to the new secret at their own pace: a Standard Webhooks library accepts a message
when any signature matches. After that only the new secret signs. Rotating again within
the overlap drops the oldest secret. Roles: admin.
""",
)
async def rotate_webhook_secret(
    endpoint_id: str, request: Request, ctx: AdminContext
) -> WebhookEndpointWithSecret:
    """Rotate an endpoint's signing secret"""
    svc = services(request)
    endpoint, secret = await service.rotate_secret(ctx, endpoint_id, svc.vault)
    return WebhookEndpointWithSecret(
        **WebhookEndpointOut.model_validate(endpoint).model_dump(), secret=secret
    )


@router.post(
    "/{endpoint_id}/ping",
    response_model=PingResult,
    responses=responses(*AUTH, NOT_FOUND, webhook_errors.WebhookEndpointDisabled, *IDEMPOTENCY),
    description="""
Sends a signed `webhook.ping` message (`{"type": "webhook.ping", "timestamp", "data":
{"endpoint_id"}}`) right now and reports how the endpoint answered: status, time taken and
the error if it failed. Use it to check a receiver's URL, firewall and signature check. The
ping is not retried and not listed among the deliveries. Roles: admin.
""",
)
async def ping_webhook_endpoint(
    endpoint_id: str, request: Request, ctx: AdminContext
) -> PingResult:
    """Ping a webhook endpoint"""
    svc = services(request)
    result = await service.ping(ctx, endpoint_id, svc.transports, svc.vault)
    return PingResult(
        ok=result.outcome.ok,
        webhook_id=result.webhook_id,
        status_code=result.outcome.status_code,
        duration_ms=result.duration_ms,
        error=result.outcome.error,
    )


@router.get(
    "/{endpoint_id}/deliveries",
    response_model=DeliveryList,
    responses=responses(*AUTH, NOT_FOUND, errors.InvalidCursor),
    description="""
What was sent to this endpoint, newest event first: per event its `status` (`pending` —
queued or waiting for a retry at `next_attempt_at`; `succeeded`; `failed` — retries
exhausted or the endpoint answered 410) and every attempt with its time, HTTP status,
duration, error and the retry it scheduled. Filter by `status` or `event_id`. A failed
delivery is sent again by `POST /v1/events/{id}/redeliver`. Roles: ops, admin.
""",
)
async def list_webhook_deliveries(
    endpoint_id: str,
    page: PageDep,
    ctx: OpsContext,
    status: DeliveryStatus | None = None,
    event_id: Annotated[str | None, Query(max_length=40)] = None,
) -> DeliveryList:
    """List an endpoint's deliveries"""
    result = await service.list_deliveries(
        ctx.session,
        endpoint_id,
        status=status.value if status else None,
        event_id=event_id,
        page=page,
    )
    return DeliveryList(
        data=[DeliveryOut.model_validate(d) for d in result.items], next_cursor=result.next_cursor
    )
