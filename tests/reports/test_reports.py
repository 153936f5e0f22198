from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import httpx

from tests.factories import create_order, problem

TEE = {"sku": "TEE", "title": "Tee", "quantity": 5, "unit_price": 1000}
MUG = {"sku": "MUG", "title": "Mug", "quantity": 2, "unit_price": 800}


async def test_cancellation_report(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str]
) -> None:
    for _ in range(2):
        order = await create_order(client, storefront)
        await client.post(f"/v1/orders/{order['id']}/cancel", headers=storefront)
    fraud = await create_order(client, storefront)
    await client.post(f"/v1/orders/{fraud['id']}/cancel", json={"reason": "fraud"}, headers=ops)
    await create_order(client, storefront)  # not cancelled

    report = (await client.get("/v1/reports/cancellations", headers=ops)).json()
    assert report["total"] == 3
    assert report["by_reason"] == {"customer": 2, "fraud": 1}
    assert report["by_actor"] == {"customer": 2, "merchant": 1}
    today = datetime.now(UTC).date().isoformat()
    assert report["by_period"] == [
        {"period_start": today, "total": 3, "by_reason": {"customer": 2, "fraud": 1}}
    ]
    weekly = (await client.get("/v1/reports/cancellations?period=week", headers=ops)).json()
    assert weekly["by_period"][0]["total"] == 3
    yesterday = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    earlier = (
        await client.get("/v1/reports/cancellations", params={"to": yesterday}, headers=ops)
    ).json()
    assert earlier["total"] == 0
    assert earlier["to"] is not None

    as_csv = await client.get("/v1/reports/cancellations", headers={**ops, "Accept": "text/csv"})
    assert as_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert rows == [
        {"period_start": today, "reason": "customer", "cancelled": "2"},
        {"period_start": today, "reason": "fraud", "cancelled": "1"},
    ]
    problem(await client.get("/v1/reports/cancellations", headers=storefront), 403, "forbidden")


async def test_refund_report_by_sku_reason_and_net(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str]
) -> None:
    a = await create_order(client, storefront, line_items=[TEE, MUG], tax_lines=[], discounts=[])
    b = await create_order(client, storefront, line_items=[TEE], tax_lines=[], discounts=[])
    url_a, url_b = f"/v1/orders/{a['id']}", f"/v1/orders/{b['id']}"
    tee_a, mug_a = a["line_items"][0]["id"], a["line_items"][1]["id"]
    damaged = await client.post(
        f"{url_a}/refunds",
        json={"line_items": [{"line_item_id": mug_a, "quantity": 1}], "reason": "damaged"},
        headers=ops,
    )
    await client.post(
        f"/v1/refunds/{damaged.json()['id']}/settle", json={"status": "succeeded"}, headers=ops
    )
    late = await client.post(
        f"{url_a}/refunds",
        json={"line_items": [{"line_item_id": tee_a, "quantity": 2}], "reason": "late_delivery"},
        headers=ops,
    )
    assert late.status_code == 201
    failed = await client.post(
        f"{url_b}/refunds",
        json={"line_items": [{"line_item_id": b["line_items"][0]["id"], "quantity": 5}]},
        headers=ops,
    )
    await client.post(
        f"/v1/refunds/{failed.json()['id']}/settle", json={"status": "failed"}, headers=ops
    )
    c = await create_order(client, storefront, line_items=[MUG], tax_lines=[], discounts=[])
    await client.post(f"/v1/orders/{c['id']}/cancel", headers=storefront)
    await client.post(
        f"/v1/orders/{a['id']}/transactions",
        json={"kind": "sale", "status": "failure"},
        headers=ops,
    )

    report = (await client.get("/v1/reports/refunds", headers=ops)).json()
    fields = ("sku", "currency", "units_sold", "units_refunded", "refund_rate", "amount_refunded")
    assert [tuple(row[f] for f in fields) for row in report["by_sku"]] == [
        ("MUG", "USD", 2, 1, 0.5, 800),  # the cancelled order's mugs were never sold
        ("TEE", "USD", 10, 2, 0.2, 2000),
    ]
    assert report["by_reason"] == {
        "damaged": {"count": 1, "amount": {"USD": 800}},
        "late_delivery": {"count": 1, "amount": {"USD": 2000}},
        "cancellation": {"count": 1, "amount": {"USD": c["total"]}},
    }
    gross = a["total"] + b["total"] + c["total"]
    assert report["totals"] == [
        {"currency": "USD", "gross": gross, "refunded": 800, "fees": 0, "net": gross - 800}
    ]
    as_csv = await client.get("/v1/reports/refunds", headers={**ops, "Accept": "text/csv"})
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert [r["sku"] for r in rows] == ["MUG", "TEE"]
    assert rows[0]["refund_rate"] == "0.5"


