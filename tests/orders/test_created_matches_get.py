"""A new order is answered from the rows just written (`presenter.order_fields`), not read
back, and GET serialises the rows it reads the same way: the 201 must be what GET answers
for it next, both must be what `OrderOut` makes of them, and its `order.created` event must
carry the same order, whatever the order looks like."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from order_service.orders.schemas import OrderOut
from tests.conftest import Keys
from tests.factories import ADDRESS, order_body

SHAPES: dict[str, dict[str, Any]] = {
    "plain": {},
    "rich": {
        "line_items": [
            {"sku": "TEE-M", "title": "Tee — «blå»", "quantity": 3, "unit_price": 1999},
            {"sku": "MUG", "title": "Mug ☕", "quantity": 1, "unit_price": 1200,
             "refundable": False},
            {"sku": "CARD", "title": "Gift card", "variant_title": "50", "product_id": "p_9",
             "quantity": 1, "unit_price": 5000, "requires_shipping": False},
        ],
        "customer": {"email": "Ærlig@Example.org", "name": "Åse Ørn", "id": "c_42"},
        "shipping_address": {**ADDRESS, "company": "Øl AS", "phone": "+47 22 00 00 00"},
        "billing_address": {**ADDRESS, "line2": "Postboks 7", "region": "Oslo"},
        "shipping_lines": [{"title": "Express", "code": "EXP", "price": 990}],
        "tax_lines": [{"title": "MVA", "rate": 0.25, "amount": 2500}],
        "discounts": [{"code": "WELCOME", "amount": 500}],
        "payment": {"status": "authorized", "gateway": "adyen", "reference": "psp_1", "fee": 30},
        "estimated_dispatch_date": "2026-12-01",
        "note": "Ring the bell\nthen wait",
        "tags": ["vip", "gift"],
        "source_name": "pos",
    },
    "paid in yen": {"currency": "JPY", "payment": {"status": "paid", "gateway": "stripe"}},
    "pending, no addresses": {
        "currency": "KWD", "payment": None, "shipping_address": None, "billing_address": None,
    },
    "imported": {"processed_at": "2026-01-05T10:00:00+02:00", "tags": []},
    "taxes included": {"taxes_included": True, "tax_lines": [{"title": "VAT", "amount": 100}]},
}  # fmt: skip


async def _same_as_get(client: httpx.AsyncClient, keys: Keys, created: httpx.Response) -> None:
    assert created.status_code == 201, created.text
    assert created.headers["content-type"] == "application/json"
    order = created.json()
    assert created.headers["location"] == f"/v1/orders/{order['id']}"
    single = await client.get(created.headers["location"], headers=keys.headers("storefront"))
    # Equal as JSON: addresses come back from jsonb with their keys in jsonb's own order.
    assert single.json() == order
    # Both are serialised from rows (`order_fields`), not through `OrderOut`: they must be
    # what `OrderOut`, the documented schema, makes of them, as every change's answer is.
    assert OrderOut.model_validate(order).model_dump(mode="json") == order
    assert created.headers["etag"] == single.headers["etag"] == f'"{order["version"]}"'
    events = await client.get(
        "/v1/events",
        params={"order_id": order["id"], "type": "order.created"},
        headers=keys.headers("ops"),
    )
    (event,) = events.json()["data"]
    assert event["data"]["order"] == order


@pytest.mark.parametrize("shape", SHAPES)
async def test_a_new_order_is_what_get_answers(
    client: httpx.AsyncClient, api_keys: Keys, shape: str
) -> None:
    body = order_body(**SHAPES[shape])
    if shape == "plain":
        body["processed_at"] = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    created = await client.post("/v1/orders", json=body, headers=api_keys.headers("storefront"))
    await _same_as_get(client, api_keys, created)


async def test_a_reorder_is_what_get_answers(client: httpx.AsyncClient, api_keys: Keys) -> None:
    ops = api_keys.headers("ops")
    first = await client.post("/v1/orders", json=order_body(**SHAPES["rich"]), headers=ops)
    reorder = await client.post(
        f"/v1/orders/{first.json()['id']}/reorder",
        json={"payment": {"status": "paid", "gateway": "stripe", "reference": "ch_2"}},
        headers=ops,
    )
    await _same_as_get(client, api_keys, reorder)
    assert reorder.json()["reordered_from_id"] == first.json()["id"]
