"""Every query on the event outbox."""

from __future__ import annotations

from typing import cast

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncSession

from order_service.events.models import Event
from order_service.kit import errors, sql
from order_service.kit.pagination import Page, PageRequest

# One INSERT for all of a request's events, so their sequence numbers follow the order they
# were emitted in (separate data-modifying CTEs would run in no set order); the webhooks'
# `fan_out` sends them to the webhook endpoints.
INSERT = sql.Insert(
    cast(Table, Event.__table__), returning=("id", "type", "order_id", "sequence", "created_at")
)


async def list_events(
    session: AsyncSession,
    *,
    type_: str | None,
    order_id: str | None,
    page: PageRequest,
    after: str | None = None,
) -> Page[Event]:
    """Newest first, by sequence number; or, `after` an event, the events written since it,
    oldest first."""
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


async def get(session: AsyncSession, event_id: str, *, lock: bool = False) -> Event:
    """With `lock`, the event stays until the transaction ends: retention skips an event
    locked so, and a change waiting for retention's lock finds the event gone (404)."""
    event = await session.get(
        Event, event_id, with_for_update={"read": True, "key_share": True} if lock else None
    )
    if event is None:
        raise errors.NotFound(f"No event with id {event_id}")
    return event
