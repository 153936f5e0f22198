"""The returns report through the HTTP API, over returns made through the API: requested,
approved, received with dispositions, declined, a claim and an exchange."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import Clock
from tests.factories import problem
from tests.returns.helpers import act, request_return, shipped_order, units


async def _asked(
    client: httpx.AsyncClient,
    storefront: dict[str, str],
    ops: dict[str, str] | None,
    order: dict[str, Any],
    quantity: int,
    reason: str = "size_or_fit",
    approve: dict[str, Any] | None = None,
    **body: Any,
) -> dict[str, Any]:
    """A return of `quantity` tees for `reason`, approved by `ops` unless None."""
    lines = units(order, quantity, reason=reason)
    response = await request_return(client, storefront, order, line_items=lines, **body)
    assert response.status_code == 201, response.text
    if ops is not None:
        response = await act(client, ops, response.json()["id"], "approve", **(approve or {}))
        assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def _received(
    client: httpx.AsyncClient, ops: dict[str, str], found: dict[str, Any], **body: Any
) -> dict[str, Any]:
    response = await act(client, ops, found["id"], "receive", **body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def test_return_report_by_sku_reason_resolution_and_time(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str], clock: Clock
) -> None:
    started = datetime.now(UTC) - timedelta(minutes=1)
    # six orders of 2 tees (TEE-M, 20.00) and a final-sale mug, shipped and delivered
    orders = [await shipped_order(client, storefront, ops) for _ in range(6)]
    kept, damaged, lost, swapped, refused, waiting = orders
    tee = [order["line_items"][0]["id"] for order in orders]

    first = await _asked(client, storefront, ops, kept, 1)  # resolution: refund
    second = await _asked(client, storefront, ops, damaged, 2, "damaged", resolution="store_credit")
    claim = await _asked(
        client, storefront, ops, lost, 1, "not_as_described", approve={"items_required": False}
    )
    exchange = await _asked(
        client, storefront, ops, swapped, 1, resolution="exchange",
        exchange_line_items=[{"sku": "TEE-L", "title": "Tee L", "quantity": 1,
                              "unit_price": 2000}],
    )  # fmt: skip
    declined = await _asked(client, storefront, None, refused, 1, "changed_mind")
    response = await act(client, ops, declined["id"], "decline", decline_reason="outside_policy")
    assert response.status_code == 200, response.text
    await _asked(client, storefront, None, waiting, 1, "wrong_item")
    response = await act(client, ops, claim["id"], "close", note="parcel lost")
    assert response.status_code == 200, response.text

    clock.advance(timedelta(hours=48))
    restocked = [{"line_item_id": tee[0], "quantity": 1, "disposition": "restock"}]
    fee = [{"reason": "restocking_fee", "amount": 300}]
    await _received(client, ops, first, line_items=restocked, deductions=fee)
    clock.advance(timedelta(hours=24))
    broken = [{"line_item_id": tee[1], "quantity": 2, "disposition": "damaged"}]
    await _received(client, ops, second, line_items=broken)
    credit = (await _received(client, ops, exchange))["exchange_credit"]
    assert credit == 2000

    report = (await client.get("/v1/reports/returns", headers=ops)).json()
    assert report["from"] is None
    assert report["total"] == 6
    assert report["by_status"] == {"received": 3, "closed": 1, "declined": 1, "requested": 1}
    fields = ("sku", "units_sold", "units_delivered", "units_requested", "units_received")
    assert [(*(row[f] for f in fields), row["return_rate"]) for row in report["by_sku"]] == [
        # the declined return asked for nothing; the claim's unit never came back
        ("TEE-M", 12, 12, 6, 4, 0.3333),
        ("MUG", 6, 6, 0, 0, 0),
        ("TEE-L", 1, 0, 0, 0, 0),  # the exchange's replacement order
    ]
    assert report["by_reason"] == {
        "damaged": {"returns": 1, "units_requested": 2, "units_received": 2},
        "not_as_described": {"returns": 1, "units_requested": 1, "units_received": 0},
        "size_or_fit": {"returns": 2, "units_requested": 2, "units_received": 2},
        "wrong_item": {"returns": 1, "units_requested": 1, "units_received": 0},
    }
    assert report["by_resolution"] == {
        "refund": {
            "returns": 3,
            "claims": 1,
            "refunded": {"USD": 1700 + 2000},
            "deducted": {"USD": 300},
            "exchange_credit": {},
        },
        "store_credit": {
            "returns": 1,
            "claims": 0,
            "refunded": {"USD": 4000},
            "deducted": {},
            "exchange_credit": {},
        },
        "exchange": {
            "returns": 1,
            "claims": 0,
            "refunded": {},
            "deducted": {},
            "exchange_credit": {"USD": 2000},
        },
    }
    times = report["request_to_receipt"]
    assert times["received"] == 3
    assert times["median_hours"] == pytest.approx(72, abs=0.1)
    assert times["p90_hours"] == pytest.approx(72, abs=0.1)
    assert times["mean_hours"] == pytest.approx(64, abs=0.1)

    as_csv = await client.get("/v1/reports/returns", headers={**ops, "Accept": "text/csv"})
    assert as_csv.status_code == 200, as_csv.text
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert 'filename="returns.csv"' in as_csv.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert rows[0] == {
        "sku": "TEE-M",
        "units_sold": "12",
        "units_delivered": "12",
        "units_requested": "6",
        "units_received": "4",
        "return_rate": "0.3333",
    }
    assert [row["sku"] for row in rows] == ["TEE-M", "MUG", "TEE-L"]

    # the refund report tells the returns' refunds from those made directly
    goodwill = {"amount": 500, "reason": "other"}
    response = await client.post(f"/v1/orders/{waiting['id']}/refunds", json=goodwill, headers=ops)
    assert response.status_code == 201, response.text
    plain = {"line_items": [{"line_item_id": tee[4], "quantity": 1}], "reason": "damaged"}
    response = await client.post(f"/v1/orders/{refused['id']}/refunds", json=plain, headers=ops)
    assert response.status_code == 201, response.text
    refunds = (await client.get("/v1/reports/refunds", headers=ops)).json()
    assert refunds["by_source"] == {
        "return": {"count": 3, "amount": {"USD": 1700 + 4000 + 2000}},
        "goodwill": {"count": 1, "amount": {"USD": 500}},
        "plain": {"count": 1, "amount": {"USD": 2000}},
    }
    tees = next(row for row in refunds["by_sku"] if row["sku"] == "TEE-M")
    assert (tees["units_refunded"], tees["units_returned"]) == (5, 4)

    # the period is the orders': from an hour on, only the replacement order was processed
    later = (started + timedelta(hours=1)).isoformat()
    replacement = (
        await client.get("/v1/reports/returns", params={"from": later}, headers=ops)
    ).json()
    assert replacement["total"] == 0
    assert [row["sku"] for row in replacement["by_sku"]] == ["TEE-L"]
    assert replacement["request_to_receipt"]["received"] == 0
    bounded = await client.get(
        "/v1/reports/returns", params={"from": started.isoformat(), "to": later}, headers=ops
    )
    assert bounded.json()["total"] == 6
    assert [row["sku"] for row in bounded.json()["by_sku"]] == ["TEE-M", "MUG"]


async def test_return_report_of_an_empty_period(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str]
) -> None:
    order = await shipped_order(client, storefront, ops)
    await _asked(client, storefront, None, order, 1)
    before = {"to": "2001-01-01T00:00:00Z"}
    report = (await client.get("/v1/reports/returns", params=before, headers=ops)).json()
    assert report == {
        "from": None,
        "to": "2001-01-01T00:00:00Z",
        "total": 0,
        "by_status": {},
        "by_sku": [],
        "by_reason": {},
        "by_resolution": {},
        "request_to_receipt": {
            "received": 0,
            "median_hours": None,
            "p90_hours": None,
            "mean_hours": None,
        },
    }
    as_csv = await client.get(
        "/v1/reports/returns", params=before, headers={**ops, "Accept": "text/csv"}
    )
    assert as_csv.status_code == 200
    assert as_csv.text == ""
    # requested but nothing back yet: counted, with no time to receipt
    now = (await client.get("/v1/reports/returns", headers=ops)).json()
    assert now["by_status"] == {"requested": 1}
    assert {row["sku"]: row["units_requested"] for row in now["by_sku"]} == {"MUG": 0, "TEE-M": 1}
    assert now["request_to_receipt"]["median_hours"] is None


async def test_return_report_validation_and_roles(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str]
) -> None:
    for params in ({"from": "yesterday"}, {"to": "0"}, {"from": "1999-12-31T23:59:59Z"}):
        body = problem(
            await client.get("/v1/reports/returns", params=params, headers=ops),
            422,
            "validation_error",
        )
        assert body["errors"], body
    problem(await client.get("/v1/reports/returns", headers=storefront), 403, "forbidden")
    problem(await client.get("/v1/reports/returns"), 401, "unauthenticated")


async def test_a_failed_return_refund_is_not_reported_as_refunded_until_retried(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str]
) -> None:
    order = await shipped_order(client, storefront, ops)
    found = await _received(client, ops, await _asked(client, storefront, ops, order, 1))
    refund = found["refund"]

    async def refunded() -> int:
        report = (await client.get("/v1/reports/returns", headers=ops)).json()
        amount: int = report["by_resolution"]["refund"]["refunded"].get(order["currency"], 0)
        return amount

    paid = await refunded()
    failed = await client.post(
        f"/v1/refunds/{refund['id']}/settle", json={"status": "failed"}, headers=ops
    )
    assert failed.status_code == 200, failed.text
    assert await refunded() == paid - refund["amount"]
    retried = await client.post(f"/v1/refunds/{refund['id']}/retry", headers=ops)
    assert retried.status_code == 201, retried.text
    assert await refunded() == paid
