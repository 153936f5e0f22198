"""Refunds meeting fulfilment: the window runs from delivery; refunded units stop shipping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select

from order_service.fulfillments.models import FollowUp
from tests.factories import create_order, problem
from tests.helpers import fulfil

FIVE = [{"sku": "TEE", "title": "Tee", "quantity": 5, "unit_price": 1000}]


async def test_refund_window_runs_from_delivery(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str]
) -> None:
    placed = (datetime.now(UTC) - timedelta(days=60)).isoformat()
    order = await create_order(client, storefront, line_items=FIVE, processed_at=placed)
    body = {"line_items": [{"line_item_id": order["line_items"][0]["id"], "quantity": 1}]}
    url = f"/v1/orders/{order['id']}/refunds"
    problem(await client.post(url, json=body, headers=storefront), 409, "refund_window_expired")

    parcel = await fulfil(client, ops, order, 5)
    delivered_at = (datetime.now(UTC) - timedelta(days=2)).isoformat()
    tracked = await client.post(
        f"/v1/fulfillments/{parcel['id']}/tracking-events",
        json={"status": "delivered", "occurred_at": delivered_at},
        headers=ops,
    )
    assert tracked.status_code == 201, tracked.text
    current = (await client.get(f"/v1/orders/{order['id']}", headers=ops)).json()
    assert current["fulfillment_status"] == "delivered"
    assert current["delivered_at"] is not None
    ok = await client.post(url, json=body, headers=storefront)
    assert ok.status_code == 201, ok.text


async def test_units_refunded_before_shipping_are_not_shipped(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str]
) -> None:
    order = await create_order(client, storefront, line_items=FIVE)
    await fulfil(client, ops, order, 3)
    line = order["line_items"][0]["id"]
    refund = await client.post(
        f"/v1/orders/{order['id']}/refunds",
        json={"line_items": [{"line_item_id": line, "quantity": 2}], "reason": "other"},
        headers=ops,
    )
    assert refund.status_code == 201, refund.text
    after = (await client.get(f"/v1/orders/{order['id']}", headers=ops)).json()
    assert after["fulfillment_status"] == "fulfilled", "the two refunded units will not ship"
    response = await client.post(
        f"/v1/orders/{order['id']}/fulfillments", json={"status": "shipped"}, headers=ops
    )
    problem(response, 409, "nothing_to_fulfill")

    # the refund fails: the two units are owed again
    await client.post(
        f"/v1/refunds/{refund.json()['id']}/settle", json={"status": "failed"}, headers=ops
    )
    again = (await client.get(f"/v1/orders/{order['id']}", headers=ops)).json()
    assert again["fulfillment_status"] == "partially_fulfilled"
    rest = await client.post(
        f"/v1/orders/{order['id']}/fulfillments", json={"status": "shipped"}, headers=ops
    )
    assert rest.status_code == 201
    assert rest.json()["line_items"][0]["quantity"] == 2


async def _events(
    client: httpx.AsyncClient, ops: dict[str, str], order_id: str
) -> dict[str, dict[str, Any]]:
    """The order's latest event of each type."""
    events = (await client.get("/v1/events", params={"order_id": order_id}, headers=ops)).json()
    latest: dict[str, dict[str, Any]] = {}
    for event in events["data"]:  # newest first
        latest.setdefault(event["type"], event)
    return latest


async def _half_delivered(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str]
) -> tuple[dict[str, Any], str]:
    """An order of two units, one shipped and delivered, one not shipped, as it is now; and
    when the parcel was delivered."""
    order = await create_order(client, storefront, line_items=[{**FIVE[0], "quantity": 2}])
    parcel = await fulfil(client, ops, order, 1)
    tracked = await client.post(
        f"/v1/fulfillments/{parcel['id']}/tracking-events",
        json={"status": "delivered", "occurred_at": datetime.now(UTC).isoformat()},
        headers=ops,
    )
    assert tracked.status_code == 201, tracked.text
    delivered_at = tracked.json()["delivered_at"]
    assert delivered_at is not None
    current = (await client.get(f"/v1/orders/{order['id']}", headers=ops)).json()
    assert (current["fulfillment_status"], current["delivered_at"]) == ("partially_fulfilled", None)
    return current, delivered_at


async def test_refunding_the_unshipped_units_of_a_delivered_parcel_delivers_the_order(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str], db: Any
) -> None:
    order, delivered_at = await _half_delivered(client, storefront, ops)
    line = order["line_items"][0]["id"]
    refund = await client.post(
        f"/v1/orders/{order['id']}/refunds",
        json={"line_items": [{"line_item_id": line, "quantity": 1}], "reason": "other"},
        headers=ops,
    )
    assert refund.status_code == 201, refund.text
    after = (await client.get(f"/v1/orders/{order['id']}", headers=ops)).json()
    assert (after["fulfillment_status"], after["delivered_at"]) == ("delivered", delivered_at)
    events = await _events(client, ops, order["id"])
    # the event shows the order as the refund left it, version included
    assert events["order.delivered"]["data"]["order"] == after

    async def follow_up() -> tuple[str, str] | None:
        async with db() as session:
            found = await session.scalar(select(FollowUp).where(FollowUp.order_id == order["id"]))
        return (found.status, found.due_at.isoformat()) if found else None

    first = await follow_up()
    assert first is not None and first[0] == "scheduled"

    # the refund fails: the unit is owed again, the order is no longer delivered, and no
    # follow-up is due until it is
    failed = await client.post(
        f"/v1/refunds/{refund.json()['id']}/settle", json={"status": "failed"}, headers=ops
    )
    assert failed.status_code == 200, failed.text
    again = (await client.get(f"/v1/orders/{order['id']}", headers=ops)).json()
    assert (again["fulfillment_status"], again["delivered_at"]) == ("partially_fulfilled", None)
    assert await follow_up() is None

    # the second unit ships and arrives: delivered again, and the follow-up is scheduled anew
    parcel = await fulfil(client, ops, order, 1)
    tracked = await client.post(
        f"/v1/fulfillments/{parcel['id']}/tracking-events",
        json={"status": "delivered", "occurred_at": datetime.now(UTC).isoformat()},
        headers=ops,
    )
    assert tracked.status_code == 201, tracked.text
    second = await follow_up()
    assert second is not None and second[0] == "scheduled" and second[1] > first[1]


async def test_editing_away_the_unshipped_units_of_a_delivered_parcel_delivers_the_order(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str]
) -> None:
    order, delivered_at = await _half_delivered(client, storefront, ops)
    line = order["line_items"][0]["id"]
    edited = await client.post(
        f"/v1/orders/{order['id']}/edits",
        json={"line_items": [{"line_item_id": line, "quantity": 1}], "reason": "out_of_stock"},
        headers=ops,
    )
    assert edited.status_code == 201, edited.text
    after = (await client.get(f"/v1/orders/{order['id']}", headers=ops)).json()
    assert (after["fulfillment_status"], after["delivered_at"]) == ("delivered", delivered_at)
    shown = (await _events(client, ops, order["id"]))["order.delivered"]["data"]["order"]
    # shown as the edit changed it, before its refund: newer than the order before the edit
    assert order["version"] < shown["version"] <= after["version"]
    assert (shown["fulfillment_status"], shown["delivered_at"]) == ("delivered", delivered_at)
