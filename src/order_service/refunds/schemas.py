from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from order_service.kit.schema_types import Amount, Note, OptionalText, Quantity


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RefundReason(StrEnum):
    customer_request = "customer_request"
    damaged = "damaged"
    not_as_described = "not_as_described"
    wrong_item = "wrong_item"
    late_delivery = "late_delivery"
    other = "other"


class RefundMethod(StrEnum):
    original_payment = "original_payment"
    store_credit = "store_credit"
    gift_card = "gift_card"


LineItemId = Annotated[str, StringConstraints(min_length=1, max_length=40)]


class RefundLineIn(Input):
    line_item_id: LineItemId
    quantity: Quantity
    restock: bool = Field(
        default=False,
        description="Put the units back in stock (`order.restock`). A unit is restocked at "
        "most once: units already restocked, e.g. by a cancellation, are not again.",
    )


class ShippingRefundIn(Input):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "oneOf": [
                {
                    "required": ["full"],
                    "properties": {"full": {"const": True}, "amount": {"type": "null"}},
                },
                {
                    "required": ["amount"],
                    # not `const: false`, which openapi-python-client 0.29 renders as
                    # invalid Python for a property that may be absent
                    "properties": {
                        "full": {"not": {"const": True}},
                        "amount": {"type": "integer"},
                    },
                },
            ]
        },
    )

    full: bool = Field(default=False, description="Refund all shipping not yet refunded.")
    amount: Amount | None = Field(default=None, description="Or this much of it.")

    @model_validator(mode="after")
    def _one_of(self) -> ShippingRefundIn:
        if self.full == (self.amount is not None):
            raise ValueError("give either full: true or an amount")
        return self


OVERRIDE_NEEDS_NOTE: dict[str, Any] = {
    "if": {
        "properties": {"override_policy": {"const": True}},
        "required": ["override_policy"],
    },
    "then": {
        "required": ["note"],
        "properties": {"note": {"type": "string", "pattern": "^[^\\x00]*[^\\x00\\s][^\\x00]*$"}},
    },
}
"""`override_policy: true` needs a `note` with some text (checked in the services, where it
is 422 `override_requires_note`)."""


class RefundCreate(Input):
    model_config = ConfigDict(extra="forbid", json_schema_extra=OVERRIDE_NEEDS_NOTE)

    line_items: list[RefundLineIn] = Field(default_factory=list, max_length=250)
    shipping: ShippingRefundIn | None = None
    amount: Amount | None = Field(
        default=None,
        description="A goodwill amount on top of lines and shipping (ops and admin only), "
        "e.g. compensation for a late delivery.",
    )
    reason: RefundReason = RefundReason.customer_request
    note: Note | None = None
    method: RefundMethod = RefundMethod.original_payment
    notify_customer: bool = True
    override_policy: bool = Field(
        default=False,
        description="Ops and admin only, with a `note`: refund outside the policy (final-sale "
        "items, after the window, shipping after dispatch). Recorded on the timeline. Limits "
        "(quantities, what was paid) are never overridden.",
    )


class RefundSettle(Input):
    status: Literal["succeeded", "failed"]
    reference: OptionalText = Field(default=None, description="The gateway's refund id.")
    failure_reason: Annotated[str, StringConstraints(max_length=1000)] | None = None


class RefundRetry(Input):
    method: RefundMethod | None = Field(
        default=None,
        description="Where the money goes this time; default: the failed refund's method. "
        "`store_credit` when the card or account can no longer take it.",
    )
    note: Note | None = Field(
        default=None,
        description="Why, for the timeline and the new refund; default: the failed refund's.",
    )
    notify_customer: bool | None = Field(
        default=None, description="Default: as the failed refund was."
    )


class RefundLineOut(BaseModel):
    line_item_id: str
    sku: str
    title: str
    quantity: int
    amount: int
    restock: bool
    restocked_quantity: int


class ActorRef(BaseModel):
    id: str | None
    name: str
    role: str | None


class RefundOut(BaseModel):
    id: str = Field(examples=["rf_01jd2m3n4p5q6r7s8t9v0w1x2y"])
    order_id: str
    status: Literal["pending", "succeeded", "failed"]
    amount: int = Field(description="Total refunded, minor units of `currency`.")
    currency: str
    line_items: list[RefundLineOut]
    shipping_amount: int
    goodwill_amount: int
    method: RefundMethod
    reason: str
    note: str | None
    notify_customer: bool
    override_policy: bool
    created_by: ActorRef
    expected_processing_time: str = Field(
        description="For the customer: how long until the money arrives.",
        examples=["5-10 business days"],
    )
    expected_processing_days: int = Field(description="Upper bound in business days.")
    reference: str | None
    failure_reason: str | None
    created_at: datetime
    settled_at: datetime | None
    return_id: str | None = Field(
        description="The return this refund pays for (its received units, a claim, or what "
        "an exchange's replacement cost less than the returned units); null otherwise."
    )
    retry_of: str | None = Field(
        description="The failed refund this one replaces (made by "
        "`POST /v1/refunds/{id}/retry`, with its amount, units, reason and return); null "
        "otherwise."
    )


class RefundList(BaseModel):
    data: list[RefundOut]
    next_cursor: str | None


class LinePreview(BaseModel):
    line_item_id: str
    quantity: int
    amount: int
    eligible: bool
    code: str | None = Field(description="Why the line is not eligible, when it is not.")


class ShippingPreview(BaseModel):
    amount: int
    eligible: bool
    code: str | None


class RefundPreview(BaseModel):
    amount: int = Field(description="What this refund would pay back.")
    currency: str
    line_items: list[LinePreview]
    shipping: ShippingPreview
    goodwill_amount: int
    eligible: bool = Field(description="Whether POST /refunds with this body would succeed.")
    codes: list[str] = Field(description="Every reason it would not, most important first.")
    refundable_amount: int = Field(
        description="Paid minus refunded (pending included): the most any refund may be now."
    )
    refund_window_ends_at: datetime
    expected_processing_time: str
