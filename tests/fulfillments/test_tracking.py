"""Carrier tracking events: merged by occurred_at, idempotent, and delivery."""

from __future__ import annotations

import asyncio
from datetime import timedelta, timezone
from typing import Any

import httpx

from tests.conftest import Clock
from tests.factories import create_order, problem
from tests.fulfillments.helpers import events, fulfil, order, placed_at, track


async def test_events_out_of_order_never_move_backwards(
    client: httpx.AsyncClient,
    storefront: dict[str, str],
    ops: dict[str, str],
    db: Any,
    clock: Clock,
) -> None:
    base = clock() - timedelta(days=2)
    placed = await placed_at(client, storefront, base)
    parcel = await fulfil(client, ops, placed["id"], carrier="DHL", tracking_number="JD0146")
    fid = parcel["id"]
    eta = (base + timedelta(days=3)).isoformat().replace("+00:00", "Z")

    out = await track(
        client,
        ops,
        fid,
        "out_for_delivery",
        base + timedelta(hours=30),
        location="Oslo, NO",
        estimated_delivery_at=eta,
    )
    assert out.status_code == 201, out.text
    assert out.json()["shipment_status"] == "out_for_delivery"
    late = await track(
        client,
        ops,
        fid,
        "in_transit",
        base + timedelta(hours=5),
        estimated_delivery_at=(base + timedelta(days=9)).isoformat(),
    )
    assert late.status_code == 201
    body = late.json()
    assert body["shipment_status"] == "out_for_delivery"
    assert body["estimated_delivery_at"].replace("+00:00", "Z") == eta
    assert [(e["status"], e["applied"]) for e in body["tracking_events"]] == [
        ("in_transit", False),
        ("out_for_delivery", True),
    ]
    delayed = await track(
        client, ops, fid, "delayed", base + timedelta(hours=31), message="Weather"
    )
    assert delayed.json()["shipment_status"] == "delayed"

    updates = await events(db, "fulfillment.updated", placed["id"])
    assert [
        (e.data["tracking_event"]["status"], e.data["tracking_event"]["applied"]) for e in updates
    ] == [("out_for_delivery", True), ("in_transit", False), ("delayed", True)]
    assert updates[-1].data["fulfillment"]["tracking_url"].endswith("tracking-id=JD0146")
    current = await order(client, ops, placed["id"])
    assert current["fulfillment_status"] == "fulfilled"
    assert current["delivered_at"] is None
    assert current["version"] == 5
    timeline = (await client.get(f"/v1/orders/{placed['id']}/events", headers=ops)).json()["data"]
    late_entry = [e for e in timeline if e["action"] == "fulfillment.tracking_event"][1]
    assert late_entry["data"]["applied"] is False
    assert "recorded only" in late_entry["message"]


async def test_duplicate_event_is_recorded_once(
    client: httpx.AsyncClient,
    storefront: dict[str, str],
    ops: dict[str, str],
    db: Any,
    clock: Clock,
) -> None:
    at = clock() - timedelta(hours=3)
    placed = await placed_at(client, storefront, at)
    parcel = await fulfil(client, ops, placed["id"])
    first = await track(client, ops, parcel["id"], "in_transit", at)
    assert first.status_code == 201
    again = await track(client, ops, parcel["id"], "in_transit", at, location="elsewhere")
    assert again.status_code == 200
    assert again.json() == first.json()
    assert again.headers["etag"] == first.headers["etag"]
    assert len(await events(db, "fulfillment.updated", placed["id"])) == 1


async def test_delivery_of_every_unit_delivers_the_order(
    client: httpx.AsyncClient,
    storefront: dict[str, str],
    ops: dict[str, str],
    db: Any,
    clock: Clock,
) -> None:
    base = clock() - timedelta(days=1)
    placed = await placed_at(client, storefront, base)
    tee = placed["line_items"][0]
    one = await fulfil(
        client, ops, placed["id"], line_items=[{"line_item_id": tee["id"], "quantity": 2}]
    )
    delivered_one = await track(client, ops, one["id"], "delivered", base)
    assert delivered_one.json()["delivered_at"] is not None
    # Units still unshipped: the order is not delivered yet.
    partial = await order(client, ops, placed["id"])
    assert partial["fulfillment_status"] == "partially_fulfilled"
    assert partial["delivered_at"] is None

    # A pending parcel ships with its first carrier scan.
    two = await fulfil(client, ops, placed["id"], status="pending")
    label = await track(client, ops, two["id"], "label_printed", base)
    assert label.json()["status"] == "pending"
    scanned = await track(client, ops, two["id"], "in_transit", base + timedelta(hours=1))
    assert scanned.json()["status"] == "shipped"
    assert (await order(client, ops, placed["id"]))["fulfillment_status"] == "fulfilled"

    last_at = base + timedelta(hours=20)
    # A failure report after delivery does not undo it, whatever the arrival order.
    await track(client, ops, two["id"], "failure", last_at + timedelta(hours=1))
    final = await track(client, ops, two["id"], "delivered", last_at)
    assert final.json()["shipment_status"] == "delivered"
    delivered = await order(client, ops, placed["id"])
    assert delivered["fulfillment_status"] == "delivered"
    assert delivered["delivered_at"].replace("Z", "+00:00") == last_at.isoformat()
    emitted = await events(db, "order.delivered", placed["id"])
    assert len(emitted) == 1
    assert emitted[0].data["order"]["delivered_at"] is not None

    problem(
        await client.post(f"/v1/fulfillments/{two['id']}/cancel", headers=ops),
        409,
        "fulfillment_delivered",
    )
    # More scans after delivery are recorded and change nothing on the order.
    await track(client, ops, two["id"], "in_transit", base + timedelta(hours=2))
    again = await order(client, ops, placed["id"])
    assert again["fulfillment_status"] == "delivered"
    assert again["delivered_at"] == delivered["delivered_at"]
    assert len(await events(db, "order.delivered", placed["id"])) == 1


