from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.factories import create_order, problem
from tests.helpers import count_events, counting_statements, fulfil


def ago(**delta: float) -> str:
    return (datetime.now(UTC) - timedelta(**delta)).isoformat()


async def test_customer_cancels_inside_the_window(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str], db: Any
) -> None:
    order = await create_order(client, storefront)
    response = await client.post(f"/v1/orders/{order['id']}/cancel", headers=storefront)
    assert response.status_code == 200, response.text
    cancelled = response.json()
    assert cancelled["status"] == "cancelled"
    assert cancelled["cancel_reason"] == "customer"
    assert cancelled["cancelled_by"] == "customer"
    assert cancelled["cancelled_at"] is not None
    assert cancelled["customer_cancellable_until"] is None
    assert cancelled["version"] > order["version"]
    assert response.headers["etag"] == f'"{cancelled["version"]}"'
    # everything paid is being refunded, every unit restocked
    assert cancelled["total_refund_pending"] == order["total"]
    assert [li["restocked_quantity"] for li in cancelled["line_items"]] == [2, 1]
    refunds = (await client.get(f"/v1/orders/{order['id']}/refunds", headers=ops)).json()["data"]
    assert len(refunds) == 1
    assert refunds[0]["status"] == "pending"
    assert refunds[0]["amount"] == order["total"]
    assert refunds[0]["reason"] == "cancellation"
    assert refunds[0]["method"] == "original_payment"

    events = (await client.get("/v1/events", params={"order_id": order["id"]}, headers=ops)).json()
    types = [e["type"] for e in events["data"]]
    assert types[:3] == ["order.restock", "order.cancelled", "refund.created"]
    restock = events["data"][0]["data"]["restock"]
    assert restock["items"] == [
        {"line_item_id": order["line_items"][0]["id"], "sku": "TEE-M", "quantity": 2},
        {"line_item_id": order["line_items"][1]["id"], "sku": "MUG", "quantity": 1},
    ]
    cancellation = events["data"][1]["data"]
    assert cancellation["notify_customer"] is True
    assert cancellation["cancellation"]["by"] == "customer"
    assert cancellation["cancellation"]["refund"]["amount"] == order["total"]
    assert cancellation["order"]["status"] == "cancelled"

    timeline = (await client.get(f"/v1/orders/{order['id']}/events", headers=ops)).json()["data"]
    cancel_entry = next(e for e in timeline if e["action"] == "order.cancelled")
    assert cancel_entry["actor"]["role"] == "storefront"
    assert cancel_entry["data"]["by"] == "customer"


async def test_customer_window_edges_through_the_api(
    client: httpx.AsyncClient, storefront: dict[str, str]
) -> None:
    inside = await create_order(client, storefront, processed_at=ago(minutes=59))
    assert inside["customer_cancellable_until"] is not None
    status = (
        await client.get(f"/v1/orders/{inside['id']}/cancellation", headers=storefront)
    ).json()
    assert status["cancellable"] is True
    assert status["policy"] == "customer"
    assert status["window_seconds"] == 3600
    assert status["until"] == inside["customer_cancellable_until"]
    assert (
        await client.post(f"/v1/orders/{inside['id']}/cancel", headers=storefront)
    ).status_code == 200

    outside = await create_order(client, storefront, processed_at=ago(minutes=61))
    assert outside["customer_cancellable_until"] is None
    status = (
        await client.get(f"/v1/orders/{outside['id']}/cancellation", headers=storefront)
    ).json()
    assert status == {
        "cancellable": False,
        "until": None,
        "code": "cancellation_window_expired",
        "policy": "customer",
        "window_seconds": 3600,
    }
    response = await client.post(f"/v1/orders/{outside['id']}/cancel", headers=storefront)
    refused = problem(response, 409, "cancellation_window_expired")
    assert "within 1 hour of being placed" in refused["detail"]


async def test_window_closes_as_time_passes(
    client: httpx.AsyncClient, storefront: dict[str, str], clock: Any
) -> None:
    order = await create_order(client, storefront)
    clock.advance(timedelta(hours=1, seconds=1))
    got = (await client.get(f"/v1/orders/{order['id']}", headers=storefront)).json()
    assert got["customer_cancellable_until"] is None
    problem(
        await client.post(f"/v1/orders/{order['id']}/cancel", headers=storefront),
        409,
        "cancellation_window_expired",
    )


