from __future__ import annotations

import csv
import io
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query
from fastapi.responses import JSONResponse, Response

from order_service.http.context import OpsContext
from order_service.http.problems import responses
from order_service.http.routing import TransactionalRoute
from order_service.kit import errors
from order_service.kit.schema_types import UtcDatetime
from order_service.reports import service
from order_service.reports.schemas import (
    CancellationReport,
    FulfillmentReport,
    Period,
    RefundReport,
    ReturnReport,
)

router = APIRouter(prefix="/v1/reports", tags=["reports"], route_class=TransactionalRoute)

AUTH = responses(errors.Unauthenticated, errors.Forbidden)
From = Annotated[
    UtcDatetime | None,
    Query(alias="from", description="Inclusive start, RFC 3339, not before 2000-01-01."),
]
To = Annotated[
    UtcDatetime | None, Query(description="Exclusive end, RFC 3339, not before 2000-01-01.")
]
AcceptHeader = Annotated[
    str | None,
    Header(description="`text/csv` for a spreadsheet-ready table instead of JSON."),
]


def _csv_content(description: str) -> dict[int | str, dict[str, Any]]:
    return {
        200: {
            "description": description,
            "content": {"text/csv": {"schema": {"type": "string"}}},
        }
    }


def _wants_csv(accept: str | None) -> bool:
    return bool(accept) and "text/csv" in (accept or "")


def _csv(rows: list[dict[str, Any]], name: str) -> Response:
    buffer = io.StringIO()
    if rows:
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return Response(
        buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


@router.get(
    "/cancellations",
    response_model=CancellationReport,
    responses={**AUTH, **_csv_content("One row per period and reason.")},
    description="""
Orders cancelled between `from` and `to` (by `cancelled_at`): the total, by reason, by who
cancelled (`customer` through a storefront, or `merchant`), and per `period` (day or week,
UTC). With `Accept: text/csv`: one row per period and reason. Roles: ops, admin.
""",
)
async def cancellation_report(
    ctx: OpsContext,
    from_: From = None,
    to: To = None,
    period: Period = Period.day,
    accept: AcceptHeader = None,
) -> Response:
    """Cancellations report"""
    report = await service.cancellations(ctx, from_, to, period)
    if _wants_csv(accept):
        rows = [
            {"period_start": p.period_start.isoformat(), "reason": reason, "cancelled": count}
            for p in report.by_period
            for reason, count in sorted(p.by_reason.items())
        ]
        return _csv(rows, "cancellations")
    return JSONResponse(report.model_dump(mode="json", by_alias=True))


@router.get(
    "/refunds",
    response_model=RefundReport,
    responses={**AUTH, **_csv_content("One row per SKU and currency.")},
    description="""
For orders processed between `from` and `to`: per SKU (and currency) the units sold
(cancelled orders excluded), the units refunded (pending and succeeded refunds;
cancellations left out — they are not product returns), the refund rate and the amount
refunded, **highest refund rate first** — the products to look at. `by_reason` counts
every non-failed refund, cancellations included; `by_source` the same refunds by where they
came from: `return` (a return's refund), `cancellation`, `goodwill` or `plain` (items or
shipping refunded directly). Per SKU, `units_returned` are the refunded units a return's
refund covered. `totals` per currency shows gross captured, refunded, processing fees and net.
With `Accept: text/csv`: the SKU table. Roles: ops, admin.
""",
)
async def refund_report(
    ctx: OpsContext, from_: From = None, to: To = None, accept: AcceptHeader = None
) -> Response:
    """Refunds report"""
    report = await service.refunds(ctx, from_, to)
    if _wants_csv(accept):
        return _csv([row.model_dump() for row in report.by_sku], "refunds")
    return JSONResponse(report.model_dump(mode="json", by_alias=True))


@router.get(
    "/fulfillment",
    response_model=FulfillmentReport,
    responses={**AUTH, **_csv_content("One row per carrier, then the overall row.")},
    description="""
Fulfilments shipped between `from` and `to`: the median and 90th-percentile hours from an
order's `processed_at` to dispatch and from dispatch to delivery, how many were dispatched
after the order's `estimated_dispatch_date` (the date promised in the confirmation email)
and how many arrived after the carrier's estimate — overall and by carrier, busiest first.
A delivery the carrier dates before the recorded dispatch counts as zero hours, never
negative. With `Accept: text/csv`: one row per carrier and an overall row. Roles: ops, admin.
""",
)
async def fulfillment_report(
    ctx: OpsContext, from_: From = None, to: To = None, accept: AcceptHeader = None
) -> Response:
    """Fulfilment report"""
    report = await service.fulfillment(ctx, from_, to)
    if _wants_csv(accept):
        rows = [
            {
                "carrier": stats.carrier or "ALL",
                "shipments": stats.shipments,
                "delivered": stats.delivered,
                "order_to_dispatch_median_hours": stats.order_to_dispatch.median_hours,
                "order_to_dispatch_p90_hours": stats.order_to_dispatch.p90_hours,
                "dispatch_to_delivery_median_hours": stats.dispatch_to_delivery.median_hours,
                "dispatch_to_delivery_p90_hours": stats.dispatch_to_delivery.p90_hours,
                "dispatched_late": stats.dispatched_late,
                "delivered_late": stats.delivered_late,
            }
            for stats in [*report.by_carrier, report.overall]
        ]
        return _csv(rows, "fulfillment")
    return JSONResponse(report.model_dump(mode="json", by_alias=True))


@router.get(
    "/returns",
    response_model=ReturnReport,
    responses={**AUTH, **_csv_content("One row per SKU.")},
    description="""
Returns of orders processed between `from` and `to` — the same orders the refund report
counts — so a SKU's `return_rate` is the share of its units sold in the range that came
back (units received ÷ units sold, cancelled orders left out), **highest rate first**.
Per SKU also the units shipped and the units requested in returns neither declined nor
cancelled (open ones included). `by_status` counts every return; `by_reason` (the lines'
reasons) and `by_resolution` (`refund`, `store_credit`, `exchange`, with how many were
claims settled without receipt and the money refunded, deducted and credited to
replacement orders) count returns neither declined nor cancelled. `request_to_receipt`:
median, 90th percentile and mean hours from the request to the parcel's receipt. Recent
orders' returns are still to come: compare periods that have had the return window to
run. With `Accept: text/csv`: the SKU table. Roles: ops, admin.
""",
)
async def return_report(
    ctx: OpsContext, from_: From = None, to: To = None, accept: AcceptHeader = None
) -> Response:
    """Returns report"""
    report = await service.returns(ctx, from_, to)
    if _wants_csv(accept):
        return _csv([row.model_dump() for row in report.by_sku], "returns")
    return JSONResponse(report.model_dump(mode="json", by_alias=True))
