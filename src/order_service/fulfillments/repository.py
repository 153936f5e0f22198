"""Every query on fulfilments, tracking events and follow-ups."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import bindparam, delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload
from sqlalchemy.sql.base import ExecutableOption

from order_service.fulfillments import errors
from order_service.fulfillments.models import (
    FollowUp,
    Fulfillment,
    FulfillmentLine,
    TrackingEvent,
)
from order_service.kit.pagination import Page, PageRequest

_LOADED: Sequence[ExecutableOption] = (
    selectinload(Fulfillment.lines).selectinload(FulfillmentLine.line_item),
    selectinload(Fulfillment.tracking_events),
)


_ANY = select(Fulfillment.id).where(Fulfillment.order_id == bindparam("order_id")).limit(1)


async def get(session: AsyncSession, fulfillment_id: str) -> Fulfillment:
    fulfillment = await session.scalar(
        select(Fulfillment)
        .where(Fulfillment.id == fulfillment_id)
        .options(*_LOADED)
        .execution_options(populate_existing=True)
    )
    if fulfillment is None:
        raise errors.FulfillmentNotFound(f"No fulfilment with id {fulfillment_id}.")
    return fulfillment


async def order_id_of(session: AsyncSession, fulfillment_id: str) -> str:
    order_id = await session.scalar(
        select(Fulfillment.order_id).where(Fulfillment.id == fulfillment_id)
    )
    if order_id is None:
        raise errors.FulfillmentNotFound(f"No fulfilment with id {fulfillment_id}.")
    return order_id


async def of_order(
    session: AsyncSession, order_id: str, *, probably_none: bool = False
) -> list[Fulfillment]:
    """All of an order's fulfilments, freshly read: call it with the order row locked.
    Pending changes are flushed first, so the fresh read cannot overwrite them.

    `probably_none` (the order is `unfulfilled`: nothing picked yet, or every parcel
    cancelled) asks first, in one plain statement, whether there are any: the ORM's load
    with its loader options cost a tenth of a refund's or a cancellation's API CPU, and
    most orders a customer cancels, or refunds before shipping, have none."""
    if probably_none:
        found = await session.scalar(_ANY, {"order_id": order_id})
        if found is None:
            return []
    await session.flush()
    result = await session.scalars(
        select(Fulfillment)
        .where(Fulfillment.order_id == order_id)
        .order_by(Fulfillment.id)
        .options(*_LOADED)
        .execution_options(populate_existing=True)
    )
    return list(result.all())


async def list_for_order(
    session: AsyncSession, order_id: str, *, page: PageRequest
) -> Page[Fulfillment]:
    """Oldest first; ids sort by creation."""
    query = (
        select(Fulfillment)
        .where(Fulfillment.order_id == order_id)
        .order_by(Fulfillment.id)
        .options(*_LOADED)
    )
    if page.cursor:
        (after,) = page.position(str)
        query = query.where(Fulfillment.id > after)
    return await page.fetch(session, query, lambda f: f.id)


async def find_event(
    session: AsyncSession, fulfillment_id: str, status: str, occurred_at: datetime
) -> TrackingEvent | None:
    return await session.scalar(
        select(TrackingEvent).where(
            TrackingEvent.fulfillment_id == fulfillment_id,
            TrackingEvent.status == status,
            TrackingEvent.occurred_at == occurred_at,
        )
    )


async def schedule_follow_up(
    session: AsyncSession, order_id: str, due_at: datetime, now: datetime
) -> None:
    """At most one follow-up per order, ever: a second delivery schedules nothing."""
    await session.execute(
        insert(FollowUp)
        .values(order_id=order_id, status="scheduled", due_at=due_at, created_at=now)
        .on_conflict_do_nothing(index_elements=[FollowUp.order_id])
    )


async def unschedule_follow_up(session: AsyncSession, order_id: str) -> None:
    """The order's follow-up, if it is still waiting to be sent."""
    await session.execute(
        delete(FollowUp).where(FollowUp.order_id == order_id, FollowUp.status == "scheduled")
    )


async def claim_due_follow_ups(session: AsyncSession, now: datetime, limit: int) -> list[FollowUp]:
    """Due follow-ups no other worker holds; they stay locked until this transaction ends."""
    result = await session.scalars(
        select(FollowUp)
        .where(FollowUp.status == "scheduled", FollowUp.due_at <= now)
        .order_by(FollowUp.due_at, FollowUp.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(result.all())


async def follow_up_of(session: AsyncSession, order_id: str) -> FollowUp | None:
    return await session.scalar(select(FollowUp).where(FollowUp.order_id == order_id))