async def test_picking_started_blocks_the_customer_not_the_merchant(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str], db: Any
) -> None:
    order = await create_order(client, storefront)
    await fulfil(client, ops, order, 2, status="pending")
    problem(
        await client.post(f"/v1/orders/{order['id']}/cancel", headers=storefront),
        409,
        "order_in_fulfillment",
    )
    merchant = await client.post(
        f"/v1/orders/{order['id']}/cancel", json={"reason": "inventory"}, headers=ops
    )
    assert merchant.status_code == 200
    assert merchant.json()["cancelled_by"] == "merchant"
    assert merchant.json()["cancel_reason"] == "inventory"
    # picking stops: the pending fulfilment is cancelled and every unit restocked
    assert merchant.json()["fulfillment_status"] == "unfulfilled"
    assert [li["restocked_quantity"] for li in merchant.json()["line_items"]] == [2, 1]
    parcels = (await client.get(f"/v1/orders/{order['id']}/fulfillments", headers=ops)).json()
    assert [f["status"] for f in parcels["data"]] == ["cancelled"]


async def test_merchant_may_cancel_after_the_window_until_something_ships(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str], db: Any
) -> None:
    late = await create_order(client, storefront, processed_at=ago(days=3))
    status = (await client.get(f"/v1/orders/{late['id']}/cancellation", headers=ops)).json()
    assert status == {
        "cancellable": True,
        "until": None,
        "code": None,
        "policy": "merchant",
        "window_seconds": 3600,
    }
    ok = await client.post(f"/v1/orders/{late['id']}/cancel", json={"reason": "fraud"}, headers=ops)
    assert ok.status_code == 200

    shipped = await create_order(client, storefront)
    await fulfil(client, ops, shipped, 1)
    problem(
        await client.post(f"/v1/orders/{shipped['id']}/cancel", headers=ops),
        409,
        "order_already_fulfilled",
    )
    problem(
        await client.post(f"/v1/orders/{shipped['id']}/cancel", headers=storefront),
        409,
        "order_in_fulfillment",
    )


async def test_cancelling_twice_is_refused(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str]
) -> None:
    order = await create_order(client, storefront)
    cancelled = await client.post(f"/v1/orders/{order['id']}/cancel", headers=ops)
    assert cancelled.status_code == 200
    at = datetime.fromisoformat(cancelled.json()["cancelled_at"])
    for headers in (ops, storefront):
        refused = problem(
            await client.post(f"/v1/orders/{order['id']}/cancel", headers=headers),
            409,
            "order_already_cancelled",
        )
        assert refused["detail"] == (
            f"Order #{order['number']} was cancelled at {at:%Y-%m-%dT%H:%M:%S}Z."
        )


async def test_authorised_order_is_voided_not_refunded(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str]
) -> None:
    order = await create_order(client, storefront, payment={"status": "authorized"})
    cancelled = (await client.post(f"/v1/orders/{order['id']}/cancel", headers=storefront)).json()
    assert cancelled["financial_status"] == "voided"
    assert cancelled["total_authorized"] == 0
    assert cancelled["total_refund_pending"] == 0
    refunds = (await client.get(f"/v1/orders/{order['id']}/refunds", headers=ops)).json()["data"]
    assert refunds == []


async def test_options_restock_refund_and_method(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str]
) -> None:
    order = await create_order(client, storefront)
    response = await client.post(
        f"/v1/orders/{order['id']}/cancel",
        json={
            "reason": "staff",
            "note": "duplicate order",
            "restock": False,
            "refund_method": "store_credit",
            "notify_customer": False,
        },
        headers=ops,
    )
    body = response.json()
    assert [li["restocked_quantity"] for li in body["line_items"]] == [0, 0]
    refund = (await client.get(f"/v1/orders/{order['id']}/refunds", headers=ops)).json()["data"][0]
    assert refund["method"] == "store_credit"
    assert refund["expected_processing_time"] == "immediately"
    assert refund["notify_customer"] is False

    no_refund = await create_order(client, storefront)
    body = (
        await client.post(
            f"/v1/orders/{no_refund['id']}/cancel", json={"refund": False}, headers=ops
        )
    ).json()
    assert body["total_refund_pending"] == 0
    assert body["financial_status"] == "paid"


