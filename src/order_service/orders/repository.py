"""Every query on orders."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Select, Table, any_, bindparam, delete, false, func, or_, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload, selectinload

from order_service.kit import errors, sql
from order_service.kit.db import BIGINT_MAX
from order_service.kit.pagination import Page, PageRequest
from order_service.orders.models import LineItem, Order, PaymentTransaction, TimelineEntry


async def get(session: AsyncSession, order_id: str, *, lock: bool = False) -> Order:
    """The order with its line items; `lock` takes the row lock every mutation starts with."""
    query = select(Order).where(Order.id == order_id)
    if lock:
        query = (
            # Line items in a second statement, not joined: a joined row read while waiting
            # for the lock would come from the snapshot before the holder's commit
            # (PostgreSQL re-reads only the locked row), and refunds would over-count.
            query.options(selectinload(Order.line_items))
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    else:
        # One round trip instead of two for plain reads.
        query = query.options(joinedload(Order.line_items))
    order = (await session.scalars(query)).unique().one_or_none()
    if order is None:
        raise errors.OrderNotFound(f"No order with id {order_id}.")
    return order


class _LineColumns:
    """A line item's columns of a row that joins it to its order (`line.<name>`)."""

    __slots__ = ("row",)

    def __init__(self, row: Any) -> None:
        self.row = row

    def __getitem__(self, column: str) -> Any:
        return self.row["line." + column]


_ORDERS = cast(Table, Order.__table__)
_LINE_ITEMS = cast(Table, LineItem.__table__)
_READ = (
    select(_ORDERS, *(c.label("line." + c.name) for c in _LINE_ITEMS.c))
    .select_from(_ORDERS.outerjoin(_LINE_ITEMS, LineItem.order_id == Order.id))
    .where(Order.id == bindparam("order_id"))
    .order_by(LineItem.position)
)
_LINES_OF = (
    select(_LINE_ITEMS)
    .where(LineItem.order_id == any_(bindparam("order_ids", type_=ARRAY(LineItem.id.type))))
    .order_by(LineItem.order_id, LineItem.position)
)


async def read(session: AsyncSession, order_id: str) -> tuple[Any, list[Any]]:
    """The order's row and its line items' rows, by column name, in one statement (a read
    outside a transaction sees one snapshot): for the order GET, which spent more on
    loading ORM objects and validating them into `OrderOut` than on the rest."""
    rows = (await session.execute(_READ, {"order_id": order_id})).mappings().all()
    if not rows:
        raise errors.OrderNotFound(f"No order with id {order_id}.")
    return rows[0], [_LineColumns(row) for row in rows if row["line.id"] is not None]


@dataclass(slots=True, kw_only=True)
class OrderFilters:
    status: str | None = None
    financial_status: str | None = None
    fulfillment_status: str | None = None
    return_status: str | None = None
    customer_email: str | None = None
    number: int | None = None
    q: str | None = None
    """A search term (`schemas.SearchTerm`): an order number or the start of an email."""
    created_after: datetime | None = None
    created_before: datetime | None = None
    archived: bool = False


def _filtered(filters: OrderFilters) -> Select[Any]:
    query = select(cast(Table, Order.__table__))
    if filters.status:
        query = query.where(Order.status == filters.status)
    if filters.financial_status:
        query = query.where(Order.financial_status == filters.financial_status)
    if filters.fulfillment_status:
        query = query.where(Order.fulfillment_status == filters.fulfillment_status)
    if filters.return_status:
        query = query.where(Order.return_status == filters.return_status)
    # Emails are compared lower-cased by PostgreSQL on both sides, so the query and the stored
    # address fold the same way whatever the database's locale (both are in NFC already).
    email = func.lower(Order.customer_email)
    if filters.customer_email:
        query = query.where(email == func.lower(filters.customer_email))
    if filters.number is not None:
        query = query.where(Order.number == filters.number)
    if filters.q:
        term = filters.q
        # str.isdigit() also takes other scripts' digits, superscripts and circled numbers
        if term.isascii() and term.isdigit():
            number = int(term)
            query = query.where(Order.number == number if number <= BIGINT_MAX else false())
        else:
            escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            query = query.where(
                or_(
                    email == func.lower(term),
                    email.like(func.lower(escaped + "%"), escape="\\"),
                )
            )
    if filters.created_after:
        query = query.where(Order.created_at >= filters.created_after)
    if filters.created_before:
        query = query.where(Order.created_at < filters.created_before)
    if filters.archived:
        query = query.where(Order.archived_at.is_not(None))
    else:
        query = query.where(Order.archived_at.is_(None))
    return query


async def list_orders(
    session: AsyncSession, filters: OrderFilters, *, page: PageRequest
) -> Page[tuple[Any, list[Any]]]:
    """Newest first by order number; the cursor is the last number seen, so orders created
    while a client pages through never shift the pages it has yet to read.

    Each order is its row and its line items' rows, by column name: loading ORM objects
    was most of the cost of a page."""
    query = _filtered(filters).order_by(Order.number.desc()).limit(page.limit + 1)
    if page.cursor:
        (before,) = page.position(int)
        query = query.where(Order.number < before)
    found = (await session.execute(query)).mappings().all()
    orders = page.of(list(found), lambda o: o["number"])
    lines: dict[str, list[Any]] = {order["id"]: [] for order in orders.items}
    if lines:
        result = await session.execute(_LINES_OF, {"order_ids": list(lines)})
        for line in result.mappings():
            lines[line["order_id"]].append(line)
    return Page([(order, lines[order["id"]]) for order in orders.items], orders.next_cursor)


_INSERT_ORDER = sql.Insert(cast(Table, Order.__table__), returning=("number",))
UPDATE_SEQUENCE = sql.Update(cast(Table, Order.__table__))
"""Sets `last_event_sequence` (`orders.service.next_sequence`) with a request's last
statement."""
_INSERT_LINE_ITEMS = sql.Insert(cast(Table, LineItem.__table__))
_INSERT_TRANSACTION = sql.Insert(cast(Table, PaymentTransaction.__table__))
INSERT_TIMELINE = sql.Insert(cast(Table, TimelineEntry.__table__))


async def insert(
    session: AsyncSession,
    order: dict[str, Any],
    lines: list[dict[str, Any]],
    payments: list[dict[str, Any]],
    entries: list[dict[str, Any]],
) -> int:
    """A new order, its lines, payments and timeline entries, in one statement; its number.

    One statement rather than the unit of work's four: on the busiest write path the ORM
    flush, and then each round trip, cost more CPU than the rest of the request."""
    number: int = await sql.insert_together(
        session,
        (_INSERT_ORDER, order),
        (_INSERT_LINE_ITEMS, lines),
        (_INSERT_TRANSACTION, payments),
        (INSERT_TIMELINE, entries),
    )
    return number


async def delete_order(session: AsyncSession, order_id: str) -> None:
    """The order; the foreign keys' ON DELETE CASCADE takes what hangs off it."""
    await session.execute(delete(Order).where(Order.id == order_id))


async def timeline(
    session: AsyncSession, order_id: str, *, page: PageRequest
) -> Page[TimelineEntry]:
    """The order's timeline entries, oldest first."""
    query = (
        select(TimelineEntry).where(TimelineEntry.order_id == order_id).order_by(TimelineEntry.id)
    )
    if page.cursor:
        (after,) = page.position(int)
        query = query.where(TimelineEntry.id > after)
    return await page.fetch(session, query, lambda e: e.id)
