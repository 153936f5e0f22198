"""Recording events in the outbox, in the caller's transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncSession

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
    "webhook_endpoint.disabled",
)

# One INSERT for all of a request's events, so their sequence numbers follow the order they
# were emitted in (separate data-modifying CTEs would run in no set order); `fan_out` sends
# them to the webhook endpoints.
_INSERT = sql.Insert(
    cast(Table, Event.__table__), returning=("id", "type", "order_id", "sequence", "created_at")
)


async def emit(
    session: AsyncSession,
    type_: str,
    *,
    order_id: str | None,
    data: dict[str, Any],
    now: datetime,
    sequence: int | None = None,
) -> str:
    """Write one event and its webhook deliveries, in one statement (as an insert, a lookup
    of the subscribed endpoints, an ORM flush of the deliveries and a notify it was four
    round trips); its id. They commit or roll back with the change they describe. In a
    session that defers (`sql.defer`), the event is held and written with the request's
    last statement.

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
        "created_at": now,
    }
    metrics.on_commit(session, metrics.EVENTS, type=type_)
    if not sql.hold(session, "event", _INSERT, row, fan_out):
        await sql.insert_with(session, _INSERT, row, fan_out)
    return event_id


async def list_events(
    session: AsyncSession,
    *,
    type_: str | None,
    order_id: str | None,
    page: PageRequest,
    after: str | None = None,
) -> Page[Event]:
    """Newest first; or, `after` an event, the events written since it, oldest first."""
    query = select(Event)
    if type_:
        query = query.where(Event.type == type_)
    if order_id:
        query = query.where(Event.order_id == order_id)
    if after is None:
        query = query.order_by(Event.sequence.desc())
        if page.cursor:
            (before,) = page.position(int)
            query = query.where(Event.sequence < before)
    else:
        start = await session.scalar(select(Event.sequence).where(Event.id == after))
        if start is None:
            raise errors.NotFound(
                f"No event with id {after} (`after`): events are pruned after EVENT_RETENTION."
            )
        if page.cursor:
            (start,) = page.position(int)
        query = query.where(Event.sequence > start).order_by(Event.sequence)
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
