"""Returns racing each other, cancellation of the return, and plain refunds of the same
units: real concurrent requests, then the order checked against its returns and refunds."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.returns.helpers import act, approved, request_return, shipped_order, units


async def _order(client: httpx.AsyncClient, headers: dict[str, str], order_id: str) -> Any:
    return (await client.get(f"/v1/orders/{order_id}", headers=headers)).json()


async def _refunded_units(client: httpx.AsyncClient, ops: dict[str, str], order_id: str) -> int:
    response = await client.get(f"/v1/orders/{order_id}/refunds", headers=ops)
    return sum(
        li["quantity"]
        for refund in response.json()["data"]
        if refund["status"] != "failed"
        for li in refund["line_items"]
    )


async def test_two_requests_for_the_same_units_one_wins(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str]
) -> None:
    for _ in range(3):
        order = await shipped_order(client, storefront, ops)
        body = {"line_items": units(order, 2)}
        responses = await asyncio.gather(
            *(request_return(client, storefront, order, **body) for _ in range(4))
        )
        codes = sorted(r.status_code for r in responses)
        assert codes == [201, 409, 409, 409], [r.text for r in responses]
        assert {r.json()["code"] for r in responses if r.status_code == 409} == {
            "quantity_exceeds_returnable"
        }
        line = (await _order(client, ops, order["id"]))["line_items"][0]
        assert line["return_requested_quantity"] == 2


async def test_receive_and_cancel_at_once_one_wins(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str]
) -> None:
    for round_ in range(4):
        order = await shipped_order(client, storefront, ops)
        found = await approved(client, storefront, ops, order, 2)
        calls = [
            act(client, ops, found["id"], "receive"),
            act(client, storefront, found["id"], "cancel"),
        ]
        if round_ % 2:
            calls.reverse()
        responses = await asyncio.gather(*calls)
        assert sorted(r.status_code for r in responses) == [200, 409], [r.text for r in responses]
        after = await _order(client, ops, order["id"])
        line = after["line_items"][0]
        assert line["return_requested_quantity"] == 0
        won = next(r for r in responses if r.status_code == 200).json()
        if won["status"] == "received":
            assert (line["returned_quantity"], line["restocked_quantity"]) == (2, 2)
            assert after["total_refund_pending"] == 4000
        else:
            assert won["status"] == "cancelled"
            assert (line["returned_quantity"], after["total_refund_pending"]) == (0, 0)


async def test_receive_and_a_plain_refund_of_the_same_units_refund_them_once(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str]
) -> None:
    for round_ in range(4):
        order = await shipped_order(client, storefront, ops)
        tee = order["line_items"][0]["id"]
        found = await approved(client, storefront, ops, order, 2)
        refund = {"line_items": [{"line_item_id": tee, "quantity": 2}], "reason": "damaged"}
        calls = [
            act(client, ops, found["id"], "receive"),
            client.post(f"/v1/orders/{order['id']}/refunds", json=refund, headers=ops),
        ]
        if round_ % 2:
            calls.reverse()
        responses = await asyncio.gather(*calls)
        for response in responses:
            assert response.status_code in {200, 201, 409}, response.text
        assert await _refunded_units(client, ops, order["id"]) == 2
        after = await _order(client, ops, order["id"])
        assert after["total_refund_pending"] == 4000
        assert after["line_items"][0]["refund_pending_quantity"] == 2


async def test_a_refund_before_the_return_leaves_nothing_to_refund_on_receipt(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str]
) -> None:
    """Refunded (kept) units cannot be asked back, and a return's refund never covers units
    refunded meanwhile: the money goes back once."""
    order = await shipped_order(client, storefront, ops)
    tee = order["line_items"][0]["id"]
    refund = {"line_items": [{"line_item_id": tee, "quantity": 1}], "reason": "damaged"}
    response = await client.post(f"/v1/orders/{order['id']}/refunds", json=refund, headers=ops)
    assert response.status_code == 201, response.text
    response = await request_return(client, storefront, order, line_items=units(order, 2))
    assert response.json()["code"] == "quantity_exceeds_returnable"
    found = await approved(client, storefront, ops, order, 1)
    received = await act(client, ops, found["id"], "receive")
    assert received.json()["refund"]["amount"] == 2000
    assert await _refunded_units(client, ops, order["id"]) == 2


async def test_a_parcel_with_units_in_a_return_cannot_be_cancelled(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str]
) -> None:
    order = await shipped_order(client, storefront, ops, delivered=False)
    await approved(client, storefront, ops, order, 1)
    parcels = await client.get(f"/v1/orders/{order['id']}/fulfillments", headers=ops)
    parcel = parcels.json()["data"][0]["id"]
    response = await client.post(f"/v1/fulfillments/{parcel}/cancel", headers=ops)
    assert response.status_code == 409, response.text
    assert response.json()["code"] == "fulfillment_has_returns"
