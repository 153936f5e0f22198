"""Turning an order row into what the API and the webhooks show."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Protocol

import pydantic_core

from order_service.cancellations import policy as cancellation
from order_service.kit import money
from order_service.kit.pagination import Page
from order_service.orders.models import Order
from order_service.orders.schemas import OrderOut
from order_service.settings import Settings


class Row(Protocol):
    """A row by column name: a `RowMapping`, a dict, or an ORM object through
    `_Attributes`."""

    def __getitem__(self, column: str, /) -> Any: ...


class _Attributes:
    __slots__ = ("obj",)

    def __init__(self, obj: object) -> None:
        self.obj = obj

    def __getitem__(self, column: str) -> Any:
        return getattr(self.obj, column)


def cancellation_state(order: Order) -> cancellation.OrderState:
    return _cancellation_state(_Attributes(order), [_Attributes(li) for li in order.line_items])


def _cancellation_state(order: Row, line_items: list[Row]) -> cancellation.OrderState:
    return cancellation.OrderState(
        status=order["status"],
        fulfillment_status=order["fulfillment_status"],
        processed_at=order["processed_at"],
        shipped_units=sum(li["shipped_quantity"] for li in line_items),
    )


def order_fields(
    order: Row, line_items: Iterable[Row], now: datetime, settings: Settings
) -> dict[str, Any]:
    """An order as the API shows it, from its `orders` row and its `line_items` rows: the one
    definition of its fields, in `OrderOut`'s order. Every change validates it into
    `OrderOut`; a new order, the order GET and the order list serialise it as it is (by the
    serialiser FastAPI uses for `OrderOut`), so none can differ, and
    `tests/orders/test_created_matches_get.py` holds what they send to `OrderOut`."""
    lines = list(line_items)
    customer_decision = cancellation.decide(
        _cancellation_state(order, lines),
        merchant=False,
        now=now,
        window=settings.customer_cancel_window,
    )
    total_paid = order["total_paid"]
    return {
        "id": order["id"],
        "number": order["number"],
        "status": order["status"],
        "financial_status": order["financial_status"],
        "fulfillment_status": order["fulfillment_status"],
        "customer": {
            "id": order["customer_id"],
            "email": order["customer_email"],
            "name": order["customer_name"],
        },
        "shipping_address": order["shipping_address"],
        "billing_address": order["billing_address"],
        "line_items": [
            {
                "id": li["id"],
                "sku": li["sku"],
                "title": li["title"],
                "variant_title": li["variant_title"],
                "product_id": li["product_id"],
                "quantity": li["quantity"],
                "unit_price": li["unit_price"],
                "total": li["quantity"] * li["unit_price"],
                "refundable": li["refundable"],
                "requires_shipping": li["requires_shipping"],
                "fulfilled_quantity": li["fulfilled_quantity"],
                "shipped_quantity": li["shipped_quantity"],
                "refunded_quantity": li["refunded_quantity"],
                "refund_pending_quantity": li["refund_pending_quantity"],
                "restocked_quantity": li["restocked_quantity"],
            }
            for li in lines
        ],
        "shipping_lines": order["shipping_lines"],
        "tax_lines": order["tax_lines"],
        "discounts": order["discounts"],
        "currency": order["currency"],
        "currency_exponent": money.exponent(order["currency"]),
        "taxes_included": order["taxes_included"],
        "subtotal": order["subtotal"],
        "shipping_total": order["shipping_total"],
        "tax_total": order["tax_total"],
        "discount_total": order["discount_total"],
        "total": order["total"],
        "total_authorized": order["total_authorized"],
        "total_paid": total_paid,
        "total_refunded": order["total_refunded"],
        "total_refund_pending": order["total_refund_pending"],
        "shipping_refunded": order["shipping_refunded"],
        "total_fees": order["total_fees"],
        "net_paid": total_paid - order["total_refunded"] - order["total_fees"],
        "payment_gateway": order["payment_gateway"],
        "payment_reference": order["payment_reference"],
        "note": order["note"],
        "tags": list(order["tags"]),
        "source_name": order["source_name"],
        "processed_at": order["processed_at"],
        "estimated_dispatch_date": order["estimated_dispatch_date"],
        "delivered_at": order["delivered_at"],
        "customer_cancellable_until": customer_decision.until,
        "cancelled_at": order["cancelled_at"],
        "cancel_reason": order["cancel_reason"],
        "cancelled_by": order["cancelled_by"],
        "reordered_from_id": order["reordered_from_id"],
        "reorder_ids": list(order["reorder_ids"]),
        "archived_at": order["archived_at"],
        "closed_at": order["closed_at"],
        "version": order["version"],
        "created_at": order["created_at"],
        "updated_at": order["updated_at"],
    }


def _fields(order: Order, now: datetime, settings: Settings) -> dict[str, Any]:
    return order_fields(
        _Attributes(order), [_Attributes(li) for li in order.line_items], now, settings
    )


def order_out(order: Order, now: datetime, settings: Settings) -> OrderOut:
    return OrderOut.model_validate(_fields(order, now, settings))


def order_json(order: Order, now: datetime, settings: Settings) -> dict[str, Any]:
    """The order as JSON-ready values, as `OrderOut` would dump it (by the same serialiser),
    without validating it into one first: for event payloads, one or more on every change."""
    data: dict[str, Any] = pydantic_core.to_jsonable_python(_fields(order, now, settings))
    return data


def order_page_json(page: Page[tuple[Row, list[Row]]], now: datetime, settings: Settings) -> bytes:
    """An `OrderList` page as JSON, serialised once by pydantic's serialiser, the one FastAPI
    uses for `OrderOut`, so each order's JSON is byte for byte the order GET's."""
    return pydantic_core.to_json(
        {
            "data": [order_fields(order, lines, now, settings) for order, lines in page.items],
            "next_cursor": page.next_cursor,
        }
    )
