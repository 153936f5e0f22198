"""Recording events in the outbox, in the caller's transaction."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncSession

from order_service.context import Context
from order_service.events.models import Event
from order_service.kit import errors, metrics, sql
from order_service.kit.ids import new_id
from order_service.kit.pagination import Page, PageRequest
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
)

# One INSERT for all of a request's events, so their sequence numbers follow the order they
# were emitted in (separate data-modifying CTEs would run in no set order); `fan_out` sends
# them to the webhook endpoints.
_INSERT = sql.Insert(
    cast(Table, Event.__table__), returning=("id", "type", "order_id", "sequence", "created_at")
)


async def emit(ctx: Context, type_: str, *, order_id: str | None, data: dict[str, Any]) -> str:
    """Write one event and its webhook deliveries, in one statement (as an insert, a lookup
    of the subscribed endpoints, an ORM flush of the deliveries and a notify it was four
    round trips); its id. They commit or roll back with the change they describe; in a
    request, they are written with its last statement (`Context.insert`)."""
    assert type_ in TOPICS, type_
    event_id = new_id("evt")
    row = {"id": event_id, "type": type_, "order_id": order_id, "data": data, "created_at": ctx.now}
    metrics.on_commit(ctx.session, metrics.EVENTS, type=type_)
    await ctx.insert("event", _INSERT, row, fan_out)
    return event_id


async def list_events(
    session: AsyncSession, *, type_: str | None, order_id: str | None, page: PageRequest
) -> Page[Event]:
    query = select(Event).order_by(Event.sequence.desc())
    if type_:
        query = query.where(Event.type == type_)
    if order_id:
        query = query.where(Event.order_id == order_id)
    if page.cursor:
        (before,) = page.position(int)
        query = query.where(Event.sequence < before)
    return await page.fetch(session, query, lambda e: e.sequence)


async def get_event(session: AsyncSession, event_id: str, *, lock: bool = False) -> Event:
    """With `lock`, the event stays until the transaction ends: retention skips an event
    locked so, and a change waiting for retention's lock finds the event gone (404)."""
    event = await session.get(
        Event, event_id, with_for_update={"read": True, "key_share": True} if lock else None
    )
    if event is None:
        raise errors.NotFound(f"No event with id {event_id}")
    return event