async def test_storefront_gives_only_the_customer_reason_and_always_refunds(
    client: httpx.AsyncClient, storefront: dict[str, str]
) -> None:
    order = await create_order(client, storefront)
    url = f"/v1/orders/{order['id']}/cancel"
    problem(
        await client.post(url, json={"reason": "fraud"}, headers=storefront),
        422,
        "cancel_reason_not_allowed",
    )
    problem(
        await client.post(url, json={"refund": False}, headers=storefront), 422, "refund_required"
    )
    problem(
        await client.post(url, json={"reason": "bogus"}, headers=storefront),
        422,
        "validation_error",
    )


async def test_ten_concurrent_cancels_give_one_cancellation(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str], db: Any
) -> None:
    order = await create_order(client, storefront)
    responses = await asyncio.gather(
        *(
            client.post(f"/v1/orders/{order['id']}/cancel", headers=storefront if i % 2 else ops)
            for i in range(10)
        )
    )
    assert sorted(r.status_code for r in responses) == [200] + [409] * 9
    for r in responses:
        if r.status_code == 409:
            assert r.json()["code"] == "order_already_cancelled"
    final = (await client.get(f"/v1/orders/{order['id']}", headers=ops)).json()
    assert [li["restocked_quantity"] for li in final["line_items"]] == [2, 1]
    assert final["total_refund_pending"] == order["total"]
    refunds = (await client.get(f"/v1/orders/{order['id']}/refunds", headers=ops)).json()["data"]
    assert len(refunds) == 1
    assert await count_events(db, "order.restock", order["id"]) == 1
    assert await count_events(db, "order.cancelled", order["id"]) == 1
    assert await count_events(db, "refund.created", order["id"]) == 1


async def test_if_match_and_idempotency_on_cancel(
    client: httpx.AsyncClient, storefront: dict[str, str]
) -> None:
    order = await create_order(client, storefront)
    url = f"/v1/orders/{order['id']}/cancel"
    problem(
        await client.post(url, headers={**storefront, "If-Match": '"7"'}),
        412,
        "precondition_failed",
    )
    headers = {**storefront, "Idempotency-Key": "cancel-1", "If-Match": '"1"'}
    first = await client.post(url, headers=headers)
    again = await client.post(url, headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()


async def test_partially_refunded_order_cancels_the_rest(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str]
) -> None:
    order = await create_order(client, storefront)
    tee = order["line_items"][0]["id"]
    first = await client.post(
        f"/v1/orders/{order['id']}/refunds",
        json={"line_items": [{"line_item_id": tee, "quantity": 1, "restock": True}]},
        headers=ops,
    )
    assert first.status_code == 201, first.text
    cancelled = (await client.post(f"/v1/orders/{order['id']}/cancel", headers=ops)).json()
    assert cancelled["total_refund_pending"] == order["total"]
    # the tee restocked by the refund is not restocked again
    assert [li["restocked_quantity"] for li in cancelled["line_items"]] == [2, 1]
    assert [li["refund_pending_quantity"] for li in cancelled["line_items"]] == [2, 1]


