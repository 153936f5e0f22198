"""Edits racing each other, cancellation, fulfilment and refunds on one order: real
concurrent requests, then the order checked against its refunds, parcels and events."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import httpx

from tests.factories import create_order

CAP = {"sku": "CAP", "title": "Cap", "quantity": 1, "unit_price": 900}


async def _all_pages(client: httpx.AsyncClient, url: str, headers: dict[str, str]) -> list[Any]:
    response = await client.get(url, params={"limit": 250}, headers=headers)
    assert response.status_code == 200, response.text
    data: list[Any] = response.json()["data"]
    return data


async def test_twelve_way_races_keep_units_and_money_consistent(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str]
) -> None:
    edited = [await _race(client, storefront, ops, round_) for round_ in range(3)]
    assert sum(edited) >= 3, edited  # the edits did race the rest


async def _race(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str], round_: int
) -> None:
    order = await create_order(
        client,
        storefront,
        line_items=[
            {"sku": "TEE", "title": "Tee", "quantity": 5, "unit_price": 1999},
            {"sku": "MUG", "title": "Mug", "quantity": 2, "unit_price": 1200},
        ],
    )
    oid = order["id"]
    tee, mug = (li["id"] for li in order["line_items"])

    def edit(headers: dict[str, str], **body: Any) -> Any:
        return client.post(f"/v1/orders/{oid}/edits", json=body, headers=headers)

    def ship(line: str, units: int, status: str = "shipped") -> Any:
        body = {"line_items": [{"line_item_id": line, "quantity": units}], "status": status}
        return client.post(f"/v1/orders/{oid}/fulfillments", json=body, headers=ops)

    def refund(**body: Any) -> Any:
        return client.post(f"/v1/orders/{oid}/refunds", json=body, headers=ops)

    calls = [
        edit(ops, line_items=[{"line_item_id": tee, "quantity": 4}]),
        edit(ops, line_items=[{"line_item_id": tee, "quantity": 1}]),
        edit(ops, line_items=[{"line_item_id": tee, "quantity": 0}], refund=round_ != 1),
        edit(ops, add_line_items=[CAP]),
        edit(storefront, line_items=[{"line_item_id": mug, "quantity": 0}]),
        edit(storefront, line_items=[{"line_item_id": tee, "quantity": 2}]),
        ship(tee, 2),
        ship(mug, 1, "pending"),
        refund(line_items=[{"line_item_id": tee, "quantity": 1}], reason="damaged"),
        refund(amount=700, reason="other"),
        # one round in three races a cancellation, which ends the others' chances
        client.post(f"/v1/orders/{oid}/cancel", json={"reason": "staff"}, headers=ops)
        if round_ == 2
        else ship(tee, 1, "pending"),
        edit(ops, line_items=[{"line_item_id": mug, "quantity": 1}], restock=round_ != 2),
    ]  # fmt: skip
    if round_ == 2:
        calls.reverse()
    responses = await asyncio.gather(*calls)
    for response in responses:
        assert response.status_code in {200, 201, 409, 422}, response.text
        if response.status_code >= 400:
            assert response.json()["code"], response.text
    edited = sum(r.status_code == 201 and r.request.url.path.endswith("/edits") for r in responses)

    final = (await client.get(f"/v1/orders/{oid}", headers=ops)).json()
    refunds = await _all_pages(client, f"/v1/orders/{oid}/refunds", ops)
    edits = await _all_pages(client, f"/v1/orders/{oid}/edits", ops)
    restocks = await client.get(
        "/v1/events", params={"order_id": oid, "type": "order.restock", "limit": 250},
        headers=ops,
    )  # fmt: skip
    restocked: dict[str, int] = {}
    for event in restocks.json()["data"]:
        for item in event["data"]["restock"]["items"]:
            restocked[item["line_item_id"]] = (
                restocked.get(item["line_item_id"], 0) + item["quantity"]
            )

    for line in final["line_items"]:
        assert line["quantity"] >= 0
        assert 0 <= line["shipped_quantity"] <= line["fulfilled_quantity"] <= line["quantity"]
        assert line["refunded_quantity"] + line["refund_pending_quantity"] <= line["quantity"]
        # every unit ever on the line either shipped, went back to stock, or is still
        # held: none both shipped and removed, none restocked twice
        ever = line["quantity"] + line["removed_quantity"]
        assert line["shipped_quantity"] + restocked.get(line["id"], 0) <= ever, line
    assert final["total_refunded"] + final["total_refund_pending"] <= final["total_paid"]
    assert (
        sum(r["amount"] for r in refunds if r["status"] == "pending")
        == final["total_refund_pending"]
    )
    for_edits = sum(r["amount"] for r in refunds if r["reason"] == "order_edited")
    assert final["total_edit_refunds"] == for_edits
    assert final["outstanding"] == final["total"] - final["total_paid"] + for_edits
    assert {e["refund"]["id"] for e in edits if e["refund"]} == {
        r["id"] for r in refunds if r["reason"] == "order_edited"
    }
    # each committed edit took the order from where the one before left it
    for before, after in itertools.pairwise(edits):
        assert after["total_before"] == before["total_after"]
    if edits:
        assert edits[-1]["total_after"] == final["total"] or final["status"] != "open"
    if final["status"] == "cancelled":
        assert sum(li["shipped_quantity"] for li in final["line_items"]) == 0
    return edited
