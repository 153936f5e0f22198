"""Turning an order row into what the API and the webhooks show."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Protocol

import pydantic_core

from order_service.cancellations import policy as cancellation
from order_service.edits import policy as edit_policy
from order_service.kit import money
from order_service.kit.pagination import Page
from order_service.orders.models import Order
from order_service.orders.schemas import LineItemOut, OrderOut
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


LINE_COMPUTED = ("total",)
ORDER_COMPUTED = (
    "customer",
    "line_items",
    "currency_exponent",
    "net_paid",
    "outstanding",
    "customer_cancellable_until",
    "customer_editable_until",
    "tags",
    "reorder_ids",
)
# Every other field of the schemas is its model's column of the same name, copied as it is:
# a new stored field is a column, a model attribute and a schema field, nothing here
# (`tests/orders/test_presenter.py` holds the schemas to the models).
_LINE_FIELDS = tuple((name, name in LINE_COMPUTED) for name in LineItemOut.model_fields)
_ORDER_FIELDS = tuple((name, name in ORDER_COMPUTED) for name in OrderOut.model_fields)


def _line_fields(line: Row) -> dict[str, Any]:
    computed = {"total": line["quantity"] * line["unit_price"]}
    return {name: computed[name] if made else line[name] for name, made in _LINE_FIELDS}


def order_fields(
    order: Row, line_items: Iterable[Row], now: datetime, settings: Settings
) -> dict[str, Any]:
    """An order as the API shows it, from its `orders` row and its `line_items` rows, with
    `OrderOut`'s fields in its order: the stored ones by name, the rest computed here. Every
    change validates it into `OrderOut`; a new order, the order GET and the order list
    serialise it as it is (by the serialiser FastAPI uses for `OrderOut`), so none can
    differ, and `tests/orders/test_created_matches_get.py` holds what they send to `OrderOut`."""
    lines = list(line_items)
    customer_decision = cancellation.decide(
        _cancellation_state(order, lines),
        merchant=False,
        now=now,
        window=settings.customer_cancel_window,
    )
    computed = {
        "customer": {
            "id": order["customer_id"],
            "email": order["customer_email"],
            "name": order["customer_name"],
        },
        "line_items": [_line_fields(line) for line in lines],
        "currency_exponent": money.exponent(order["currency"]),
        "net_paid": order["total_paid"] - order["total_refunded"] - order["total_fees"],
        "outstanding": edit_policy.outstanding(
            total=order["total"], paid=order["total_paid"], edit_refunds=order["total_edit_refunds"]
        ),
        "customer_cancellable_until": customer_decision.until,
        "customer_editable_until": edit_policy.customer_until(
            order["status"],
            order["fulfillment_status"],
            order["processed_at"],
            now=now,
            window=settings.edit_window,
        ),
        "tags": list(order["tags"]),
        "reorder_ids": list(order["reorder_ids"]),
    }
    return {name: computed[name] if made else order[name] for name, made in _ORDER_FIELDS}


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
