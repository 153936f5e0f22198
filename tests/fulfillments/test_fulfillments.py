"""Creating, listing, correcting and cancelling fulfilments through the API."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import update

from order_service.cancellations import policy as cancellation
from order_service.orders import repository
from order_service.orders.models import Order
from order_service.orders.presenter import cancellation_state
from tests.factories import create_order, problem
from tests.fulfillments.helpers import events, fulfil, order


async def test_partial_then_full_fulfilment(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str], db: Any
) -> None:
    placed = await create_order(client, storefront)
    tee = placed["line_items"][0]
    first = await fulfil(
        client,
        ops,
        placed["id"],
        line_items=[{"line_item_id": tee["id"], "quantity": 1}],
        carrier="UPS",
        service="express",
        tracking_number="1Z999AA10123456784",
    )
    assert first["status"] == "shipped"
    assert first["tracking_url"] == "https://www.ups.com/track?tracknum=1Z999AA10123456784"
    assert first["line_items"] == [
        {"line_item_id": tee["id"], "sku": "TEE-M", "title": "Tee", "quantity": 1}
    ]
    after_first = await order(client, storefront, placed["id"])
    assert after_first["fulfillment_status"] == "partially_fulfilled"
    assert after_first["version"] == 2
    assert [
        (li["fulfilled_quantity"], li["shipped_quantity"]) for li in after_first["line_items"]
    ] == [
        (1, 1),
        (0, 0),
    ]
    assert await events(db, "order.fulfilled") == []

    # No line_items: everything that remains.
    second = await fulfil(
        client, ops, placed["id"], carrier="Royal Mail", tracking_number="AB 1234 5678 9GB"
    )
    assert {(li["sku"], li["quantity"]) for li in second["line_items"]} == {
        ("TEE-M", 1),
        ("MUG", 1),
    }
    assert second["tracking_url"] == (
        "https://www.royalmail.com/track-your-item#/tracking-results/AB123456789GB"
    )
    done = await order(client, storefront, placed["id"])
    assert done["fulfillment_status"] == "fulfilled"
    assert [li["shipped_quantity"] for li in done["line_items"]] == [2, 1]
    assert done["customer_cancellable_until"] is None

    created = await events(db, "fulfillment.created", placed["id"])
    assert [e.data["fulfillment"]["id"] for e in created] == [first["id"], second["id"]]
    assert created[0].data["order"]["version"] == 2
    assert created[0].data["fulfillment"]["notify_customer"] is True
    fulfilled = await events(db, "order.fulfilled", placed["id"])
    assert len(fulfilled) == 1
    assert fulfilled[0].data["order"]["fulfillment_status"] == "fulfilled"

    listed = await client.get(f"/v1/orders/{placed['id']}/fulfillments", headers=storefront)
    assert listed.status_code == 200
    assert [f["id"] for f in listed.json()["data"]] == [first["id"], second["id"]]
    one = await client.get(f"/v1/fulfillments/{first['id']}", headers=storefront)
    assert one.json() == first | {"updated_at": one.json()["updated_at"]}
    assert one.headers["etag"] == f'"{done["version"]}"'

    timeline = await client.get(f"/v1/orders/{placed['id']}/events", headers=ops)
    actions = [e["action"] for e in timeline.json()["data"]]
    assert actions.count("fulfillment.created") == 2
    assert actions[-1] == "order.fulfillment_status"
    assert timeline.json()["data"][-1]["actor"]["role"] == "ops"


async def test_pending_fulfilment_blocks_customer_cancel_but_not_merchant_cancel(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str], db: Any
) -> None:
    placed = await create_order(client, storefront)
    assert placed["customer_cancellable_until"] is not None
    picking = await fulfil(client, ops, placed["id"], status="pending")
    assert picking["status"] == "pending" and picking["shipped_at"] is None
    now = await order(client, storefront, placed["id"])
    assert now["fulfillment_status"] == "in_progress"
    assert now["customer_cancellable_until"] is None
    assert [(li["fulfilled_quantity"], li["shipped_quantity"]) for li in now["line_items"]] == [
        (2, 0),
        (1, 0),
    ]
    # Picking is not shipping: the merchant may still cancel.
    assert (await _merchant_decision(db, placed["id"])).cancellable

    shipped = await client.patch(
        f"/v1/fulfillments/{picking['id']}", json={"status": "shipped"}, headers=ops
    )
    assert shipped.status_code == 200, shipped.text
    assert shipped.json()["status"] == "shipped" and shipped.json()["shipped_at"] is not None
    assert (await order(client, storefront, placed["id"]))["fulfillment_status"] == "fulfilled"
    assert (await _merchant_decision(db, placed["id"])).code == "order_already_fulfilled"


async def _merchant_decision(db: Any, order_id: str) -> cancellation.Decision:
    async with db() as session:
        loaded = await repository.get(session, order_id)
    return cancellation.decide(
        cancellation_state(loaded), merchant=True, now=loaded.processed_at, window=timedelta(0)
    )


async def test_over_fulfilment_is_422_and_changes_nothing(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str]
) -> None:
    placed = await create_order(client, storefront)
    tee, mug = placed["line_items"]
    url = f"/v1/orders/{placed['id']}/fulfillments"
    await fulfil(client, ops, placed["id"], line_items=[{"line_item_id": tee["id"], "quantity": 1}])
    response = await client.post(
        url,
        json={
            "line_items": [
                {"line_item_id": mug["id"], "quantity": 1},
                {"line_item_id": tee["id"], "quantity": 2},
            ]
        },
        headers=ops,
    )
    body = problem(response, 422, "fulfillment_exceeds_remaining")
    assert body["line_items"] == [{"line_item_id": tee["id"], "requested": 2, "remaining": 1}]
    assert body["errors"][0]["field"] == "line_items.1.quantity"
    unchanged = await order(client, ops, placed["id"])
    assert [li["fulfilled_quantity"] for li in unchanged["line_items"]] == [1, 0]
    assert unchanged["version"] == 2

    await fulfil(client, ops, placed["id"])
    problem(await client.post(url, json={}, headers=ops), 409, "nothing_to_fulfill")
    problem(
        await client.post(
            url, json={"line_items": [{"line_item_id": "li_other", "quantity": 1}]}, headers=ops
        ),
        422,
        "unknown_line_item",
    )


async def test_digital_items_are_not_fulfilled(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str]
) -> None:
    placed = await create_order(
        client,
        storefront,
        line_items=[
            {"sku": "TEE", "title": "Tee", "quantity": 1, "unit_price": 1000},
            {
                "sku": "EBOOK",
                "title": "E",
                "quantity": 1,
                "unit_price": 500,
                "requires_shipping": False,
            },
        ],
    )
    ebook = placed["line_items"][1]
    problem(
        await client.post(
            f"/v1/orders/{placed['id']}/fulfillments",
            json={"line_items": [{"line_item_id": ebook["id"], "quantity": 1}]},
            headers=ops,
        ),
        422,
        "line_item_not_shippable",
    )
    parcel = await fulfil(client, ops, placed["id"])
    assert [li["sku"] for li in parcel["line_items"]] == ["TEE"]
    assert (await order(client, ops, placed["id"]))["fulfillment_status"] == "fulfilled"


async def test_cancelled_order_cannot_be_fulfilled(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str], db: Any
) -> None:
    placed = await create_order(client, storefront)
    picking = await fulfil(client, ops, placed["id"], status="pending")
    async with db() as session, session.begin():
        await session.execute(
            update(Order).where(Order.id == placed["id"]).values(status="cancelled")
        )
    problem(
        await client.post(f"/v1/orders/{placed['id']}/fulfillments", json={}, headers=ops),
        409,
        "order_not_open",
    )
    problem(
        await client.patch(
            f"/v1/fulfillments/{picking['id']}", json={"status": "shipped"}, headers=ops
        ),
        409,
        "order_not_open",
    )
    # Releasing the picked units of a cancelled order is still allowed.
    released = await client.post(f"/v1/fulfillments/{picking['id']}/cancel", headers=ops)
    assert released.json()["status"] == "cancelled"
    assert (await order(client, ops, placed["id"]))["fulfillment_status"] == "unfulfilled"


async def test_cancel_fulfilment_returns_units(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str], db: Any
) -> None:
    placed = await create_order(client, storefront)
    parcel = await fulfil(client, ops, placed["id"])
    assert (await order(client, ops, placed["id"]))["fulfillment_status"] == "fulfilled"
    response = await client.post(
        f"/v1/fulfillments/{parcel['id']}/cancel", headers={**ops, "If-Match": '"2"'}
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "cancelled"
    assert response.json()["cancelled_at"] is not None
    assert response.headers["etag"] == '"3"'
    back = await order(client, ops, placed["id"])
    assert back["fulfillment_status"] == "unfulfilled"
    assert [(li["fulfilled_quantity"], li["shipped_quantity"]) for li in back["line_items"]] == [
        (0, 0),
        (0, 0),
    ]
    again = await client.post(f"/v1/fulfillments/{parcel['id']}/cancel", headers=ops)
    assert again.status_code == 200 and again.headers["etag"] == '"3"'
    problem(
        await client.patch(
            f"/v1/fulfillments/{parcel['id']}", json={"carrier": "DHL"}, headers=ops
        ),
        409,
        "fulfillment_cancelled",
    )
    updated = await events(db, "fulfillment.updated", placed["id"])
    assert [e.data["fulfillment"]["status"] for e in updated] == ["cancelled"]
    # The units can be fulfilled again.
    refulfilled = await fulfil(client, ops, placed["id"])
    assert sum(li["quantity"] for li in refulfilled["line_items"]) == 3


async def test_patch_corrects_tracking_and_rebuilds_the_url(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str], db: Any
) -> None:
    placed = await create_order(client, storefront)
    parcel = await fulfil(client, ops, placed["id"], carrier="FedEx", tracking_number="1234")
    url = f"/v1/fulfillments/{parcel['id']}"
    fixed = await client.patch(url, json={"tracking_number": "7489 2233"}, headers=ops)
    assert fixed.status_code == 200, fixed.text
    assert fixed.json()["tracking_url"] == "https://www.fedex.com/fedextrack/?trknbr=74892233"
    moved = await client.patch(url, json={"carrier": "PostNord"}, headers=ops)
    assert moved.json()["tracking_url"] == "https://tracking.postnord.com/tracking.html?id=74892233"
    unknown = await client.patch(url, json={"carrier": "Acme Couriers"}, headers=ops)
    assert unknown.json()["tracking_url"] is None
    custom = await client.patch(
        url, json={"tracking_url": "https://acme.example/t/74892233"}, headers=ops
    )
    assert custom.json()["tracking_url"] == "https://acme.example/t/74892233"
    same = await client.patch(url, json={"carrier": "Acme Couriers"}, headers=ops)
    assert same.headers["etag"] == custom.headers["etag"]
    stale = await client.patch(url, json={"service": "express"}, headers={**ops, "If-Match": '"2"'})
    problem(stale, 412, "precondition_failed")
    updates = await events(db, "fulfillment.updated", placed["id"])
    # each change as {field, before, after}, as order.updated carries them
    fedex = "https://www.fedex.com/fedextrack/?trknbr="
    postnord = "https://tracking.postnord.com/tracking.html?id=74892233"
    assert [e.data["changes"] for e in updates] == [
        [
            {"field": "tracking_number", "before": "1234", "after": "7489 2233"},
            {"field": "tracking_url", "before": fedex + "1234", "after": fedex + "74892233"},
        ],
        [
            {"field": "carrier", "before": "FedEx", "after": "PostNord"},
            {"field": "tracking_url", "before": fedex + "74892233", "after": postnord},
        ],
        [
            {"field": "carrier", "before": "PostNord", "after": "Acme Couriers"},
            {"field": "tracking_url", "before": postnord, "after": None},
        ],
        [
            {
                "field": "tracking_url",
                "before": None,
                "after": "https://acme.example/t/74892233",
            }
        ],
    ]


async def test_concurrent_fulfilments_never_over_fulfil(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str]
) -> None:
    placed = await create_order(
        client,
        storefront,
        line_items=[{"sku": "A", "title": "A", "quantity": 5, "unit_price": 100}],
    )
    line = placed["line_items"][0]["id"]
    responses = await asyncio.gather(
        *(
            client.post(
                f"/v1/orders/{placed['id']}/fulfillments",
                json={"line_items": [{"line_item_id": line, "quantity": 2}]},
                headers=ops,
            )
            for _ in range(8)
        )
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201, 201] + [422] * 6, [r.text for r in responses]
    final = await order(client, ops, placed["id"])
    assert final["line_items"][0]["fulfilled_quantity"] == 4
    assert final["version"] == 3
    listed = await client.get(f"/v1/orders/{placed['id']}/fulfillments", headers=ops)
    assert len(listed.json()["data"]) == 2


async def test_roles_and_validation(
    client: httpx.AsyncClient,
    storefront: dict[str, str],
    ops: dict[str, str],
    admin: dict[str, str],
) -> None:
    placed = await create_order(client, storefront)
    url = f"/v1/orders/{placed['id']}/fulfillments"
    problem(await client.post(url, json={}, headers=storefront), 403, "forbidden")
    problem(await client.post(url, json={}), 401, "unauthenticated")
    parcel = await fulfil(client, admin, placed["id"], status="pending")
    fid = parcel["id"]
    problem(
        await client.patch(f"/v1/fulfillments/{fid}", json={"carrier": "UPS"}, headers=storefront),
        403,
        "forbidden",
    )
    problem(
        await client.post(f"/v1/fulfillments/{fid}/cancel", headers=storefront), 403, "forbidden"
    )
    problem(
        await client.post(
            f"/v1/fulfillments/{fid}/tracking-events",
            json={"status": "in_transit", "occurred_at": "2026-01-01T00:00:00Z"},
            headers=storefront,
        ),
        403,
        "forbidden",
    )
    line = placed["line_items"][0]["id"]
    for body, field in [
        ({"status": "delivered"}, "status"),
        ({"line_items": []}, "line_items"),
        ({"line_items": [{"line_item_id": line, "quantity": 0}]}, "line_items.0.quantity"),
        ({"line_items": [{"line_item_id": line, "quantity": "1"}]}, "line_items.0.quantity"),
        ({"tracking_url": "javascript:alert(1)"}, "tracking_url"),
        ({"tracking_number": "x" * 65}, "tracking_number"),
        ({"service": " \t "}, "service"),
        ({"carrier": "  "}, "carrier"),
        ({"colour": "red"}, "colour"),
    ]:
        invalid = problem(await client.post(url, json=body, headers=ops), 422, "validation_error")
        assert invalid["errors"][0]["field"] == field, invalid
    duplicate = problem(
        await client.post(
            url,
            json={"line_items": [{"line_item_id": line, "quantity": 1}] * 2},
            headers=ops,
        ),
        422,
        "duplicate_line_item",
    )
    assert duplicate["errors"][0]["field"] == "line_items.1.line_item_id"
    problem(
        await client.post("/v1/orders/ord_nope/fulfillments", json={}, headers=ops),
        404,
        "order_not_found",
    )
    problem(
        await client.get("/v1/fulfillments/ful_nope", headers=ops), 404, "fulfillment_not_found"
    )
    problem(
        await client.post("/v1/fulfillments/ful_nope/cancel", headers=ops),
        404,
        "fulfillment_not_found",
    )


async def test_idempotent_fulfilment_creation(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str]
) -> None:
    placed = await create_order(client, storefront)
    headers = {**ops, "Idempotency-Key": "pick-1"}
    url = f"/v1/orders/{placed['id']}/fulfillments"
    first = await client.post(url, json={"status": "pending"}, headers=headers)
    replay = await client.post(url, json={"status": "pending"}, headers=headers)
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json()["id"] == first.json()["id"]
    listed = await client.get(url, headers=ops)
    assert len(listed.json()["data"]) == 1


async def test_a_tracking_url_must_be_an_http_url_a_browser_can_open(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str]
) -> None:
    """`http://[`, an empty host and port 99999 passed the pattern `^https?://[^\\s]+$`."""
    placed = await create_order(client, storefront)
    url = f"/v1/orders/{placed['id']}/fulfillments"
    refused = [
        "http://[",
        "http://:80/track",
        "http:///track",
        "https://carrier.example:99999/t",
        "https://carrier.example:0/t",
        "https://user@carrier.example/t",
        "https://carrier..example/t",
        "https:/carrier.example",
        "ftp://carrier.example/t",
    ]
    for tracking_url in refused:
        invalid = problem(
            await client.post(
                url, json={"status": "pending", "tracking_url": tracking_url}, headers=ops
            ),
            422,
            "validation_error",
        )
        assert [e["field"] for e in invalid["errors"]] == ["tracking_url"], tracking_url
    parcel = await fulfil(client, ops, placed["id"], status="pending")
    corrected = await client.patch(
        f"/v1/fulfillments/{parcel['id']}", json={"tracking_url": "http://["}, headers=ops
    )
    problem(corrected, 422, "validation_error")
    for tracking_url in (
        "HTTPS://Track.Carrier.example:8443/t/1Z9?lang=en#top",
        "http://192.0.2.7/t",
        "https://carrier.example",
    ):
        corrected = await client.patch(
            f"/v1/fulfillments/{parcel['id']}", json={"tracking_url": tracking_url}, headers=ops
        )
        assert corrected.status_code == 200, corrected.text
        assert corrected.json()["tracking_url"] == tracking_url
