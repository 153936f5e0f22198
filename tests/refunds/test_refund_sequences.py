"""Random sequences of refunds and settlements through the API; the money invariants are
checked after every step."""

from __future__ import annotations

from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.factories import create_order

LINES = [
    {"sku": "A", "title": "A", "quantity": 3, "unit_price": 1234},
    {"sku": "B", "title": "B", "quantity": 2, "unit_price": 999, "refundable": False},
]

step = st.one_of(
    st.tuples(
        st.just("refund"),
        st.lists(st.integers(0, 3), min_size=2, max_size=2),
        st.booleans(),  # shipping
        st.integers(0, 2000),  # goodwill
        st.booleans(),  # restock
    ),
    st.tuples(st.just("settle"), st.integers(0, 10), st.sampled_from(["succeeded", "failed"])),
)


def check(order: dict[str, Any], refunds: list[dict[str, Any]]) -> None:
    assert order["total_refunded"] + order["total_refund_pending"] <= order["total_paid"]
    assert order["total_refunded"] == sum(
        r["amount"] for r in refunds if r["status"] == "succeeded"
    )
    assert order["total_refund_pending"] == sum(
        r["amount"] for r in refunds if r["status"] == "pending"
    )
    for line in order["line_items"]:
        assert 0 <= line["refunded_quantity"] + line["refund_pending_quantity"] <= line["quantity"]
        assert 0 <= line["restocked_quantity"] <= line["quantity"]
        settled_units = sum(
            item["quantity"]
            for r in refunds
            if r["status"] == "succeeded"
            for item in r["line_items"]
            if item["line_item_id"] == line["id"]
        )
        assert line["refunded_quantity"] == settled_units
    expected = (
        "paid"
        if order["total_refunded"] == 0
        else "refunded"
        if order["total_refunded"] >= order["total_paid"]
        else "partially_refunded"
    )
    assert order["financial_status"] == expected


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(step, min_size=1, max_size=8))
async def test_invariants_hold_after_every_step(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str], steps: list[Any]
) -> None:
    order = await create_order(
        client, storefront, line_items=LINES, discounts=[{"code": "X", "amount": 321}]
    )
    url = f"/v1/orders/{order['id']}"
    for action in steps:
        if action[0] == "refund":
            _, quantities, shipping, goodwill, restock = action
            body: dict[str, Any] = {
                "line_items": [
                    {"line_item_id": li["id"], "quantity": q, "restock": restock}
                    for li, q in zip(order["line_items"], quantities, strict=True)
                    if q
                ],
                "override_policy": True,
                "note": "test",
            }
            if shipping:
                body["shipping"] = {"full": True}
            if goodwill:
                body["amount"] = goodwill
            response = await client.post(f"{url}/refunds", json=body, headers=ops)
            assert response.status_code in (201, 409, 422), response.text
        else:
            _, index, outcome = action
            pending = (await client.get(f"{url}/refunds", headers=ops)).json()["data"]
            pending = [r for r in pending if r["status"] == "pending"]
            if pending:
                target = pending[index % len(pending)]
                response = await client.post(
                    f"/v1/refunds/{target['id']}/settle", json={"status": outcome}, headers=ops
                )
                assert response.status_code == 200, response.text
        current = (await client.get(url, headers=ops)).json()
        refunds = (await client.get(f"{url}/refunds", params={"limit": 250}, headers=ops)).json()[
            "data"
        ]
        check(current, refunds)
