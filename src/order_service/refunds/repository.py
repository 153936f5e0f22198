"""Every query on refunds and their lines."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from order_service.kit import sql
from order_service.kit.pagination import Page, PageRequest
from order_service.orders.models import LineItem
from order_service.refunds import errors
from order_service.refunds.models import Refund, RefundLineItem

INSERT = sql.Insert(cast(Table, Refund.__table__))
INSERT_LINE = sql.Insert(cast(Table, RefundLineItem.__table__))


async def insert(session: AsyncSession, row: dict[str, Any], lines: list[dict[str, Any]]) -> None:
    """A refund and its lines, in one statement."""
    await sql.insert_together(session, (INSERT, row), (INSERT_LINE, lines))


async def get(session: AsyncSession, refund_id: str, *, lock: bool = False) -> Refund:
    """The refund with its lines; `lock` takes its row lock and reads it afresh."""
    query = select(Refund).where(Refund.id == refund_id).options(selectinload(Refund.line_items))
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    refund = await session.scalar(query)
    if refund is None:
        raise errors.RefundNotFound(f"No refund with id {refund_id}.")
    return refund


async def retry_of(session: AsyncSession, refund_id: str) -> str | None:
    """The id of the refund that replaced the failed refund `refund_id`, if one did."""
    found: str | None = await session.scalar(select(Refund.id).where(Refund.retry_of == refund_id))
    return found


async def list_refunds(
    session: AsyncSession, *, order_id: str | None, status: str | None, page: PageRequest
) -> Page[Refund]:
    """Newest first; ids sort by creation."""
    query = select(Refund).options(selectinload(Refund.line_items)).order_by(Refund.id.desc())
    if order_id:
        query = query.where(Refund.order_id == order_id)
    if status:
        query = query.where(Refund.status == status)
    if page.cursor:
        (before,) = page.position(str)
        query = query.where(Refund.id < before)
    return await page.fetch(session, query, lambda r: r.id)


async def lines_of(session: AsyncSession, refunds: list[Refund]) -> dict[str, LineItem]:
    """The order lines `refunds` refund, by id; no statement when they refund none."""
    ids = {item.line_item_id for refund in refunds for item in refund.line_items}
    if not ids:
        return {}
    rows = await session.scalars(select(LineItem).where(LineItem.id.in_(ids)))
    return {line.id: line for line in rows}
