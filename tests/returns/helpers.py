"""Shortcuts for the returns tests: an order shipped and delivered, and the return calls."""

from __future__ import annotations

from typing import Any

import httpx

from tests.factories import create_order

TEE = {"sku": "TEE-M", "title": "Tee", "quantity": 2, "unit_price": 2000}
MUG = {"sku": "MUG", "title": "Mug", "quantity": 1, "unit_price": 1000, "refundable": False}


async def shipped_order(
    client: httpx.AsyncClient,
    storefront: dict[str, str],
    ops: dict[str, str],
    *,
    delivered: bool = True,
    **overrides: Any,
) -> dict[str, Any]:
    """A paid order (2 tees at 20.00, a final-sale mug at 10.00, no shipping, tax or
    discount unless overridden), every unit shipped and (`delivered`) delivered."""
    order = await create_order(
        client,
        storefront,
        **{
            "line_items": [TEE, MUG],
            "shipping_lines": [],
            "tax_lines": [],
            "discounts": [],
            **overrides,
        },
    )
    response = await client.post(
        f"/v1/orders/{order['id']}/fulfillments",
        json={"status": "shipped", "carrier": "UPS", "tracking_number": "1Z1"},
        headers=ops,
    )
    assert response.status_code == 201, response.text
    if delivered:
        parcel = response.json()
        response = await client.post(
            f"/v1/fulfillments/{parcel['id']}/tracking-events",
            json={"status": "delivered", "occurred_at": parcel["shipped_at"]},
            headers=ops,
        )
        assert response.status_code in {200, 201}, response.text
    response = await client.get(f"/v1/orders/{order['id']}", headers=ops)
    result: dict[str, Any] = response.json()
    return result


def units(order: dict[str, Any], *quantities: int, reason: str = "size_or_fit") -> list[Any]:
    return [
        {"line_item_id": li["id"], "quantity": q, "reason": reason}
        for li, q in zip(order["line_items"], quantities, strict=False)
        if q
    ]


async def request_return(
    client: httpx.AsyncClient, headers: dict[str, str], order: dict[str, Any], **body: Any
) -> httpx.Response:
    return await client.post(f"/v1/orders/{order['id']}/returns", json=body, headers=headers)


async def act(
    client: httpx.AsyncClient, headers: dict[str, str], return_id: str, action: str, **body: Any
) -> httpx.Response:
    return await client.post(f"/v1/returns/{return_id}/{action}", json=body, headers=headers)


async def requested(
    client: httpx.AsyncClient, headers: dict[str, str], order: dict[str, Any], *quantities: int,
    **body: Any,
) -> dict[str, Any]:  # fmt: skip
    response = await request_return(
        client, headers, order, line_items=units(order, *quantities), **body
    )
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def approved(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str],
    order: dict[str, Any], *quantities: int, approve: dict[str, Any] | None = None, **body: Any,
) -> dict[str, Any]:  # fmt: skip
    found = await requested(client, storefront, order, *quantities, **body)
    response = await act(client, ops, found["id"], "approve", **(approve or {}))
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result
