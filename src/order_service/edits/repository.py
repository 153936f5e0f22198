"""Every query on order edits."""

from __future__ import annotations

from typing import cast

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from order_service.edits.models import OrderEdit
from order_service.kit import errors, sql
from order_service.kit.pagination import Page, PageRequest
from order_service.orders.models import Order
from order_service.refunds.models import Refund

INSERT = sql.Insert(cast(Table, OrderEdit.__table__))
"""An edit's row (`Context.insert`: nothing reads it back before the request ends)."""


async def list_for_order(
    session: AsyncSession, order_id: str, *, page: PageRequest
) -> Page[OrderEdit]:
    """Oldest first (ids sort by creation); an unknown order is 404."""
    query = select(OrderEdit).where(OrderEdit.order_id == order_id).order_by(OrderEdit.id)
    if page.cursor:
        (after,) = page.position(str)
        query = query.where(OrderEdit.id > after)
    found: Page[OrderEdit] = await page.fetch(session, query, lambda e: e.id)
    exists = select(Order.id).where(Order.id == order_id)
    if not found.items and await session.scalar(exists) is None:
        raise errors.OrderNotFound(f"No order with id {order_id}.")
    return found


async def refunds_of(session: AsyncSession, edits: list[OrderEdit]) -> dict[str, Refund]:
    ids = [edit.refund_id for edit in edits if edit.refund_id]
    if not ids:
        return {}
    rows = await session.scalars(
        select(Refund).where(Refund.id.in_(ids)).options(selectinload(Refund.line_items))
    )
    return {refund.id: refund for refund in rows}
