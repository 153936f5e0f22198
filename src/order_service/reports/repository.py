"""Report queries: aggregates computed by PostgreSQL, one round trip each."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Float,
    Interval,
    Row,
    case,
    distinct,
    func,
    literal,
    select,
    tuple_,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import ARRAY, array
from sqlalchemy.ext.asyncio import AsyncSession

from order_service.fulfillments.models import Fulfillment
from order_service.orders.models import LineItem, Order
from order_service.refunds.models import Refund, RefundLineItem
from order_service.returns.models import Return, ReturnLineItem

Rows = Sequence[Row[Any]]


def _between(column: Any, start: datetime | None, end: datetime | None) -> list[Any]:
    conditions = []
    if start is not None:
        conditions.append(column >= start)
    if end is not None:
        conditions.append(column < end)
    return conditions


async def cancellations(
    session: AsyncSession, start: datetime | None, end: datetime | None, period: str
) -> Rows:
    """Orders cancelled in the range, counted by `period` (its first instant, UTC:
    `date_trunc`'s unit), reason and who cancelled: `period`, `cancel_reason`,
    `cancelled_by`, `n`, earliest period first."""
    bucket = func.date_trunc(period, func.timezone("UTC", Order.cancelled_at))
    query = (
        select(
            bucket.label("period"),
            Order.cancel_reason,
            Order.cancelled_by,
            func.count().label("n"),
        )
        .where(Order.cancelled_at.is_not(None), *_between(Order.cancelled_at, start, end))
        .group_by(bucket, Order.cancel_reason, Order.cancelled_by)
        .order_by(bucket)
    )
    return (await session.execute(query)).all()


async def refunds_by_sku(
    session: AsyncSession, start: datetime | None, end: datetime | None
) -> Rows:
    """For orders processed in the range, per SKU and currency: `units_sold` (cancelled
    orders sold nothing), `units_refunded` and `amount_refunded` (pending and succeeded
    refunds, cancellations left out: they are not product returns), `units_returned` (of
    those, refunded by a return's refund); highest rate first."""
    in_range = _between(Order.processed_at, start, end)
    refunded_units = (
        select(
            RefundLineItem.line_item_id,
            func.sum(RefundLineItem.quantity).label("units"),
            func.sum(RefundLineItem.quantity)
            .filter(Refund.return_id.is_not(None))
            .label("return_units"),
            func.sum(RefundLineItem.amount).label("amount"),
        )
        .join(Refund, Refund.id == RefundLineItem.refund_id)
        .where(Refund.status != "failed", Refund.reason != "cancellation")
        .group_by(RefundLineItem.line_item_id)
        .subquery()
    )
    sold = func.sum(LineItem.quantity)
    units_refunded = func.coalesce(func.sum(refunded_units.c.units), 0)
    query = (
        select(
            LineItem.sku,
            Order.currency,
            sold.label("units_sold"),
            units_refunded.label("units_refunded"),
            func.coalesce(func.sum(refunded_units.c.return_units), 0).label("units_returned"),
            func.coalesce(func.sum(refunded_units.c.amount), 0).label("amount_refunded"),
        )
        .join(Order, Order.id == LineItem.order_id)
        .outerjoin(refunded_units, refunded_units.c.line_item_id == LineItem.id)
        .where(*in_range, *_between(LineItem.processed_at, start, end))
        .where(Order.status != "cancelled")
        .group_by(LineItem.sku, Order.currency)
        .order_by((units_refunded * 1.0 / sold).desc(), LineItem.sku)
    )
    return (await session.execute(query)).all()


async def refunds_by_reason(
    session: AsyncSession, start: datetime | None, end: datetime | None
) -> Sequence[Row[str, str, str, int, int]]:
    """Refunds that did not fail, of orders processed in the range: (reason, source,
    currency, count, amount). `source`: `return` (a return's refund), `cancellation`,
    `goodwill` (nothing but goodwill) or `plain` (items or shipping refunded directly)."""
    source = case(
        (Refund.return_id.is_not(None), "return"),
        (Refund.reason == "cancellation", "cancellation"),
        (Refund.amount == Refund.goodwill_amount, "goodwill"),
        else_="plain",
    )
    query = (
        select(Refund.reason, source, Refund.currency, func.count(), func.sum(Refund.amount))
        .join(Order, Order.id == Refund.order_id)
        .where(Refund.status != "failed", *_between(Order.processed_at, start, end))
        .group_by(Refund.reason, source, Refund.currency)
    )
    return (await session.execute(query)).all()


async def money_totals(
    session: AsyncSession, start: datetime | None, end: datetime | None
) -> Sequence[Row[str, int, int, int]]:
    """Orders processed in the range with something paid, per currency: (currency, paid,
    refunded, fees)."""
    query = (
        select(
            Order.currency,
            func.sum(Order.total_paid),
            func.sum(Order.total_refunded),
            func.sum(Order.total_fees),
        )
        .where(*_between(Order.processed_at, start, end), Order.total_paid > 0)
        .group_by(Order.currency)
        .order_by(Order.currency)
    )
    return (await session.execute(query)).all()


_NO_TIME = literal(timedelta(0), Interval())


def _hours(expression: Any) -> Any:
    """Median and 90th percentile, in hours, from one sort."""
    fractions = array([0.5, 0.9], type_=Float)
    percentiles = func.percentile_cont(fractions).within_group(
        func.extract("epoch", expression) / 3600
    )
    return type_coerce(percentiles, ARRAY(Float))


async def fulfillment(session: AsyncSession, start: datetime | None, end: datetime | None) -> Rows:
    """Fulfilments shipped in the range (by when they shipped), per carrier and overall
    (`overall` set), busiest carrier first: `carrier`, `shipments`, `delivered`, `dispatch`
    and `delivery` (median and 90th percentile hours, or None), `late`, `delivered_late`."""
    carrier = func.coalesce(Fulfillment.carrier, "unknown").label("carrier")
    # A carrier may date a delivery before the shipment was recorded here (an integration
    # that records shipments late, a clock that is off): that is no time, not negative hours.
    to_dispatch = func.greatest(Fulfillment.shipped_at - Fulfillment.order_processed_at, _NO_TIME)
    to_delivery = func.greatest(Fulfillment.delivered_at - Fulfillment.shipped_at, _NO_TIME)
    shipped_on = func.date(func.timezone("UTC", Fulfillment.shipped_at))
    late = shipped_on > Fulfillment.promised_dispatch_date
    delivered_late = Fulfillment.delivered_at > Fulfillment.estimated_delivery_at
    query = (
        select(
            carrier,
            func.grouping(carrier).label("overall"),
            func.count().label("shipments"),
            func.count(Fulfillment.delivered_at).label("delivered"),
            _hours(to_dispatch).label("dispatch"),
            _hours(to_delivery).label("delivery"),
            func.count().filter(late).label("late"),
            func.count().filter(delivered_late).label("delivered_late"),
        )
        .where(
            Fulfillment.status == "shipped",
            Fulfillment.shipped_at.is_not(None),
            *_between(Fulfillment.shipped_at, start, end),
        )
        .group_by(func.grouping_sets(tuple_(carrier), tuple_()))
        .order_by(func.grouping(carrier).desc(), func.count().desc())
    )
    return (await session.execute(query)).all()


# Returns a customer gave up on or the shop refused send nothing back: they count under
# `by_status` only.
_WENT_AHEAD = Return.status.not_in(("declined", "cancelled"))


async def returns_by_sku(
    session: AsyncSession, start: datetime | None, end: datetime | None
) -> Rows:
    """For orders processed in the range (cancelled orders sold nothing), per SKU:
    `units_sold`, `units_delivered`, `units_requested` (in returns neither declined nor
    cancelled) and `units_received`; highest share of units received first."""
    requested_units = (
        select(ReturnLineItem.line_item_id, func.sum(ReturnLineItem.quantity).label("units"))
        .join(Return, Return.id == ReturnLineItem.return_id)
        .where(_WENT_AHEAD)
        .group_by(ReturnLineItem.line_item_id)
        .subquery()
    )
    sold = func.sum(LineItem.quantity)
    received = func.sum(LineItem.returned_quantity)
    query = (
        select(
            LineItem.sku,
            sold.label("units_sold"),
            func.sum(LineItem.shipped_quantity).label("units_delivered"),
            func.coalesce(func.sum(requested_units.c.units), 0).label("units_requested"),
            received.label("units_received"),
        )
        .join(Order, Order.id == LineItem.order_id)
        .outerjoin(requested_units, requested_units.c.line_item_id == LineItem.id)
        .where(*_between(Order.processed_at, start, end))
        .where(*_between(LineItem.processed_at, start, end))
        .where(Order.status != "cancelled")
        .group_by(LineItem.sku)
        .order_by((received * 1.0 / sold).desc(), LineItem.sku)
    )
    return (await session.execute(query)).all()


def _returns_of_orders(query: Any, start: datetime | None, end: datetime | None) -> Any:
    return query.join(Order, Order.id == Return.order_id).where(
        *_between(Order.processed_at, start, end)
    )


async def returns_by_status(
    session: AsyncSession, start: datetime | None, end: datetime | None
) -> Rows:
    """Returns of orders processed in the range, per `status`, `resolution` and `currency`:
    `returns`, `claims` (approved with `items_required: false`), `refunded` (by the return's
    latest refund, unless it failed: a retry makes it count again), `deducted` and
    `exchange_credit` (minor units)."""
    query = (
        _returns_of_orders(
            select(
                Return.status,
                Return.resolution,
                Return.currency,
                func.count().label("returns"),
                func.count().filter(Return.items_required.is_(False)).label("claims"),
                func.sum(Return.refund_amount).filter(Refund.status != "failed").label("refunded"),
                func.sum(Return.deducted_amount).label("deducted"),
                func.sum(Return.exchange_credit).label("exchange_credit"),
            ),
            start,
            end,
        )
        .outerjoin(Refund, Refund.id == Return.refund_id)
        .group_by(Return.status, Return.resolution, Return.currency)
    )
    return (await session.execute(query)).all()


async def returns_by_reason(
    session: AsyncSession, start: datetime | None, end: datetime | None
) -> Rows:
    """Return lines of orders processed in the range, in returns neither declined nor
    cancelled, per `reason`: `returns`, `units_requested`, `units_received`."""
    query = (
        _returns_of_orders(
            select(
                ReturnLineItem.reason,
                func.count(distinct(ReturnLineItem.return_id)).label("returns"),
                func.sum(ReturnLineItem.quantity).label("units_requested"),
                func.sum(ReturnLineItem.received_quantity).label("units_received"),
            ).join(Return, Return.id == ReturnLineItem.return_id),
            start,
            end,
        )
        .where(_WENT_AHEAD)
        .group_by(ReturnLineItem.reason)
        .order_by(ReturnLineItem.reason)
    )
    return (await session.execute(query)).all()


async def request_to_receipt(
    session: AsyncSession, start: datetime | None, end: datetime | None
) -> Row[Any]:
    """Returns of orders processed in the range that were received: `received`, `hours`
    (median and 90th percentile from request to receipt, or None) and `mean_hours`."""
    waited = func.greatest(Return.received_at - Return.created_at, _NO_TIME)
    query = _returns_of_orders(
        select(
            func.count().label("received"),
            _hours(waited).label("hours"),
            (func.avg(func.extract("epoch", waited)) / 3600).label("mean_hours"),
        ),
        start,
        end,
    ).where(Return.received_at.is_not(None))
    return (await session.execute(query)).one()
