from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query
from fastapi.responses import JSONResponse, Response

from order_service import errors
from order_service.context import OpsActor, SessionDep
from order_service.problems import responses
from order_service.reports import service
from order_service.reports.schemas import CancellationReport, Period, RefundReport
from order_service.routing import TransactionalRoute

router = APIRouter(prefix="/v1/reports", tags=["reports"], route_class=TransactionalRoute)

AUTH = responses(errors.Unauthenticated, errors.Forbidden)
From = Annotated[datetime | None, Query(alias="from", description="Inclusive start, RFC 3339.")]
To = Annotated[datetime | None, Query(description="Exclusive end, RFC 3339.")]
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
    session: SessionDep,
    _: OpsActor,
    from_: From = None,
    to: To = None,
    period: Period = Period.day,
    accept: AcceptHeader = None,
) -> Response:
    """Cancellations report"""
    report = await service.cancellations(session, from_, to, period)
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
every non-failed refund, cancellations included.
`totals` per currency shows gross captured, refunded, processing fees and net.
With `Accept: text/csv`: the SKU table. Roles: ops, admin.
""",
)
async def refund_report(
    session: SessionDep,
    _: OpsActor,
    from_: From = None,
    to: To = None,
    accept: AcceptHeader = None,
) -> Response:
    """Refunds report"""
    report = await service.refunds(session, from_, to)
    if _wants_csv(accept):
        return _csv([row.model_dump() for row in report.by_sku], "refunds")
    return JSONResponse(report.model_dump(mode="json", by_alias=True))
