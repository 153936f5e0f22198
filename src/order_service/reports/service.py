"""Report queries: aggregates computed by PostgreSQL, one round trip each."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Float, Interval, Select, func, literal, select, tuple_, type_coerce
from sqlalchemy.dialects.postgresql import ARRAY, array
from sqlalchemy.ext.asyncio import AsyncSession

from order_service.fulfillments.models import Fulfillment
from order_service.orders.models import LineItem, Order
from order_service.refunds.models import Refund, RefundLineItem
from order_service.reports.schemas import (
    CancellationPeriod,
    CancellationReport,
    Durations,
    FulfillmentReport,
    FulfillmentStats,
    MoneyTotals,
    Period,
    ReasonRefunds,
    RefundReport,
    SkuRefunds,
)


def _between(column: Any, start: datetime | None, end: datetime | None) -> list[Any]:
    conditions = []
    if start is not None:
        conditions.append(column >= start)
    if end is not None:
        conditions.append(column < end)
    return conditions


async def cancellations(
    session: AsyncSession, start: datetime | None, end: datetime | None, period: Period
) -> CancellationReport:
    bucket = func.date_trunc(period.value, func.timezone("UTC", Order.cancelled_at))
    query: Select[Any] = (
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
    rows = (await session.execute(query)).all()
    by_reason: dict[str, int] = {}
    by_actor: dict[str, int] = {"customer": 0, "merchant": 0}
    periods: dict[Any, CancellationPeriod] = {}
    for row in rows:
        reason = row.cancel_reason or "other"
        by_reason[reason] = by_reason.get(reason, 0) + row.n
        by_actor[row.cancelled_by or "merchant"] += row.n
        entry = periods.setdefault(
            row.period, CancellationPeriod(period_start=row.period.date(), total=0, by_reason={})
        )
        entry.total += row.n
        entry.by_reason[reason] = entry.by_reason.get(reason, 0) + row.n
    return CancellationReport(
        from_=start,
        to=end,
        total=sum(by_reason.values()),
        by_reason=by_reason,
        by_actor=by_actor,
        by_period=list(periods.values()),
    )


async def refunds(
    session: AsyncSession, start: datetime | None, end: datetime | None
) -> RefundReport:
    """Orders processed in the range: units sold per SKU (cancelled orders sold nothing),
    and what was refunded of them (pending and succeeded refunds). Cancellations are not
    product returns: they are left out of the SKU rates but counted under their reason."""
    in_range = _between(Order.processed_at, start, end)
    refunded_units = (
        select(
            RefundLineItem.line_item_id,
            func.sum(RefundLineItem.quantity).label("units"),
            func.sum(RefundLineItem.amount).label("amount"),
        )
        .join(Refund, Refund.id == RefundLineItem.refund_id)
        .where(Refund.status != "failed", Refund.reason != "cancellation")
        .group_by(RefundLineItem.line_item_id)
        .subquery()
    )
    sold = func.sum(LineItem.quantity)
    units_refunded = func.coalesce(func.sum(refunded_units.c.units), 0)
    by_sku_query = (
        select(
            LineItem.sku,
            Order.currency,
            sold.label("units_sold"),
            units_refunded.label("units_refunded"),
            func.coalesce(func.sum(refunded_units.c.amount), 0).label("amount_refunded"),
        )
        .join(Order, Order.id == LineItem.order_id)
        .outerjoin(refunded_units, refunded_units.c.line_item_id == LineItem.id)
        .where(*in_range, *_between(LineItem.processed_at, start, end))
        .where(Order.status != "cancelled")
        .group_by(LineItem.sku, Order.currency)
        .order_by((units_refunded * 1.0 / sold).desc(), LineItem.sku)
    )
    by_sku = [
        SkuRefunds(
            sku=row.sku,
            currency=row.currency,
            units_sold=int(row.units_sold),
            units_refunded=int(row.units_refunded),
            refund_rate=round(int(row.units_refunded) / int(row.units_sold), 4),
            amount_refunded=int(row.amount_refunded),
        )
        for row in (await session.execute(by_sku_query)).all()
    ]

    reason_query = (
        select(Refund.reason, Refund.currency, func.count(), func.sum(Refund.amount))
        .join(Order, Order.id == Refund.order_id)
        .where(Refund.status != "failed", *in_range)
        .group_by(Refund.reason, Refund.currency)
    )
    by_reason: dict[str, ReasonRefunds] = {}
    for reason, currency, count, amount in (await session.execute(reason_query)).all():
        entry = by_reason.setdefault(reason, ReasonRefunds(count=0, amount={}))
        entry.count += int(count)
        entry.amount[currency] = entry.amount.get(currency, 0) + int(amount)

    totals_query = (
        select(
            Order.currency,
            func.sum(Order.total_paid),
            func.sum(Order.total_refunded),
            func.sum(Order.total_fees),
        )
        .where(*in_range, Order.total_paid > 0)
        .group_by(Order.currency)
        .order_by(Order.currency)
    )
    totals = [
        MoneyTotals(
            currency=currency,
            gross=int(gross),
            refunded=int(refunded),
            fees=int(fees),
            net=int(gross) - int(refunded) - int(fees),
        )
        for currency, gross, refunded, fees in (await session.execute(totals_query)).all()
    ]
    return RefundReport(from_=start, to=end, by_sku=by_sku, by_reason=by_reason, totals=totals)


_NO_TIME = literal(timedelta(0), Interval())


def _hours(expression: Any) -> Any:
    """Median and 90th percentile, in hours, from one sort."""
    fractions = array([0.5, 0.9], type_=Float)
    percentiles = func.percentile_cont(fractions).within_group(
        func.extract("epoch", expression) / 3600
    )
    return type_coerce(percentiles, ARRAY(Float))


async def fulfillment(
    session: AsyncSession, start: datetime | None, end: datetime | None
) -> FulfillmentReport:
    """Fulfilments shipped in the range (by when they shipped): how long orders waited to
    ship, how long parcels took to arrive, and how often either was later than promised."""
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

    def stats(row: Any, name: str | None) -> FulfillmentStats:
        def rounded(value: Any) -> float | None:
            return None if value is None else round(float(value), 2)

        def durations(values: list[Any] | None) -> Durations:
            p50, p90 = values or (None, None)
            return Durations(median_hours=rounded(p50), p90_hours=rounded(p90))

        return FulfillmentStats(
            carrier=name,
            shipments=int(row.shipments),
            delivered=int(row.delivered),
            order_to_dispatch=durations(row.dispatch),
            dispatch_to_delivery=durations(row.delivery),
            dispatched_late=int(row.late),
            dispatched_late_rate=round(int(row.late) / row.shipments, 4) if row.shipments else 0,
            delivered_late=int(row.delivered_late),
        )

    rows = (await session.execute(query)).all()
    overall = next((row for row in rows if row.overall), None)
    empty = FulfillmentStats(
        carrier=None,
        shipments=0,
        delivered=0,
        order_to_dispatch=Durations(median_hours=None, p90_hours=None),
        dispatch_to_delivery=Durations(median_hours=None, p90_hours=None),
        dispatched_late=0,
        dispatched_late_rate=0,
        delivered_late=0,
    )
    return FulfillmentReport(
        from_=start,
        to=end,
        overall=stats(overall, None) if overall is not None else empty,
        by_carrier=[stats(row, row.carrier) for row in rows if not row.overall],
    )
