"""Request bodies and shortcuts that read like a storefront's calls."""

from __future__ import annotations

import copy
from typing import Any

import httpx

from tests.conftest import Keys

__all__ = ["Keys", "create_order", "order_body", "problem"]

ADDRESS = {
    "name": "Ann Example",
    "line1": "1 Main St",
    "line2": None,
    "city": "Oslo",
    "region": None,
    "postal_code": "0150",
    "country": "NO",
}

BASE_ORDER: dict[str, Any] = {
    "customer": {"email": "ann@example.com", "name": "Ann", "id": "c_1"},
    "currency": "USD",
    "line_items": [
        {"sku": "TEE-M", "title": "Tee", "quantity": 2, "unit_price": 1999},
        {"sku": "MUG", "title": "Mug", "quantity": 1, "unit_price": 1200, "refundable": False},
    ],
    "shipping_lines": [{"title": "Standard", "price": 500}],
    "tax_lines": [{"title": "VAT", "amount": 300}],
    "discounts": [{"code": "WELCOME", "amount": 200}],
    "shipping_address": ADDRESS,
    "billing_address": ADDRESS,
    "payment": {"status": "paid", "gateway": "stripe", "reference": "ch_1"},
}


def order_body(**overrides: Any) -> dict[str, Any]:
    body = copy.deepcopy(BASE_ORDER)
    for key, value in overrides.items():
        if value is None:
            body.pop(key, None)
        else:
            body[key] = value
    return body


async def create_order(
    client: httpx.AsyncClient, headers: dict[str, str], **overrides: Any
) -> dict[str, Any]:
    response = await client.post("/v1/orders", json=order_body(**overrides), headers=headers)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """Assert `response` is an RFC 9457 problem with this status and code; return it."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    assert body["status"] == status
    assert {"type", "title", "detail"} <= body.keys()
    return body
