"""Every query on returns and their lines."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from order_service.kit import errors as common
from order_service.kit.pagination import Page, PageRequest
from order_service.orders.models import LineItem, Order
from order_service.returns import errors
from order_service.returns.models import Return


def add(session: AsyncSession, found: Return) -> None:
    """A new return and its lines, written at the next flush."""
    session.add(found)


async def replace_refund(
    session: AsyncSession, return_id: str, failed_id: str, refund_id: str, *, now: datetime
) -> None:
    """The return is paid by `refund_id` now, which replaced its failed refund `failed_id`;
    call it with the order locked."""
    await session.execute(
        update(Return)
        .where(Return.id == return_id, Return.refund_id == failed_id)
        .values(refund_id=refund_id, updated_at=now)
        .execution_options(synchronize_session=False)
    )


async def order_id_of(session: AsyncSession, return_id: str) -> str:
    order_id = await session.scalar(select(Return.order_id).where(Return.id == return_id))
    if order_id is None:
        raise errors.ReturnNotFound(f"No return with id {return_id}.")
    return order_id


async def get(session: AsyncSession, return_id: str, *, lock: bool = False) -> Return:
    """The return with its lines; `lock` reads it afresh (under the order's row lock, which
    every change of a return takes first)."""
    query = select(Return).where(Return.id == return_id).options(selectinload(Return.line_items))
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    found = await session.scalar(query)
    if found is None:
        raise errors.ReturnNotFound(f"No return with id {return_id}.")
    return found


async def of_order(session: AsyncSession, order_id: str) -> list[Return]:
    """Every return of the order, oldest first, freshly read: call it with the order locked."""
    result = await session.scalars(
        select(Return)
        .where(Return.order_id == order_id)
        .order_by(Return.id)
        .options(selectinload(Return.line_items))
        .execution_options(populate_existing=True)
    )
    return list(result.all())


async def list_returns(
    session: AsyncSession,
    *,
    order_id: str | None,
    status: str | None,
    page: PageRequest,
    oldest_first: bool = False,
) -> Page[Return]:
    """Newest first (ids sort by creation), or oldest first for one order's."""
    query = select(Return).options(selectinload(Return.line_items))
    if order_id:
        query = query.where(Return.order_id == order_id)
    if status:
        query = query.where(Return.status == status)
    key = Return.id
    query = query.order_by(key if oldest_first else key.desc())
    if page.cursor:
        (after,) = page.position(str)
        query = query.where(key > after if oldest_first else key < after)
    return await page.fetch(session, query, lambda r: r.id)


async def check_order(session: AsyncSession, order_id: str) -> None:
    """404 when there is no such order."""
    if await session.scalar(select(Order.id).where(Order.id == order_id)) is None:
        raise common.OrderNotFound(f"No order with id {order_id}.")


async def lines_and_numbers(
    session: AsyncSession, returns: list[Return]
) -> tuple[dict[str, LineItem], dict[str, int]]:
    """The order lines the returns name, by id, and their orders' numbers, by order id."""
    line_ids = {line.line_item_id for found in returns for line in found.line_items}
    order_ids = {found.order_id for found in returns}
    lines: dict[str, LineItem] = {}
    numbers: dict[str, int] = {}
    if line_ids:
        rows = await session.scalars(select(LineItem).where(LineItem.id.in_(line_ids)))
        lines = {li.id: li for li in rows}
    if order_ids:
        result = await session.execute(
            select(Order.id, Order.number).where(Order.id.in_(order_ids))
        )
        numbers = {row.id: row.number for row in result}
    return lines, numbers
