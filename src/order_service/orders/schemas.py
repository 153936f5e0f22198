from __future__ import annotations

import unicodedata
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

from order_service.kit import money
from order_service.kit.schema_types import (
    SEARCH_TEXT,
    SOME_TEXT,
    Amount,
    Email,
    IsoDate,
    Note,
    OptionalText,
    Quantity,
    ShortText,
    UtcDatetime,
)

Tag = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=SOME_TEXT)
]

SEARCH_HELP = (
    "An order number (`1001` or `#1001`) or the start of a customer's email address. "
    "Something besides `#` and whitespace is required."
)


def _search_term(value: str) -> str:
    """What `q` searches for: without surrounding whitespace and a leading `#`, in NFC, the
    Unicode form stored emails are in (`schema_types.Email`)."""
    return unicodedata.normalize("NFC", value.strip().removeprefix("#").strip())


SearchTerm = Annotated[
    str,
    StringConstraints(min_length=1, max_length=254, pattern=SEARCH_TEXT),
    AfterValidator(_search_term),
]


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OrderStatus(StrEnum):
    open = "open"
    cancelled = "cancelled"
    closed = "closed"


class FinancialStatus(StrEnum):
    pending = "pending"
    authorized = "authorized"
    partially_paid = "partially_paid"
    paid = "paid"
    partially_refunded = "partially_refunded"
    refunded = "refunded"
    voided = "voided"


class OrderFulfillmentStatus(StrEnum):
    unfulfilled = "unfulfilled"
    in_progress = "in_progress"
    partially_fulfilled = "partially_fulfilled"
    fulfilled = "fulfilled"
    delivered = "delivered"


class OrderReturnStatus(StrEnum):
    none = "none"
    requested = "requested"
    in_progress = "in_progress"
    returned = "returned"
    partially_returned = "partially_returned"


class Customer(Input):
    id: OptionalText = Field(default=None, description="The storefront's own customer id.")
    email: Email = Field(max_length=254, examples=["ann@example.com"])
    name: OptionalText = Field(default=None, examples=["Ann Example"])


class Address(Input):
    name: OptionalText = None
    company: OptionalText = None
    line1: ShortText = Field(examples=["1 Main St"])
    line2: OptionalText = None
    city: ShortText = Field(examples=["Oslo"])
    region: OptionalText = None
    postal_code: Annotated[str, StringConstraints(strip_whitespace=True, max_length=20)] | None = (
        None
    )
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] = Field(
        description="ISO 3166-1 alpha-2 country code.", examples=["NO"]
    )
    phone: Annotated[str, StringConstraints(max_length=40)] | None = None


class LineItemIn(Input):
    sku: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=128, pattern=SOME_TEXT),
    ]
    title: ShortText
    variant_title: OptionalText = None
    product_id: OptionalText = None
    quantity: Quantity
    unit_price: Amount = Field(description="Price of one unit in minor units of the currency.")
    refundable: bool = Field(default=True, description="False for final-sale items.")
    requires_shipping: bool = True


class ShippingLineIn(Input):
    title: ShortText = Field(examples=["Standard"])
    code: OptionalText = None
    price: Amount


class TaxLineIn(Input):
    title: ShortText = Field(examples=["VAT"])
    rate: float | None = Field(default=None, ge=0, le=1, description="Informational, e.g. 0.25.")
    amount: Amount


class DiscountIn(Input):
    code: ShortText = Field(examples=["WELCOME"])
    amount: Amount


class PaymentStatus(StrEnum):
    pending = "pending"
    authorized = "authorized"
    paid = "paid"


class PaymentIn(Input):
    status: PaymentStatus = Field(
        description="`pending`: nothing taken yet; `authorized`: the total is authorised; "
        "`paid`: the total is captured."
    )
    gateway: OptionalText = Field(default=None, examples=["stripe"])
    reference: OptionalText = Field(default=None, examples=["ch_3PqR"])
    fee: Amount | None = Field(default=None, description="Processing fee the gateway kept.")