async def test_tracking_event_validation(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str], clock: Clock
) -> None:
    placed = await create_order(client, storefront, processed_at="2025-12-01T00:00:00Z")
    parcel = await fulfil(client, ops, placed["id"])
    url = f"/v1/fulfillments/{parcel['id']}/tracking-events"
    future = (clock() + timedelta(hours=2)).isoformat()
    problem(
        await client.post(url, json={"status": "in_transit", "occurred_at": future}, headers=ops),
        422,
        "invalid_tracking_event",
    )
    for body, field in [
        ({"status": "teleported", "occurred_at": "2026-01-01T00:00:00Z"}, "status"),
        ({"status": "in_transit", "occurred_at": "2026-01-01T00:00:00"}, "occurred_at"),
        ({"status": "in_transit"}, "occurred_at"),
        (
            {"status": "in_transit", "occurred_at": "2026-01-01T00:00:00Z", "message": "x" * 1001},
            "message",
        ),
    ]:
        invalid = problem(await client.post(url, json=body, headers=ops), 422, "validation_error")
        assert invalid["errors"][0]["field"] == field
    # The parcel is looked up first: an event in the future was a 422 for a missing one.
    problem(
        await client.post(
            "/v1/fulfillments/ful_nope/tracking-events",
            json={"status": "in_transit", "occurred_at": "3000-01-01T00:00:00Z"},
            headers=ops,
        ),
        404,
        "fulfillment_not_found",
    )
    await client.post(f"/v1/fulfillments/{parcel['id']}/cancel", headers=ops)
    problem(
        await client.post(
            url, json={"status": "in_transit", "occurred_at": "2026-01-01T00:00:00Z"}, headers=ops
        ),
        409,
        "fulfillment_cancelled",
    )


async def test_carrier_tracking_urls(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str]
) -> None:
    expected = {
        "UPS": "https://www.ups.com/track?tracknum=1Z9",
        "USPS": "https://tools.usps.com/go/TrackConfirmAction?tLabels=1Z9",
        "fedex": "https://www.fedex.com/fedextrack/?trknbr=1Z9",
        "DHL Express": "https://www.dhl.com/global-en/home/tracking/tracking-express.html"
        "?submit=1&tracking-id=1Z9",
        "Royal Mail": "https://www.royalmail.com/track-your-item#/tracking-results/1Z9",
        "PostNord": "https://tracking.postnord.com/tracking.html?id=1Z9",
        "Posten Bring": "https://tracking.bring.com/tracking/1Z9",
        "Acme": None,
    }
    line_items = [
        {"sku": f"S{i}", "title": "T", "quantity": 1, "unit_price": 100}
        for i in range(len(expected))
    ]
    placed = await create_order(client, storefront, line_items=line_items)
    for (carrier, url), li in zip(expected.items(), placed["line_items"], strict=True):
        parcel = await fulfil(
            client,
            ops,
            placed["id"],
            line_items=[{"line_item_id": li["id"], "quantity": 1}],
            carrier=carrier,
            tracking_number="1Z9",
        )
        assert parcel["tracking_url"] == url, carrier
    given = await create_order(client, storefront)
    parcel = await fulfil(
        client,
        ops,
        given["id"],
        carrier="UPS",
        tracking_number="1Z9",
        tracking_url="https://shop.example/track/1Z9",
    )
    assert parcel["tracking_url"] == "https://shop.example/track/1Z9"


async def test_concurrent_repeats_of_one_report_record_it_once(
    client: httpx.AsyncClient,
    storefront: dict[str, str],
    ops: dict[str, str],
    db: Any,
    clock: Clock,
) -> None:
    at = clock() - timedelta(hours=1)
    placed = await placed_at(client, storefront, at)
    parcel = await fulfil(client, ops, placed["id"])
    responses = await asyncio.gather(
        *(track(client, ops, parcel["id"], "delivered", at) for _ in range(6))
    )
    assert sorted(r.status_code for r in responses) == [200] * 5 + [201]
    assert len(await events(db, "order.delivered", placed["id"])) == 1
    final = (await client.get(f"/v1/fulfillments/{parcel['id']}", headers=ops)).json()
    assert len(final["tracking_events"]) == 1


async def test_tracking_texts_write_times_in_rfc3339(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str], clock: Clock
) -> None:
    at = (clock() - timedelta(hours=3)).replace(microsecond=178228)
    placed = await placed_at(client, storefront, at - timedelta(hours=1))
    parcel = await fulfil(client, ops, placed["id"])
    local = at.astimezone(timezone(timedelta(hours=2)))
    assert (await track(client, ops, parcel["id"], "delivered", local)).status_code == 201
    written = at.strftime("%Y-%m-%dT%H:%M:%SZ")

    timeline = (await client.get(f"/v1/orders/{placed['id']}/events", headers=ops)).json()["data"]
    (entry,) = [e for e in timeline if e["action"] == "fulfillment.tracking_event"]
    assert entry["message"] == f"Tracking: delivered ({written})."
    refused = problem(
        await client.post(f"/v1/fulfillments/{parcel['id']}/cancel", headers=ops),
        409,
        "fulfillment_delivered",
    )
    assert refused["detail"] == (
        f"Fulfilment {parcel['id']} was delivered at {written}; refund or return its units instead."
    )
