from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from order_service.kit.schema_types import NewQuantity, Note
from order_service.orders.schemas import (
    Address,
    DiscountIn,
    LineItemIn,
    OrderOut,
    ShippingLineIn,
    TaxLineIn,
)
from order_service.refunds.schemas import ActorRef, LineItemId, RefundMethod, RefundOut


class EditReason(StrEnum):
    customer_request = "customer_request"
    out_of_stock = "out_of_stock"
    price_correction = "price_correction"
    other = "other"


class LineQuantityIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    line_item_id: LineItemId
    quantity: NewQuantity = Field(description="The line's new quantity; 0 removes the line.")


class EditRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    line_items: list[LineQuantityIn] = Field(
        default_factory=list,
        max_length=250,
        description="New quantities of existing lines (each line at most once). A line never "
        "goes below the units picked, shipped or refunded.",
    )
    add_line_items: list[LineItemIn] = Field(
        default_factory=list,
        max_length=250,
        description="New lines, as at order creation. The order keeps at most 250 lines "
        "with units.",
    )
    shipping_address: Address | None = Field(
        default=None, description="The new shipping address; absent keeps it."
    )
    shipping_lines: list[ShippingLineIn] | None = Field(
        default=None,
        max_length=20,
        description="Replace the shipping lines (ops and admin only); absent keeps them.",
    )
    tax_lines: list[TaxLineIn] | None = Field(
        default=None,
        max_length=50,
        description="Replace the tax lines; absent keeps them. The storefront computes tax, "
        "so it sends them when the goods change.",
    )
    discounts: list[DiscountIn] | None = Field(
        default=None, max_length=20, description="Replace the discounts; absent keeps them."
    )
    reason: EditReason | None = Field(
        default=None,
        description="Defaults to `customer_request` for storefront keys, `other` for ops.",
    )
    note: Note | None = None
    restock: bool = Field(
        default=True, description="Put units the edit removes back in stock (`order.restock`)."
    )
    refund: bool = Field(
        default=True,
        description="When the new total is below what was paid, refund the difference at once "
        "(a pending refund, reason `order_edited`). Storefront edits always refund; with "
        "`false` (ops) `outstanding` goes negative instead.",
    )
    refund_method: RefundMethod = RefundMethod.original_payment
    notify_customer: bool = Field(
        default=True, description="Passed on in `order.edited` for the email service."
    )

    @field_validator("line_items")
    @classmethod
    def _each_line_once(cls, lines: list[LineQuantityIn]) -> list[LineQuantityIn]:
        ids = [line.line_item_id for line in lines]
        if len(set(ids)) != len(ids):
            raise ValueError("name each line_item_id at most once")
        return lines


class LineChange(BaseModel):
    line_item_id: str
    sku: str
    title: str
    quantity_before: int = Field(description="0 for a line this edit added.")
    quantity_after: int = Field(description="0 when this edit removed the line.")
    amount_delta: int = Field(
        description="(quantity_after - quantity_before) x unit_price: negative when the "
        "line's total falls."
    )
    restocked_quantity: int = Field(description="Units this edit put back in stock.")


class FieldChange(BaseModel):
    field: str = Field(examples=["shipping_address"])
    before: Any
    after: Any


class EditBase(BaseModel):
    order_id: str
    changes: list[LineChange]
    field_changes: list[FieldChange] = Field(
        description="Other fields the edit changed: `shipping_address`, `shipping_lines`, "
        "`tax_lines`, `discounts`."
    )
    total_before: int
    total_after: int
    outstanding_before: int
    outstanding_after: int = Field(
        description="What the customer owes after the edit (negative: what the shop owes)."
    )
    currency: str
    reason: EditReason
    note: str | None
    restock: bool
    notify_customer: bool


class EditOut(EditBase):
    id: str = Field(examples=["edit_01jd2m3n4p5q6r7s8t9v0w1x2y"])
    refund: RefundOut | None = Field(
        description="The pending refund this edit made (reason `order_edited`), if any."
    )
    created_by: ActorRef
    created_at: datetime


class EditResult(EditOut):
    order: OrderOut = Field(description="The order after the edit.")


class EditList(BaseModel):
    data: list[EditOut]
    next_cursor: str | None


class RefundPlan(BaseModel):
    amount: int
    currency: str
    method: RefundMethod


class EditPreview(EditBase):
    id: None = Field(default=None, description="Null: nothing is written.")
    refund: RefundPlan | None = Field(description="The refund the edit would make, if any.")
    order: OrderOut = Field(description="The order as the edit would leave it.")
    editable: bool = Field(description="Whether POST /edits with this body would succeed.")
    code: str | None = Field(
        description="Why not, when not: `order_not_open`, `order_in_fulfillment`, "
        "`edit_window_expired`, `line_item_not_editable`, `edit_empties_order`."
    )