class OrderCreate(Input):
    customer: Customer
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] = Field(
        description="ISO 4217 code; amounts are integers in its minor unit.",
        examples=["USD"],
        json_schema_extra={"enum": list(money.CHARGEABLE)},
    )
    line_items: list[LineItemIn] = Field(min_length=1, max_length=250)
    shipping_lines: list[ShippingLineIn] = Field(default_factory=list, max_length=20)
    tax_lines: list[TaxLineIn] = Field(default_factory=list, max_length=50)
    discounts: list[DiscountIn] = Field(default_factory=list, max_length=20)
    taxes_included: bool = Field(
        default=False,
        description="True when unit prices already include the tax lines (tax is then not "
        "added to the total).",
    )
    shipping_address: Address | None = None
    billing_address: Address | None = None
    payment: PaymentIn | None = Field(
        default=None, description="Payment state at checkout; absent means `pending`."
    )
    processed_at: UtcDatetime | None = Field(
        default=None,
        description="When the order was placed; defaults to now. May be in the past for "
        "imported orders, never in the future.",
    )
    estimated_dispatch_date: IsoDate | None = Field(
        default=None,
        description="Overrides the computed processed_at + HANDLING_DAYS business days.",
    )
    note: Note | None = None
    tags: list[Tag] = Field(default_factory=list, max_length=50)
    source_name: OptionalText = Field(default=None, examples=["web"])

    @field_validator("tags")
    @classmethod
    def _unique_tags(cls, tags: list[str]) -> list[str]:
        return list(dict.fromkeys(tags))

    @field_validator("currency")
    @classmethod
    def _known_currency(cls, code: str) -> str:
        if not money.is_chargeable(code):
            raise ValueError(f"{code} is not an ISO 4217 currency an order can be charged in")
        return code


class OrderUpdate(Input):
    note: Note | None = None
    tags: list[Tag] | None = Field(default=None, max_length=50)
    shipping_address: Address | None = Field(
        default=None, description="Only while nothing has entered fulfilment."
    )

    @field_validator("tags")
    @classmethod
    def _unique_tags(cls, tags: list[str] | None) -> list[str] | None:
        return None if tags is None else list(dict.fromkeys(tags))


class ReorderRequest(Input):
    payment: PaymentIn | None = Field(
        default=None, description="Payment state of the new order; absent means `pending`."
    )
    note: Note | None = Field(default=None, description="Defaults to the original's note.")


class TransactionKind(StrEnum):
    authorization = "authorization"
    capture = "capture"
    sale = "sale"
    void = "void"


class TransactionCreate(Input):
    kind: TransactionKind = Field(
        description="`authorization` holds funds, `capture` takes authorised funds, `sale` "
        "authorises and captures at once, `void` releases an authorisation."
    )
    amount: Amount | None = Field(
        default=None,
        description="Minor units; defaults to what is outstanding (the rest of the total for "
        "authorization/sale, the rest of the authorisation for capture). Ignored for void.",
    )
    status: Literal["success", "failure"] = "success"
    gateway: OptionalText = None
    reference: OptionalText = None
    fee: Amount | None = Field(
        default=None, description="Processing fee the gateway kept; not returned by refunds."
    )
    error_message: Annotated[str, StringConstraints(max_length=1000)] | None = None


# ---------------------------------------------------------------- responses


