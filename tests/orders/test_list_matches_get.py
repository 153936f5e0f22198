"""The order list is built from rows, the order GET from ORM objects: every listed order must
be, byte for byte, what GET answers for it, whatever state the order is in."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.conftest import Keys
from tests.factories import ADDRESS, create_order
from tests.helpers import fulfil


def first_line(order: dict[str, Any], quantity: int) -> dict[str, Any]:
    return {"line_items": [{"line_item_id": order["line_items"][0]["id"], "quantity": quantity}]}


async def orders_in_every_state(client: httpx.AsyncClient, keys: Keys) -> None:
    """Orders covering what an order can show: several currencies, addresses or none,
    metadata, payments and fees, parcels pending, shipped and delivered, refunds pending and
    settled, a cancellation, an archive, a reorder, imported and fresh orders."""
    ops, storefront = keys.headers("ops"), keys.headers("storefront")

    async def post(path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = await client.post(path, json=body, headers=ops)
        assert response.status_code in (200, 201), response.text
        result: dict[str, Any] = response.json()
        return result

    async def track(parcel: dict[str, Any], status: str) -> None:
        event = {"status": status, "occurred_at": datetime.now(UTC).isoformat()}
        await post(f"/v1/fulfillments/{parcel['id']}/tracking-events", event)

    lines = [
        {"sku": "TEE-M", "title": "Tee — «blå»", "quantity": 3, "unit_price": 1999},
        {"sku": "MUG", "title": "Mug ☕", "quantity": 1, "unit_price": 1200, "refundable": False},
        {
            "sku": "CARD",
            "title": "Gift card",
            "variant_title": "50",
            "product_id": "p_9",
            "quantity": 1,
            "unit_price": 5000,
            "requires_shipping": False,
        },
    ]
    rich = await create_order(
        client,
        storefront,
        line_items=lines,
        customer={"email": "Ærlig@Example.org", "name": "Åse Ørn", "id": "c_42"},
        shipping_address={**ADDRESS, "company": "Øl AS", "phone": "+47 22 00 00 00"},
        billing_address={**ADDRESS, "line2": "Postboks 7", "region": "Oslo"},
        shipping_lines=[{"title": "Express", "code": "EXP", "price": 990}],
        tax_lines=[{"title": "MVA", "rate": 0.25, "amount": 2500}],
        discounts=[{"code": "WELCOME", "amount": 500}],
        payment={"status": "authorized", "gateway": "adyen", "reference": "psp_1"},
        processed_at=(datetime.now(UTC) - timedelta(minutes=10)).isoformat(),
        estimated_dispatch_date="2026-12-01",
        note="Ring the bell\nthen wait",
        tags=["vip", "gift"],
        source_name="pos",
    )
    await post(f"/v1/orders/{rich['id']}/transactions", {"kind": "capture", "fee": 321})
    await fulfil(client, ops, rich, units=2, status="pending")
    await track(await fulfil(client, ops, rich, units=1), "in_transit")
    refund = await post(f"/v1/orders/{rich['id']}/refunds", first_line(rich, 1))
    assert refund["status"] == "pending"
    edited = await client.patch(f"/v1/orders/{rich['id']}", json={"tags": ["late"]}, headers=ops)
    assert edited.status_code == 200, edited.text

    delivered = await create_order(client, storefront, currency="JPY", tags=[], note=None)
    await track(await fulfil(client, ops, delivered, units=2), "delivered")
    rest = {**delivered, "line_items": delivered["line_items"][1:]}
    await track(await fulfil(client, ops, rest), "delivered")
    settled = await post(f"/v1/orders/{delivered['id']}/refunds", first_line(delivered, 2))
    await post(f"/v1/refunds/{settled['id']}/settle", {"status": "succeeded", "reference": "r1"})

    cancelled = await create_order(
        client, storefront, currency="KWD", shipping_address=None, billing_address=None
    )
    await post(f"/v1/orders/{cancelled['id']}/cancel", {"reason": "fraud", "note": "chargeback"})
    await post(f"/v1/orders/{cancelled['id']}/reorder")

    imported = await create_order(
        client, storefront, payment=None, processed_at="2026-01-05T10:00:00+02:00"
    )
    await post(f"/v1/orders/{imported['id']}/archive")


async def test_every_listed_order_is_what_get_answers(
    client: httpx.AsyncClient, api_keys: Keys
) -> None:
    await orders_in_every_state(client, api_keys)
    headers = api_keys.headers("storefront")
    listed = 0
    for params in ({"limit": 250}, {"archived": True}, {"limit": 2}):
        page = await client.get("/v1/orders", params=params, headers=headers)
        assert page.status_code == 200, page.text
        assert page.headers["content-type"] == "application/json"
        body = page.json()
        singles = []
        for order in body["data"]:
            single = await client.get(f"/v1/orders/{order['id']}", headers=headers)
            assert order == single.json()
            singles.append(single.content)
        # the same bytes, in the envelope FastAPI writes for an OrderList
        cursor = json.dumps(body["next_cursor"]).encode()
        envelope = b'{"data":[' + b",".join(singles) + b'],"next_cursor":' + cursor + b"}"
        assert page.content == envelope
        listed += len(singles)
    assert listed == 4 + 1 + 2
    assert (await client.get("/v1/orders?limit=2", headers=headers)).json()["next_cursor"]
