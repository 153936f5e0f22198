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
    units_returned: int = Field(
        description="Of `units_refunded`, those refunded by a return's refund (the rest were "
        "refunded directly)."
    )
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
    by_source: dict[str, ReasonRefunds] = Field(
        description="The same refunds by where they came from: `return` (a return's refund, "
        "`return_id` set), `cancellation`, `goodwill` (nothing but a goodwill amount) or "
        "`plain` (items or shipping refunded directly)."
    )
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


class SkuReturns(BaseModel):
    sku: str
    units_sold: int = Field(
        description="Units of orders processed in the range, cancelled orders left out."
    )
    units_delivered: int = Field(
        description="Of those, units delivered as the return policy counts them: the units "
        "shipped (a parcel never reported delivered counts from its shipping)."
    )
    units_requested: int = Field(
        description="Units in returns neither declined nor cancelled: open, received or closed."
    )
    units_received: int = Field(description="Units that came back (`returned_quantity`).")
    return_rate: float = Field(description="units_received / units_sold, 0 to 1.")


class ReasonReturns(BaseModel):
    returns: int = Field(description="Returns with at least one line for this reason.")
    units_requested: int
    units_received: int


class ResolutionReturns(BaseModel):
    returns: int = Field(description="Returns neither declined nor cancelled.")
    claims: int = Field(
        description="Of those, claims: approved with `items_required: false` (lost or "
        "damaged in transit), settled without receipt."
    )
    refunded: dict[str, int] = Field(
        description="By currency, minor units: the returns' refunds, after deductions."
    )
    deducted: dict[str, int] = Field(description="By currency: restocking fees, return shipping.")
    exchange_credit: dict[str, int] = Field(
        description="By currency: the returned units' value that paid for replacement orders."
    )


class ReceiptTimes(Durations):
    received: int = Field(description="Returns received.")
    mean_hours: float | None


class ReturnReport(BaseModel):
    from_: datetime | None = Field(alias="from", serialization_alias="from")
    to: datetime | None
    total: int = Field(description="Returns requested for orders processed in the range.")
    by_status: dict[str, int]
    by_sku: list[SkuReturns] = Field(description="Highest return rate first.")
    by_reason: dict[str, ReasonReturns] = Field(
        description="Returns neither declined nor cancelled, by their lines' reasons."
    )
    by_resolution: dict[str, ResolutionReturns] = Field(
        description="`refund`, `store_credit` or `exchange`."
    )
    request_to_receipt: ReceiptTimes = Field(
        description="Hours from the request to the parcel's receipt."
    )

    model_config = {"populate_by_name": True}