class Output(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class CustomerOut(Output):
    id: str | None
    email: str
    name: str | None


class LineItemOut(Output):
    id: str
    sku: str
    title: str
    variant_title: str | None
    product_id: str | None
    quantity: int
    unit_price: int
    total: int = Field(description="quantity x unit_price.")
    refundable: bool
    requires_shipping: bool
    fulfilled_quantity: int = Field(
        description="Units in fulfilments that are not cancelled: being picked or shipped."
    )
    shipped_quantity: int = Field(description="Units in shipped fulfilments.")
    refunded_quantity: int = Field(description="Units refunded (settled refunds).")
    refund_pending_quantity: int = Field(description="Units in refunds not yet settled.")
    restocked_quantity: int
    removed_quantity: int = Field(
        description="Units edits took off the line (no longer in `quantity`); a line an edit "
        "removed stays with `quantity` 0."
    )
    return_requested_quantity: int = Field(
        description="Units in returns requested or approved, not yet received."
    )
    returned_quantity: int = Field(description="Units received back by returns.")
    exchanged_quantity: int = Field(
        description="Returned units whose value paid for an exchange order: not refundable."
    )


class OrderOut(Output):
    id: str = Field(examples=["ord_01jd2m3n4p5q6r7s8t9v0w1x2y"])
    number: int = Field(description="Human order number, sequential from 1001.", examples=[1001])
    status: OrderStatus
    financial_status: FinancialStatus
    fulfillment_status: OrderFulfillmentStatus
    customer: CustomerOut
    shipping_address: dict[str, Any] | None
    billing_address: dict[str, Any] | None
    line_items: list[LineItemOut]
    shipping_lines: list[dict[str, Any]]
    tax_lines: list[dict[str, Any]]
    discounts: list[dict[str, Any]]
    currency: str
    currency_exponent: int = Field(description="Digits in the minor unit: 2 for USD, 0 for JPY.")
    taxes_included: bool
    subtotal: int
    shipping_total: int
    tax_total: int
    discount_total: int
    total: int
    total_authorized: int
    total_paid: int = Field(description="Captured so far.")
    total_refunded: int = Field(description="Settled refunds.")
    total_refund_pending: int = Field(description="Refunds created and not yet settled.")
    shipping_refunded: int
    total_fees: int = Field(description="Processing fees kept by the gateway.")
    net_paid: int = Field(description="total_paid - total_refunded - total_fees.")
    total_edit_refunds: int = Field(
        description="Refunds made because an edit lowered the total, pending or succeeded."
    )
    outstanding: int = Field(
        description="What the customer still owes for the order as it now stands, in minor "
        "units: `total - total_paid + total_edit_refunds`. Negative when the shop owes the "
        "customer (an edit with `refund: false`). 0 for an order paid in full and never "
        "edited, whatever was refunded for cancellation, returns or goodwill; only edits and "
        "payments move it."
    )
    total_exchange_credit: int = Field(
        description="What returned units were worth toward exchange orders: paid money moved "
        "to them, no longer refundable here."
    )
    return_status: OrderReturnStatus = Field(
        description="`requested`: a return awaits approval; `in_progress`: an approved return "
        "awaits its parcel; `returned` / `partially_returned`: every shipped unit / some "
        "came back; `none` otherwise."
    )
    payment_gateway: str | None
    payment_reference: str | None
    note: str | None
    tags: list[str]
    source_name: str | None
    processed_at: datetime
    estimated_dispatch_date: date | None
    delivered_at: datetime | None
    customer_cancellable_until: datetime | None = Field(
        description="Until when the customer may cancel; null when they no longer can."
    )
    customer_editable_until: datetime | None = Field(
        description="Until when the customer may edit (`POST /v1/orders/{id}/edits`); null "
        "when they no longer can."
    )
    cancelled_at: datetime | None
    cancel_reason: str | None
    cancelled_by: Literal["customer", "merchant"] | None
    reordered_from_id: str | None = Field(description="The order this one reorders.")
    reorder_ids: list[str] = Field(description="Orders created by reordering this one.")
    exchanged_from_id: str | None = Field(
        description="For an exchange order: the order whose return it replaces items of."
    )
    archived_at: datetime | None
    closed_at: datetime | None
    version: int = Field(description="Increases with every change; also sent as the ETag.")
    created_at: datetime
    updated_at: datetime


class OrderList(BaseModel):
    data: list[OrderOut]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end."
    )


class TransactionOut(Output):
    id: str
    order_id: str
    kind: str
    status: str
    amount: int
    fee: int
    currency: str
    gateway: str | None
    reference: str | None
    error_message: str | None
    created_at: datetime


class TransactionResult(BaseModel):
    transaction: TransactionOut
    order: OrderOut


class ActorOut(BaseModel):
    type: Literal["api_key", "system"]
    id: str | None
    name: str
    role: str | None


class TimelineEntryOut(BaseModel):
    id: int
    order_id: str
    action: str = Field(examples=["order.created"])
    message: str
    actor: ActorOut
    data: dict[str, Any]
    created_at: datetime


class TimelineList(BaseModel):
    data: list[TimelineEntryOut]
    next_cursor: str | None
