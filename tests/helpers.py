"""Direct database shortcuts for states another capability produces (e.g. shipping)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update

from order_service.events.models import Event
from order_service.orders.models import LineItem, Order


async def set_order(db: Any, order_id: str, **values: Any) -> None:
    async with db() as session, session.begin():
        await session.execute(update(Order).where(Order.id == order_id).values(**values))


async def ship_units(db: Any, order_id: str, units: int = 1) -> None:
    """Mark `units` of the first line as fulfilled (as shipping would)."""
    async with db() as session, session.begin():
        line = await session.scalar(
            select(LineItem).where(LineItem.order_id == order_id).order_by(LineItem.position)
        )
        assert line is not None
        line.fulfilled_quantity = units
        await session.execute(
            update(Order)
            .where(Order.id == order_id)
            .values(fulfillment_status="partially_fulfilled")
        )


async def count_events(db: Any, type_: str, order_id: str | None = None) -> int:
    async with db() as session:
        query = select(func.count()).select_from(Event).where(Event.type == type_)
        if order_id:
            query = query.where(Event.order_id == order_id)
        return int(await session.scalar(query) or 0)