async def test_policies_in_words_and_numbers(
    client: httpx.AsyncClient, storefront: dict[str, str]
) -> None:
    body = (await client.get("/v1/policies", headers=storefront)).json()
    assert body["cancellation"]["customer_window_seconds"] == 3600
    assert "1 hour" in body["cancellation"]["summary"]
    assert body["refund"]["window_seconds"] == 30 * 86400
    assert "30 days" in body["refund"]["summary"]
    assert body["handling_days"] == 2
    assert {m["method"] for m in body["refund"]["methods"]} == {
        "original_payment",
        "store_credit",
        "gift_card",
    }
    problem(await client.get("/v1/policies"), 401, "unauthenticated")


async def test_fulfilment_report_times_and_lateness(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str]
) -> None:
    now = datetime.now(UTC)

    async def shipped_order(hours_ago: float, carrier: str, dispatch_by: str | None) -> str:
        overrides = {"processed_at": (now - timedelta(hours=hours_ago)).isoformat()}
        if dispatch_by:
            overrides["estimated_dispatch_date"] = dispatch_by
        order = await create_order(client, storefront, **overrides)
        parcel = await client.post(
            f"/v1/orders/{order['id']}/fulfillments",
            json={"status": "shipped", "carrier": carrier, "tracking_number": "X1"},
            headers=ops,
        )
        assert parcel.status_code == 201, parcel.text
        return str(parcel.json()["id"])

    yesterday = (now - timedelta(days=1)).date().isoformat()
    ups_fast = await shipped_order(10, "UPS", None)
    await shipped_order(30, "UPS", yesterday)  # promised yesterday, shipped today: late
    dhl = await shipped_order(20, "DHL", None)
    for parcel, hours in ((ups_fast, 6), (dhl, 2)):
        delivered = await client.post(
            f"/v1/fulfillments/{parcel}/tracking-events",
            json={
                "status": "delivered",
                "occurred_at": (now + timedelta(hours=hours) - timedelta(hours=12)).isoformat(),
            },
            headers=ops,
        )
        assert delivered.status_code in (200, 201), delivered.text

    report = (await client.get("/v1/reports/fulfillment", headers=ops)).json()
    overall = report["overall"]
    assert overall["shipments"] == 3
    assert overall["dispatched_late"] == 1
    assert 19 < overall["order_to_dispatch"]["median_hours"] < 21
    by_carrier = {row["carrier"]: row for row in report["by_carrier"]}
    assert [row["carrier"] for row in report["by_carrier"]] == ["UPS", "DHL"]
    assert by_carrier["UPS"]["shipments"] == 2
    assert by_carrier["UPS"]["dispatched_late"] == 1
    assert by_carrier["DHL"]["dispatched_late"] == 0
    assert by_carrier["DHL"]["delivered"] == 1
    as_csv = await client.get("/v1/reports/fulfillment", headers={**ops, "Accept": "text/csv"})
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert [r["carrier"] for r in rows] == ["UPS", "DHL", "ALL"]
