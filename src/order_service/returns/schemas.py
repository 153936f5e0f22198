from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from order_service.kit.schema_types import Amount, Note, OptionalText, Quantity, UtcDatetime
from order_service.orders.schemas import LineItemIn, OrderOut
from order_service.refunds.schemas import OVERRIDE_NEEDS_NOTE, ActorRef, LineItemId, RefundOut
from order_service.returns.policy import ReturnRefusal


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReturnStatus(StrEnum):
    requested = "requested"
    approved = "approved"
    declined = "declined"
    received = "received"
    closed = "closed"
    cancelled = "cancelled"


class ReturnReason(StrEnum):
    damaged = "damaged"
    defective = "defective"
    not_as_described = "not_as_described"
    wrong_item = "wrong_item"
    size_or_fit = "size_or_fit"
    changed_mind = "changed_mind"
    other = "other"


class Resolution(StrEnum):
    refund = "refund"
    store_credit = "store_credit"
    exchange = "exchange"


class DeclineReason(StrEnum):
    outside_policy = "outside_policy"
    not_eligible = "not_eligible"
    no_proof = "no_proof"
    other = "other"


class Disposition(StrEnum):
    restock = "restock"
    not_restocked = "not_restocked"
    damaged = "damaged"
    missing = "missing"


class DeductionReason(StrEnum):
    restocking_fee = "restocking_fee"
    return_shipping = "return_shipping"


class ReturnLineIn(Input):
    line_item_id: LineItemId
    quantity: Quantity
    reason: ReturnReason
    note: Note | None = None


def _unique_lines(lines: list[ReturnLineIn] | list[ReceiveLineIn]) -> None:
    ids = [line.line_item_id for line in lines]
    if len(set(ids)) != len(ids):
        raise ValueError("each line_item_id at most once")


class ReturnCreate(Input):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra=OVERRIDE_NEEDS_NOTE,
    )

    line_items: list[ReturnLineIn] = Field(
        min_length=1, max_length=250, description="The units to send back (each line once)."
    )
    resolution: Resolution = Field(
        default=Resolution.refund,
        description="What the customer gets for the units: a refund to the original payment, "
        "store credit, or (`exchange`) the `exchange_line_items` in a new order.",
    )
    exchange_line_items: list[LineItemIn] = Field(
        default_factory=list,
        max_length=250,
        description="For `exchange`: the replacement items, as at order creation.",
    )
    customer_note: Note | None = None
    notify_customer: bool = True
    override_policy: bool = Field(
        default=False,
        description="Ops and admin only, with a `note`: waive final sale and the return "
        "window (never the units' limit). The timeline records it.",
    )
    note: Note | None = Field(default=None, description="Ops' note; needed with an override.")

    @field_validator("line_items")
    @classmethod
    def _unique(cls, lines: list[ReturnLineIn]) -> list[ReturnLineIn]:
        _unique_lines(lines)
        return lines


class ReturnCalculate(ReturnCreate):
    line_items: list[ReturnLineIn] = Field(
        default_factory=list,
        max_length=250,
        description="The units to preview; absent, every line's returnable units are shown.",
    )


class ReturnShipping(Input):
    carrier: OptionalText = Field(default=None, examples=["UPS"])
    tracking_number: Annotated[str, StringConstraints(max_length=64)] | None = None
    tracking_url: Annotated[str, StringConstraints(max_length=2048)] | None = None
    label_url: Annotated[str, StringConstraints(max_length=2048)] | None = Field(
        default=None, description="The prepaid return label the customer prints."
    )
    instructions: Note | None = Field(
        default=None, description="How to send the parcel back, for the customer's email."
    )


class ReturnApprove(Input):
    return_shipping: ReturnShipping | None = None
    return_by: UtcDatetime | None = Field(
        default=None,
        description="The date the parcel must be sent by (a promise: at most a year ahead).",
    )
    items_required: bool = Field(
        default=True,
        description="False for a claim (lost or damaged in transit): the return closes "
        "without receipt, and `close` refunds (or exchanges) the units.",
    )
    ship_replacement_first: bool = Field(
        default=False,
        description="For an exchange: create the replacement order now, paid by the "
        "returned units' value, rather than on receipt.",
    )
    note: Note | None = None


