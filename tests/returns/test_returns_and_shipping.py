"""Returns meeting fulfilment: a unit refunded by a return (received, or claimed lost) had
shipped, so its refund never releases an unshipped unit from shipping — unlike a plain
refund, which covers unshipped units first."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from order_service.fulfillments.models import FollowUp
from tests.factories import create_order, problem
from tests.fulfillments.helpers import events
from tests.returns.helpers import act, approved, request_return, units

TEES = [{"sku": "TEE-M", "title": "Tee", "quantity": 2, "unit_price": 2000}]
SOCKS = {"sku": "SOCKS", "title": "Socks", "quantity": 1, "unit_price": 2000}


async def _one_of_two_shipped(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str], *, delivered: bool
) -> dict[str, Any]:
    """A paid order of two tees (40.00, nothing else), one shipped and (`delivered`)
    delivered, the other not yet shipped."""
    order = await create_order(
        client, storefront, line_items=TEES, shipping_lines=[], tax_lines=[], discounts=[]
    )
    tee = order["line_items"][0]["id"]
    response = await client.post(
        f"/v1/orders/{order['id']}/fulfillments",
        json={"line_items": [{"line_item_id": tee, "quantity": 1}], "status": "shipped"},
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
        assert response.status_code == 201, response.text
    current = await _order(client, ops, order["id"])
    assert current["fulfillment_status"] == "partially_fulfilled"
    return current


async def _order(client: httpx.AsyncClient, headers: dict[str, str], order_id: str) -> Any:
    response = await client.get(f"/v1/orders/{order_id}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def _still_owes_the_second_unit(
    client: httpx.AsyncClient,
    ops: dict[str, str],
    order: dict[str, Any],
    db: Any,
    *,
    first_delivered: bool = True,
) -> None:
    """The order has not pretended to be done: the unshipped tee still ships, and once it
    is delivered so is the order (unless the first parcel never arrived)."""
    current = await _order(client, ops, order["id"])
    assert (current["fulfillment_status"], current["delivered_at"]) == (
        "partially_fulfilled",
        None,
    )
    assert await events(db, "order.delivered", order["id"]) == []
    async with db() as session:
        follow_up = await session.scalar(select(FollowUp).where(FollowUp.order_id == order["id"]))
    assert follow_up is None
    tee = order["line_items"][0]["id"]
    too_many = await client.post(
        f"/v1/orders/{order['id']}/fulfillments",
        json={"line_items": [{"line_item_id": tee, "quantity": 2}], "status": "shipped"},
        headers=ops,
    )
    assert problem(too_many, 422, "fulfillment_exceeds_remaining")["line_items"] == [
        {"line_item_id": tee, "requested": 2, "remaining": 1}
    ]
    rest = await client.post(
        f"/v1/orders/{order['id']}/fulfillments", json={"status": "shipped"}, headers=ops
    )
    assert rest.status_code == 201, rest.text
    assert [line["quantity"] for line in rest.json()["line_items"]] == [1]
    delivered = await client.post(
        f"/v1/fulfillments/{rest.json()['id']}/tracking-events",
        json={"status": "delivered", "occurred_at": rest.json()["shipped_at"]},
        headers=ops,
    )
    assert delivered.status_code == 201, delivered.text
    done = await _order(client, ops, order["id"])
    if first_delivered:
        assert done["fulfillment_status"] == "delivered"
        assert len(await events(db, "order.delivered", order["id"])) == 1
    else:
        assert done["fulfillment_status"] == "fulfilled"


@pytest.mark.parametrize("resolution", ["refund", "store_credit", "exchange"])
async def test_a_returned_unit_does_not_stop_the_unshipped_one_shipping(
    client: httpx.AsyncClient,
    storefront: dict[str, str],
    ops: dict[str, str],
    db: Any,
    resolution: str,
) -> None:
    order = await _one_of_two_shipped(client, storefront, ops, delivered=True)
    exchange = {"exchange_line_items": [SOCKS]} if resolution == "exchange" else {}
    found = await approved(client, storefront, ops, order, 1, resolution=resolution, **exchange)
    response = await act(client, ops, found["id"], "receive")
    assert response.status_code == 200, response.text
    received = response.json()
    if resolution == "exchange":
        assert received["order"]["line_items"][0]["exchanged_quantity"] == 1
    else:
        assert received["refund"]["amount"] == 2000
        assert received["refund"]["line_items"][0]["quantity"] == 1
        settled = await client.post(
            f"/v1/refunds/{received['refund']['id']}/settle",
            json={"status": "succeeded", "reference": "re_1"},
            headers=ops,
        )
        assert settled.status_code == 200, settled.text
    await _still_owes_the_second_unit(client, ops, order, db)


async def test_a_claimed_unit_does_not_stop_the_unshipped_one_shipping(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str], db: Any
) -> None:
    order = await _one_of_two_shipped(client, storefront, ops, delivered=False)
    found = await approved(client, storefront, ops, order, 1, approve={"items_required": False})
    response = await act(client, ops, found["id"], "close", note="parcel lost")
    assert response.status_code == 200, response.text
    assert response.json()["refund"]["amount"] == 2000
    # the lost unit is refunded: the customer cannot return it again
    again = await request_return(client, storefront, order, line_items=units(order, 1))
    problem(again, 409, "quantity_exceeds_returnable")
    await _still_owes_the_second_unit(client, ops, order, db, first_delivered=False)
    # the unit just delivered may be returned; the lost one still may not
    preview = await client.post(
        f"/v1/orders/{order['id']}/returns/calculate", json={}, headers=storefront
    )
    assert preview.json()["line_items"][0]["returnable_quantity"] == 1


async def test_a_failed_return_refund_leaves_the_units_counted(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str], db: Any
) -> None:
    order = await _one_of_two_shipped(client, storefront, ops, delivered=True)
    found = await approved(client, storefront, ops, order, 1)
    received = (await act(client, ops, found["id"], "receive")).json()
    failed = await client.post(
        f"/v1/refunds/{received['refund']['id']}/settle",
        json={"status": "failed", "failure_reason": "card closed"},
        headers=ops,
    )
    assert failed.status_code == 200, failed.text
    line = failed.json()
    assert line["status"] == "failed"
    current = await _order(client, ops, order["id"])
    tee = current["line_items"][0]
    assert (tee["refunded_quantity"], tee["refund_pending_quantity"]) == (0, 0)
    assert tee["returned_quantity"] == 1
    await _still_owes_the_second_unit(client, ops, order, db)


async def test_an_edit_may_take_off_the_unshipped_unit_beside_a_returned_one(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str]
) -> None:
    order = await _one_of_two_shipped(client, storefront, ops, delivered=True)
    found = await approved(client, storefront, ops, order, 1)
    assert (await act(client, ops, found["id"], "receive")).status_code == 200
    tee = order["line_items"][0]["id"]
    url = f"/v1/orders/{order['id']}/edits"
    none_left = {"line_items": [{"line_item_id": tee, "quantity": 0}], "reason": "out_of_stock"}
    refused = problem(
        await client.post(url, json=none_left, headers=ops), 409, "line_item_not_editable"
    )
    # one unit shipped (and came back): it stays; the unshipped one may go
    assert refused["lines"] == [{"line_item_id": tee, "minimum_quantity": 1}]
    one_left = {"line_items": [{"line_item_id": tee, "quantity": 1}], "reason": "out_of_stock"}
    edited = await client.post(url, json=one_left, headers=ops)
    assert edited.status_code == 201, edited.text
    result = edited.json()
    assert result["refund"]["amount"] == 2000, "the unshipped unit's money goes back"
    after = result["order"]
    assert after["total_refund_pending"] == 4000
    assert after["outstanding"] == 0
    assert after["fulfillment_status"] == "delivered"
    response = await client.post(
        f"/v1/orders/{order['id']}/fulfillments", json={"status": "shipped"}, headers=ops
    )
    problem(response, 409, "nothing_to_fulfill")


async def test_a_parcel_whose_units_were_claimed_cannot_be_cancelled(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str]
) -> None:
    """Cancelling it would say the claimed unit never shipped, and owe it again though its
    money went back."""
    order = await _one_of_two_shipped(client, storefront, ops, delivered=False)
    found = await approved(client, storefront, ops, order, 1, approve={"items_required": False})
    assert (await act(client, ops, found["id"], "close")).status_code == 200
    parcels = await client.get(f"/v1/orders/{order['id']}/fulfillments", headers=ops)
    (parcel,) = parcels.json()["data"]
    response = await client.post(f"/v1/fulfillments/{parcel['id']}/cancel", headers=ops)
    problem(response, 409, "fulfillment_has_returns")
    current = await _order(client, ops, order["id"])
    assert current["line_items"][0]["shipped_quantity"] == 1
