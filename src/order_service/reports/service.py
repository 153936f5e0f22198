"""Reports: the repository's aggregates shaped into the report schemas."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from order_service.context import Context
from order_service.reports import repository
from order_service.reports.schemas import (
    CancellationPeriod,
    CancellationReport,
    Durations,
    FulfillmentReport,
    FulfillmentStats,
    MoneyTotals,
    Period,
    ReasonRefunds,
    ReasonReturns,
    ReceiptTimes,
    RefundReport,
    ResolutionReturns,
    ReturnReport,
    SkuRefunds,
    SkuReturns,
)


async def cancellations(
    ctx: Context, start: datetime | None, end: datetime | None, period: Period
) -> CancellationReport:
    rows = await repository.cancellations(ctx.session, start, end, period.value)
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


async def refunds(ctx: Context, start: datetime | None, end: datetime | None) -> RefundReport:
    """Orders processed in the range: units sold per SKU (cancelled orders sold nothing),
    and what was refunded of them (pending and succeeded refunds). Cancellations are not
    product returns: they are left out of the SKU rates but counted under their reason."""
    by_sku = [
        SkuRefunds(
            sku=row.sku,
            currency=row.currency,
            units_sold=int(row.units_sold),
            units_refunded=int(row.units_refunded),
            units_returned=int(row.units_returned),
            refund_rate=round(int(row.units_refunded) / int(row.units_sold), 4),
            amount_refunded=int(row.amount_refunded),
        )
        for row in await repository.refunds_by_sku(ctx.session, start, end)
    ]
    by_reason: dict[str, ReasonRefunds] = {}
    by_source: dict[str, ReasonRefunds] = {}
    for reason, source, currency, count, amount in await repository.refunds_by_reason(
        ctx.session, start, end
    ):
        for key, into in ((reason, by_reason), (source, by_source)):
            entry = into.setdefault(key, ReasonRefunds(count=0, amount={}))
            entry.count += int(count)
            entry.amount[currency] = entry.amount.get(currency, 0) + int(amount)
    totals = [
        MoneyTotals(
            currency=currency,
            gross=int(gross),
            refunded=int(refunded),
            fees=int(fees),
            net=int(gross) - int(refunded) - int(fees),
        )
        for currency, gross, refunded, fees in await repository.money_totals(
            ctx.session, start, end
        )
    ]
    return RefundReport(
        from_=start,
        to=end,
        by_sku=by_sku,
        by_reason=by_reason,
        by_source=by_source,
        totals=totals,
    )


def _rounded(value: Any) -> float | None:
    return None if value is None else round(float(value), 2)


def _durations(values: list[Any] | None) -> Durations:
    p50, p90 = values or (None, None)
    return Durations(median_hours=_rounded(p50), p90_hours=_rounded(p90))


def _stats(row: Any, name: str | None) -> FulfillmentStats:
    return FulfillmentStats(
        carrier=name,
        shipments=int(row.shipments),
        delivered=int(row.delivered),
        order_to_dispatch=_durations(row.dispatch),
        dispatch_to_delivery=_durations(row.delivery),
        dispatched_late=int(row.late),
        dispatched_late_rate=round(int(row.late) / row.shipments, 4) if row.shipments else 0,
        delivered_late=int(row.delivered_late),
    )


async def fulfillment(
    ctx: Context, start: datetime | None, end: datetime | None
) -> FulfillmentReport:
    """Fulfilments shipped in the range (by when they shipped): how long orders waited to
    ship, how long parcels took to arrive, and how often either was later than promised."""
    rows = await repository.fulfillment(ctx.session, start, end)
    overall = next((row for row in rows if row.overall), None)
    nothing_shipped = FulfillmentStats(
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
        overall=_stats(overall, None) if overall is not None else nothing_shipped,
        by_carrier=[_stats(row, row.carrier) for row in rows if not row.overall],
    )


def _add(into: dict[str, int], currency: str, amount: Any) -> None:
    if amount:
        into[currency] = into.get(currency, 0) + int(amount)


async def returns(ctx: Context, start: datetime | None, end: datetime | None) -> ReturnReport:
    """Returns of orders processed in the range, so that a return rate compares the units
    that came back with the units sold they came from."""
    by_sku = [
        SkuReturns(
            sku=row.sku,
            units_sold=int(row.units_sold),
            units_delivered=int(row.units_delivered),
            units_requested=int(row.units_requested),
            units_received=int(row.units_received),
            return_rate=round(int(row.units_received) / int(row.units_sold), 4),
        )
        for row in await repository.returns_by_sku(ctx.session, start, end)
    ]
    by_status: dict[str, int] = {}
    by_resolution: dict[str, ResolutionReturns] = {}
    for row in await repository.returns_by_status(ctx.session, start, end):
        by_status[row.status] = by_status.get(row.status, 0) + int(row.returns)
        if row.status in ("declined", "cancelled"):
            continue
        entry = by_resolution.setdefault(
            row.resolution,
            ResolutionReturns(returns=0, claims=0, refunded={}, deducted={}, exchange_credit={}),
        )
        entry.returns += int(row.returns)
        entry.claims += int(row.claims)
        _add(entry.refunded, row.currency, row.refunded)
        _add(entry.deducted, row.currency, row.deducted)
        _add(entry.exchange_credit, row.currency, row.exchange_credit)
    by_reason = {
        row.reason: ReasonReturns(
            returns=int(row.returns),
            units_requested=int(row.units_requested),
            units_received=int(row.units_received),
        )
        for row in await repository.returns_by_reason(ctx.session, start, end)
    }
    times = await repository.request_to_receipt(ctx.session, start, end)
    waited = _durations(times.hours)
    return ReturnReport(
        from_=start,
        to=end,
        total=sum(by_status.values()),
        by_status=by_status,
        by_sku=by_sku,
        by_reason=by_reason,
        by_resolution=by_resolution,
        request_to_receipt=ReceiptTimes(
            received=int(times.received),
            median_hours=waited.median_hours,
            p90_hours=waited.p90_hours,
            mean_hours=_rounded(times.mean_hours),
        ),
    )