class ReturnDecline(Input):
    decline_reason: DeclineReason
    note: Note | None = None


class ReceiveLineIn(Input):
    line_item_id: LineItemId
    quantity: Quantity = Field(description="Units of the return's line accounted for.")
    disposition: Disposition = Field(
        description="`restock`: back in stock (`order.restock`); `not_restocked`, `damaged`: "
        "came back, not sellable; `missing`: did not come back (not refunded)."
    )


class Deduction(Input):
    reason: DeductionReason
    amount: Amount


class ReturnReceive(Input):
    line_items: list[ReceiveLineIn] = Field(
        default_factory=list,
        max_length=250,
        description="What came back, by line; absent: every unit of the return, restocked.",
    )
    refund: bool = Field(
        default=True,
        description="For `refund` and `store_credit`: refund the units that came back now "
        "(a pending refund linked by `return_id`). False: record the goods only.",
    )
    deductions: list[Deduction] = Field(
        default_factory=list,
        max_length=10,
        description="Taken off the refund: never more than it.",
    )
    note: Note | None = None

    @field_validator("line_items")
    @classmethod
    def _unique(cls, lines: list[ReceiveLineIn]) -> list[ReceiveLineIn]:
        _unique_lines(lines)
        return lines


class ReturnClose(Input):
    refund: bool = Field(
        default=True,
        description="For a claim of `refund` or `store_credit`: refund its units on closing.",
    )
    note: Note | None = None


class ReturnCancel(Input):
    note: Note | None = None


class ReturnLineOut(BaseModel):
    line_item_id: str
    sku: str
    title: str
    quantity: int
    reason: ReturnReason
    note: str | None
    unit_price: int
    received_quantity: int = Field(description="Units that came back.")
    disposition: Disposition | None
    restocked_quantity: int
    refunded_quantity: int = Field(description="Units the return's refund covered.")


class DeductionOut(BaseModel):
    reason: DeductionReason
    amount: int


class ReturnOut(BaseModel):
    id: str = Field(examples=["ret_01jd2m3n4p5q6r7s8t9v0w1x2y"])
    order_id: str
    order_number: int
    status: ReturnStatus
    resolution: Resolution
    line_items: list[ReturnLineOut]
    exchange_line_items: list[LineItemIn]
    currency: str
    expected_refund: int = Field(
        description="What the units are worth (their share of discounts and tax included): "
        "the refund on receipt before deductions, or the exchange's credit."
    )
    customer_note: str | None
    note: str | None
    override_policy: bool
    notify_customer: bool
    items_required: bool
    ship_replacement_first: bool
    return_shipping: ReturnShipping | None
    return_by: datetime | None
    decline_reason: DeclineReason | None
    refund_id: str | None
    refund_amount: int
    deductions: list[DeductionOut]
    exchange_order_id: str | None
    exchange_credit: int
    created_by: ActorRef
    created_at: datetime
    updated_at: datetime
    approved_at: datetime | None
    declined_at: datetime | None
    received_at: datetime | None
    closed_at: datetime | None
    cancelled_at: datetime | None


class ReturnResult(ReturnOut):
    order: OrderOut
    refund: RefundOut | None = Field(description="The refund this action made, if any.")


class ReturnList(BaseModel):
    data: list[ReturnOut]
    next_cursor: str | None


class ReturnLinePreview(BaseModel):
    line_item_id: str
    sku: str
    quantity: int = Field(description="Asked for (0 for a line not in the request).")
    returnable_quantity: int
    returnable_until: datetime | None
    eligible: bool
    code: ReturnRefusal | None = Field(description="Why not, when not eligible.")


class ReturnPreview(BaseModel):
    line_items: list[ReturnLinePreview] = Field(description="Every line of the order.")
    returnable: bool = Field(description="Whether POST /returns with this body would succeed.")
    codes: list[ReturnRefusal]
    expected_refund: int
    currency: str
    return_window_days: float
