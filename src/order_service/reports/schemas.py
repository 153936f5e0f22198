from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, Field


class Period(StrEnum):
    day = "day"
    week = "week"


class CancellationPeriod(BaseModel):
    period_start: date
    total: int
    by_reason: dict[str, int]


class CancellationReport(BaseModel):
    from_: datetime | None = Field(alias="from", serialization_alias="from")
    to: datetime | None
    total: int = Field(description="Orders cancelled in the range (by `cancelled_at`).")
    by_reason: dict[str, int]
    by_actor: dict[str, int] = Field(description="`customer` or `merchant`.")
    by_period: list[CancellationPeriod]

    model_config = {"populate_by_name": True}


class SkuRefunds(BaseModel):
    sku: str
    currency: str
    units_sold: int
    units_refunded: int
    refund_rate: float = Field(description="units_refunded / units_sold, 0 to 1.")
    amount_refunded: int = Field(description="Minor units of `currency`.")


class ReasonRefunds(BaseModel):
    count: int
    amount: dict[str, int] = Field(description="By currency, minor units.")


class MoneyTotals(BaseModel):
    currency: str
    gross: int = Field(description="Captured payments.")
    refunded: int
    fees: int = Field(description="Processing fees kept by the gateways.")
    net: int = Field(description="gross - refunded - fees.")


class RefundReport(BaseModel):
    from_: datetime | None = Field(alias="from", serialization_alias="from")
    to: datetime | None
    by_sku: list[SkuRefunds] = Field(description="Highest refund rate first.")
    by_reason: dict[str, ReasonRefunds]
    totals: list[MoneyTotals]

    model_config = {"populate_by_name": True}


class Durations(BaseModel):
    median_hours: float | None
    p90_hours: float | None


class FulfillmentStats(BaseModel):
    carrier: str | None = Field(description="Null in the overall row.")
    shipments: int = Field(description="Fulfilments shipped in the range.")
    delivered: int
    order_to_dispatch: Durations = Field(description="From `processed_at` to shipping.")
    dispatch_to_delivery: Durations = Field(description="From shipping to delivery.")
    dispatched_late: int = Field(
        description="Shipped after the order's `estimated_dispatch_date` (UTC dates)."
    )
    dispatched_late_rate: float
    delivered_late: int = Field(
        description="Delivered after the carrier's last `estimated_delivery_at`."
    )


class FulfillmentReport(BaseModel):
    from_: datetime | None = Field(alias="from", serialization_alias="from")
    to: datetime | None
    overall: FulfillmentStats
    by_carrier: list[FulfillmentStats] = Field(description="Most shipments first.")

    model_config = {"populate_by_name": True}
