from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Body, Query, status

from order_service.events import service
from order_service.events.schemas import EventList, EventOut
from order_service.events.service import TOPICS
from order_service.http.context import OpsContext, PageDep
from order_service.http.problems import responses
from order_service.http.routing import TransactionalRoute
from order_service.kit import errors
from order_service.webhooks import errors as webhook_errors
from order_service.webhooks import service as webhooks
from order_service.webhooks.schemas import DeliveryOut, RedeliverRequest, RedeliveryOut

router = APIRouter(prefix="/v1/events", tags=["events"], route_class=TransactionalRoute)

AUTH = (errors.Unauthenticated, errors.Forbidden)
Topic = Literal[TOPICS]  # type: ignore[valid-type]


@router.get(
    "",
    response_model=EventList,
    responses=responses(*AUTH, errors.InvalidCursor, errors.NotFound),
    description="""
Every event the service has emitted, newest first — the same payloads webhooks deliver.
Each is written in the transaction of the change it reports, so an event exists exactly when
its change committed. Filter by `type` (a topic) and `order_id`.

With `after` (an event id), the events written after that one, oldest first: what a
receiver missed since the last event it handled, or since a `webhook_endpoint.disabled`
event (redeliver each to the endpoint with `POST /v1/events/{id}/redeliver`). 404 if that
event no longer exists (pruned after `EVENT_RETENTION`). Roles: ops, admin.
""",
)
async def list_events(
    page: PageDep,
    ctx: OpsContext,
    type: Topic | None = None,
    order_id: Annotated[str | None, Query(max_length=40)] = None,
    after: Annotated[
        str | None,
        Query(
            max_length=40,
            description="An event id: list the events written after it, oldest first.",
        ),
    ] = None,
) -> EventList:
    """List events"""
    return await service.list_events(ctx, type_=type, order_id=order_id, page=page, after=after)


@router.get(
    "/{event_id}",
    response_model=EventOut,
    responses=responses(*AUTH, errors.NotFound),
    description="One event with its payload. Roles: ops, admin.",
)
async def get_event(event_id: str, ctx: OpsContext) -> EventOut:
    """Get an event"""
    return await service.get_event(ctx, event_id)


@router.post(
    "/{event_id}/redeliver",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=RedeliveryOut,
    responses=responses(
        *AUTH,
        errors.NotFound,
        webhook_errors.WebhookEndpointNotFound,
        webhook_errors.WebhookEndpointDisabled,
        webhook_errors.NoSubscribedEndpoints,
        errors.IdempotencyKeyReused,
        errors.IdempotencyRequestInProgress,
    ),
    description="""
Queues the event again, with the same `webhook-id` (receivers that saw it already can
drop it), for the endpoint named in `endpoint_id` or else every enabled endpoint subscribed
to its topic — including endpoints created after the event. Retries start again from the
first step of the schedule. Earlier attempts stay in the delivery's history. Within one
order, events still go out in order: a redelivered old event goes before that order's
newer undelivered ones. Answers 202 with the queued deliveries. Roles: ops, admin.
""",
)
async def redeliver_event(
    event_id: str, ctx: OpsContext, body: Annotated[RedeliverRequest | None, Body()] = None
) -> RedeliveryOut:
    """Redeliver an event"""
    deliveries = await webhooks.redeliver(ctx, event_id, body.endpoint_id if body else None)
    return RedeliveryOut(data=[DeliveryOut.model_validate(d) for d in deliveries])