@pytest.mark.parametrize("payment", [{"status": "paid"}, None])
async def test_reorder_turns_a_cancellation_back_into_a_sale(
    client: httpx.AsyncClient, storefront: dict[str, str], payment: dict[str, str] | None
) -> None:
    order = await create_order(client, storefront)
    await client.post(f"/v1/orders/{order['id']}/cancel", headers=storefront)
    response = await client.post(
        f"/v1/orders/{order['id']}/reorder",
        json={"payment": payment} if payment else None,
        headers={**storefront, "Idempotency-Key": "reorder-1"},
    )
    assert response.status_code == 201, response.text
    new = response.json()
    assert new["status"] == "open"
    assert new["reordered_from_id"] == order["id"]
    assert new["number"] == order["number"] + 1
    assert [(li["sku"], li["quantity"], li["unit_price"]) for li in new["line_items"]] == [
        (li["sku"], li["quantity"], li["unit_price"]) for li in order["line_items"]
    ]
    assert new["total"] == order["total"]
    assert new["shipping_address"] == order["shipping_address"]
    assert new["financial_status"] == ("paid" if payment else "pending")
    original = (await client.get(f"/v1/orders/{order['id']}", headers=storefront)).json()
    assert original["reorder_ids"] == [new["id"]]
    replay = await client.post(
        f"/v1/orders/{order['id']}/reorder",
        json={"payment": payment} if payment else None,
        headers={**storefront, "Idempotency-Key": "reorder-1"},
    )
    assert replay.json()["id"] == new["id"]


async def test_cancel_racing_a_shipment_never_leaves_shipped_items_on_a_cancelled_order(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str]
) -> None:
    outcomes = set()
    for _ in range(6):
        order = await create_order(client, storefront)
        cancel, ship = await asyncio.gather(
            client.post(f"/v1/orders/{order['id']}/cancel", json={"reason": "staff"}, headers=ops),
            client.post(
                f"/v1/orders/{order['id']}/fulfillments", json={"status": "shipped"}, headers=ops
            ),
        )
        outcomes.add((cancel.status_code, ship.status_code))
        final = (await client.get(f"/v1/orders/{order['id']}", headers=ops)).json()
        shipped = sum(li["shipped_quantity"] for li in final["line_items"])
        if cancel.status_code == 200:
            problem(ship, 409, "order_not_open")
            assert final["status"] == "cancelled"
            assert shipped == 0
        else:
            problem(cancel, 409, "order_already_fulfilled")
            assert ship.status_code == 201
            assert final["status"] == "open"
            assert shipped == 3
    assert outcomes <= {(200, 409), (409, 201)}


async def test_a_cancellation_records_its_timeline_entries_in_order_once(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str]
) -> None:
    # The request's timeline entries and events are written with its last statement: all of
    # them, once each, in the order they happened, and only for a request that succeeded.
    order = await create_order(client, storefront)
    headers = {**storefront, "Idempotency-Key": "cancel-timeline"}
    for _ in range(2):
        response = await client.post(f"/v1/orders/{order['id']}/cancel", headers=headers)
        assert response.status_code == 200, response.text
    refused = await client.post(f"/v1/orders/{order['id']}/cancel", headers=storefront)
    assert refused.status_code == 409, refused.text

    timeline = (await client.get(f"/v1/orders/{order['id']}/events", headers=ops)).json()["data"]
    assert [e["action"] for e in timeline] == [
        "order.created",
        "refund.created",
        "order.cancelled",
        "order.restock",
    ]
    assert [e["id"] for e in timeline] == sorted(e["id"] for e in timeline)
    events = (await client.get("/v1/events", params={"order_id": order["id"]}, headers=ops)).json()
    assert [e["type"] for e in events["data"]] == [
        "order.restock",
        "order.cancelled",
        "refund.created",
        "order.created",
    ]


async def test_a_cancellation_is_a_bounded_number_of_statements(
    client: httpx.AsyncClient, storefront: dict[str, str], admin: dict[str, str], app: Any
) -> None:
    # Round trips are most of a write's cost: a merchant's cancel that releases a parcel
    # being picked, refunds and restocks reads the order, its lines and parcels once each.
    order = await create_order(client, storefront)
    await fulfil(client, admin, order, status="pending")
    async with counting_statements(app) as statements:
        response = await client.post(
            f"/v1/orders/{order['id']}/cancel", headers={**admin, "Idempotency-Key": "bounded"}
        )
    assert response.status_code == 200, response.text
    assert response.json()["total_refund_pending"] == order["total"]
    # lock and key, Idempotency-Key, order, lines, parcels (4 with their lines, tracking and
    # the lines' rows), the parcel's release (3), the cancellation (order and lines), and
    # one statement for the refund and its lines, the timeline, events and the
    # Idempotency-Key record
    assert len(statements) <= 14, "\n".join(statements)
