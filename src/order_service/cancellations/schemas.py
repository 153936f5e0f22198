from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from order_service.kit.schema_types import Note
from order_service.refunds.schemas import RefundMethod


class CancelReason(StrEnum):
    customer = "customer"
    fraud = "fraud"
    inventory = "inventory"
    declined = "declined"
    staff = "staff"
    other = "other"


class Party(StrEnum):
    """Whose policy applies: the customer's (storefront keys) or the merchant's (ops, admin)."""

    customer = "customer"
    merchant = "merchant"


class CancelRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: CancelReason | None = Field(
        default=None,
        description="Defaults to `customer` for storefront keys (the only reason they may "
        "give) and `other` for ops and admin keys.",
    )
    note: Note | None = None
    restock: bool = Field(
        default=True, description="Put every unfulfilled unit not restocked before back in stock."
    )
    refund: bool = Field(
        default=True,
        description="Refund everything paid and not yet refunded (a pending refund the "
        "payments service settles). Storefront cancellations always refund.",
    )
    refund_method: RefundMethod = RefundMethod.original_payment
    notify_customer: bool = Field(
        default=True, description="Passed on in `order.cancelled` for the email service."
    )


class Cancellation(BaseModel):
    cancellable: bool = Field(description="Whether the caller may cancel the order now.")
    until: datetime | None = Field(
        description="For customers: the end of the cancellation window. Null for merchants "
        "(no deadline) and when the order cannot be cancelled."
    )
    code: str | None = Field(
        description="Why not, when not: `cancellation_window_expired`, `order_in_fulfillment`, "
        "`order_already_fulfilled`, `order_already_cancelled`, `order_not_open`."
    )
    policy: Party = Field(
        description="Which policy applied: the caller's (storefront keys get the customer's)."
    )
    window_seconds: int = Field(description="The customer cancellation window, in seconds.")
