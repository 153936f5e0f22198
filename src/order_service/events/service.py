"""Recording events in the outbox, in the caller's transaction."""

from __future__ import annotations

from typing import Any

from order_service.context import Context
from order_service.events import repository
from order_service.events.models import Event
from order_service.events.schemas import EventList, EventOut
from order_service.kit import metrics
from order_service.kit.ids import new_id
from order_service.kit.pagination import PageRequest
from order_service.webhooks.repository import fan_out

TOPICS = (
    "order.created",
    "order.updated",
    "order.cancelled",
    "order.archived",
    "order.deleted",
    "order.restock",
    "fulfillment.created",
    "fulfillment.updated",
    "order.fulfilled",
    "order.delivered",
    "order.follow_up_due",
    "refund.created",
    "refund.succeeded",
    "refund.failed",
    "order.edited",
    "return.requested",
    "return.approved",
    "return.declined",
    "return.received",
    "return.closed",
    "return.cancelled",
    "webhook_endpoint.disabled",
)


async def emit(
    ctx: Context,
    type_: str,
    *,
    order_id: str | None,
    data: dict[str, Any],
    sequence: int | None = None,
) -> str:
    """Write one event and its webhook deliveries, in one statement (as an insert, a lookup
    of the subscribed endpoints, an ORM flush of the deliveries and a notify it was four
    round trips); its id. They commit or roll back with the change they describe; in a
    request, they are written with its last statement (`Context.insert`).

    An event of an order carries the order's next `sequence` (`orders.service.next_sequence`,
    taken under the order's row lock)."""
    assert type_ in TOPICS, type_
    assert (order_id is None) == (sequence is None), (type_, order_id, sequence)
    event_id = new_id("evt")
    row = {
        "id": event_id,
        "type": type_,
        "order_id": order_id,
        "order_sequence": sequence,
        "data": data,
        "created_at": ctx.now,
    }
    metrics.on_commit(ctx.session, metrics.EVENTS, type=type_)
    await ctx.insert("event", repository.INSERT, row, fan_out)
    return event_id


def event_out(event: Event) -> EventOut:
    return EventOut(
        id=event.id,
        type=event.type,
        order_id=event.order_id,
        timestamp=event.created_at,
        sequence=event.order_sequence,
        data=event.data,
    )


async def list_events(
    ctx: Context,
    *,
    type_: str | None,
    order_id: str | None,
    page: PageRequest,
    after: str | None = None,
) -> EventList:
    result = await repository.list_events(
        ctx.session, type_=type_, order_id=order_id, page=page, after=after
    )
    return EventList(data=[event_out(e) for e in result.items], next_cursor=result.next_cursor)


async def get_event(ctx: Context, event_id: str) -> EventOut:
    return event_out(await repository.get(ctx.session, event_id))
