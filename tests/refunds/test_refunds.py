from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.factories import create_order, problem
from tests.helpers import count_events, counting_statements, fulfil

FIVE_TEES = [
    {"sku": "TEE-M", "title": "Tee", "quantity": 5, "unit_price": 1000},
    {"sku": "FINAL", "title": "Final sale", "quantity": 1, "unit_price": 700, "refundable": False},
]


def ago(**delta: float) -> str:
    return (datetime.now(UTC) - timedelta(**delta)).isoformat()


async def paid_order(
    client: httpx.AsyncClient, headers: dict[str, str], **overrides: Any
) -> dict[str, Any]:
    values: dict[str, Any] = {
        "line_items": FIVE_TEES,
        "tax_lines": [],
        "discounts": [],
        "shipping_lines": [{"title": "Standard", "price": 500}],
    }
    values.update(overrides)
    return await create_order(client, headers, **values)


def lines(order: dict[str, Any], *quantities: int, restock: bool = False) -> list[dict[str, Any]]:
    return [
        {"line_item_id": li["id"], "quantity": q, "restock": restock}
        for li, q in zip(order["line_items"], quantities, strict=False)
        if q
    ]


async def test_preview_shows_each_line_and_changes_nothing(
    client: httpx.AsyncClient, storefront: dict[str, str]
) -> None:
    order = await paid_order(client, storefront)
    response = await client.post(
        f"/v1/orders/{order['id']}/refunds/calculate",
        json={"line_items": lines(order, 2, 1), "shipping": {"full": True}},
        headers=storefront,
    )
    assert response.status_code == 200, response.text
    preview = response.json()
    tee, final = order["line_items"][0]["id"], order["line_items"][1]["id"]
    assert preview["line_items"] == [
        {"line_item_id": tee, "quantity": 2, "amount": 2000, "eligible": True, "code": None},
        {
            "line_item_id": final,
            "quantity": 1,
            "amount": 700,
            "eligible": False,
            "code": "item_not_refundable",
        },
    ]
    assert preview["shipping"] == {"amount": 500, "eligible": True, "code": None}
    assert preview["eligible"] is False
    assert preview["codes"] == ["item_not_refundable"]
    assert preview["refundable_amount"] == order["total"]
    assert preview["expected_processing_time"] == "5-10 business days"
    after = (await client.get(f"/v1/orders/{order['id']}", headers=storefront)).json()
    assert after["version"] == order["version"]
    assert after["total_refund_pending"] == 0


async def test_partial_refund_lifecycle(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str], db: Any
) -> None:
    order = await paid_order(client, storefront)
    created = await client.post(
        f"/v1/orders/{order['id']}/refunds",
        json={"line_items": lines(order, 2, restock=True), "reason": "damaged", "note": "torn"},
        headers=storefront,
    )
    assert created.status_code == 201, created.text
    refund = created.json()
    assert refund["status"] == "pending"
    assert refund["amount"] == 2000
    assert refund["line_items"][0]["sku"] == "TEE-M"
    assert refund["line_items"][0]["restocked_quantity"] == 2
    assert refund["created_by"]["role"] == "storefront"
    assert created.headers["location"] == f"/v1/refunds/{refund['id']}"

    pending = (await client.get(f"/v1/orders/{order['id']}", headers=ops)).json()
    assert pending["financial_status"] == "paid"
    assert pending["total_refund_pending"] == 2000
    assert pending["total_refunded"] == 0
    assert pending["line_items"][0]["refund_pending_quantity"] == 2
    assert pending["line_items"][0]["restocked_quantity"] == 2

    settled = await client.post(
        f"/v1/refunds/{refund['id']}/settle",
        json={"status": "succeeded", "reference": "re_1"},
        headers=ops,
    )
    assert settled.status_code == 200, settled.text
    assert settled.json()["status"] == "succeeded"
    assert settled.json()["reference"] == "re_1"
    done = (await client.get(f"/v1/orders/{order['id']}", headers=ops)).json()
    assert done["financial_status"] == "partially_refunded"
    assert done["total_refunded"] == 2000
    assert done["total_refund_pending"] == 0
    assert done["line_items"][0]["refunded_quantity"] == 2
    assert done["line_items"][0]["refund_pending_quantity"] == 0
    assert done["net_paid"] == order["total"] - 2000

    again = problem(
        await client.post(
            f"/v1/refunds/{refund['id']}/settle", json={"status": "failed"}, headers=ops
        ),
        409,
        "refund_already_settled",
    )
    at = datetime.fromisoformat(settled.json()["settled_at"])
    assert again["detail"] == (
        f"Refund {refund['id']} already succeeded at {at:%Y-%m-%dT%H:%M:%S}Z."
    )
    assert await count_events(db, "refund.created", order["id"]) == 1
    assert await count_events(db, "refund.succeeded", order["id"]) == 1
    assert await count_events(db, "order.restock", order["id"]) == 1
    events = (await client.get("/v1/events", params={"type": "refund.created"}, headers=ops)).json()
    data = events["data"][0]["data"]
    assert data["refund"]["amount"] == 2000
    assert data["refund"]["expected_processing_time"] == "5-10 business days"
    assert data["notify_customer"] is True
    assert data["order"]["id"] == order["id"]


async def test_settling_honours_if_match_against_the_order(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str], db: Any
) -> None:
    """Settling changes the refund's order, so the order's ETag guards it: a stale one
    settles nothing."""
    order = await paid_order(client, storefront)
    created = await client.post(
        f"/v1/orders/{order['id']}/refunds",
        json={"line_items": lines(order, 1), "reason": "damaged"},
        headers=ops,
    )
    assert created.status_code == 201, created.text
    refund = created.json()
    pending = (await client.get(f"/v1/orders/{order['id']}", headers=ops)).json()
    assert created.headers["etag"] == f'"{pending["version"]}"'
    url = f"/v1/refunds/{refund['id']}/settle"
    body = {"status": "succeeded", "reference": "re_1"}
    stale = await client.post(url, json=body, headers={**ops, "If-Match": f'"{order["version"]}"'})
    assert problem(stale, 412, "precondition_failed")["current_version"] == pending["version"]
    problem(
        await client.post(url, json=body, headers={**ops, "If-Match": '"one"'}),
        400,
        "invalid_if_match",
    )
    assert (await client.get(f"/v1/refunds/{refund['id']}", headers=ops)).json() == refund
    assert (await client.get(f"/v1/orders/{order['id']}", headers=ops)).json() == pending
    assert await count_events(db, "refund.succeeded", order["id"]) == 0

    current = await client.post(
        url, json=body, headers={**ops, "If-Match": f'"{pending["version"]}"'}
    )
    assert current.status_code == 200, current.text
    assert current.json()["status"] == "succeeded"
    assert current.headers["etag"] == f'"{pending["version"] + 1}"'


async def test_full_refund_returns_exactly_the_total(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str]
) -> None:
    order = await create_order(client, storefront)  # discount and tax spread over lines
    response = await client.post(
        f"/v1/orders/{order['id']}/refunds",
        json={
            "line_items": lines(order, 2, 1),
            "shipping": {"full": True},
            "override_policy": True,
            "note": "final-sale mug was broken",
        },
        headers=ops,
    )
    assert response.status_code == 201, response.text
    assert response.json()["amount"] == order["total"]
    await client.post(
        f"/v1/refunds/{response.json()['id']}/settle", json={"status": "succeeded"}, headers=ops
    )
    final = (await client.get(f"/v1/orders/{order['id']}", headers=ops)).json()
    assert final["financial_status"] == "refunded"
    assert final["total_refunded"] == final["total_paid"] == order["total"]
    timeline = (await client.get(f"/v1/orders/{order['id']}/events", headers=ops)).json()["data"]
    entry = next(e for e in timeline if e["action"] == "refund.created")
    assert "overridden" in entry["message"]
    assert entry["data"]["override_policy"] is True


async def test_failed_refund_releases_amount_and_units(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str]
) -> None:
    order = await paid_order(client, storefront)
    refund = (
        await client.post(
            f"/v1/orders/{order['id']}/refunds", json={"line_items": lines(order, 5)}, headers=ops
        )
    ).json()
    problem(
        await client.post(
            f"/v1/orders/{order['id']}/refunds", json={"line_items": lines(order, 1)}, headers=ops
        ),
        409,
        "refund_exceeds_refundable",
    )
    failed = await client.post(
        f"/v1/refunds/{refund['id']}/settle",
        json={"status": "failed", "failure_reason": "card expired"},
        headers=ops,
    )
    assert failed.json()["failure_reason"] == "card expired"
    after = (await client.get(f"/v1/orders/{order['id']}", headers=ops)).json()
    assert after["total_refund_pending"] == 0
    assert after["line_items"][0]["refund_pending_quantity"] == 0
    assert after["financial_status"] == "paid"
    again = await client.post(
        f"/v1/orders/{order['id']}/refunds",
        json={"line_items": lines(order, 5), "method": "store_credit"},
        headers=ops,
    )
    assert again.status_code == 201


async def test_policy_refusals_and_override(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str]
) -> None:
    order = await paid_order(client, storefront)
    url = f"/v1/orders/{order['id']}/refunds"
    final_sale = {"line_items": lines(order, 0, 1)}
    body = problem(
        await client.post(url, json=final_sale, headers=storefront), 422, "item_not_refundable"
    )
    assert body["lines"] == [
        {"line_item_id": order["line_items"][1]["id"], "code": "item_not_refundable"}
    ]
    problem(await client.post(url, json=final_sale, headers=ops), 422, "item_not_refundable")
    problem(
        await client.post(url, json={**final_sale, "override_policy": True}, headers=storefront),
        403,
        "override_not_allowed",
    )
    problem(
        await client.post(url, json={**final_sale, "override_policy": True}, headers=ops),
        422,
        "override_requires_note",
    )
    ok = await client.post(
        url, json={**final_sale, "override_policy": True, "note": "goodwill"}, headers=ops
    )
    assert ok.status_code == 201
    assert ok.json()["override_policy"] is True


async def test_refund_window_counts_from_processing_when_never_delivered(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str]
) -> None:
    inside = await paid_order(client, storefront, processed_at=ago(days=29))
    ok = await client.post(
        f"/v1/orders/{inside['id']}/refunds",
        json={"line_items": lines(inside, 1)},
        headers=storefront,
    )
    assert ok.status_code == 201
    outside = await paid_order(client, storefront, processed_at=ago(days=31))
    url = f"/v1/orders/{outside['id']}/refunds"
    problem(
        await client.post(url, json={"line_items": lines(outside, 1)}, headers=storefront),
        409,
        "refund_window_expired",
    )
    preview = (
        await client.post(
            f"{url}/calculate", json={"line_items": lines(outside, 1)}, headers=storefront
        )
    ).json()
    assert preview["line_items"][0]["code"] == "refund_window_expired"
    overridden = await client.post(
        url,
        json={"line_items": lines(outside, 1), "override_policy": True, "note": "loyal customer"},
        headers=ops,
    )
    assert overridden.status_code == 201


async def test_limits(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str], db: Any
) -> None:
    order = await paid_order(client, storefront)
    url = f"/v1/orders/{order['id']}/refunds"
    problem(
        await client.post(url, json={"line_items": lines(order, 6)}, headers=ops),
        409,
        "refund_exceeds_refundable",
    )
    doubled = {"line_items": lines(order, 3) + lines(order, 3)}
    problem(await client.post(url, json=doubled, headers=ops), 409, "refund_exceeds_refundable")
    problem(
        await client.post(
            url, json={"line_items": [{"line_item_id": "li_nope", "quantity": 1}]}, headers=ops
        ),
        422,
        "line_item_not_found",
    )
    problem(await client.post(url, json={}, headers=ops), 422, "refund_empty")
    problem(
        await client.post(url, json={"amount": 10}, headers=storefront), 403, "goodwill_not_allowed"
    )
    body = problem(
        await client.post(url, json={"amount": order["total"] + 1}, headers=ops),
        409,
        "refund_exceeds_refundable",
    )
    assert body["refundable_amount"] == order["total"]
    problem(
        await client.post(url, json={"shipping": {"amount": 501}}, headers=ops),
        409,
        "refund_exceeds_refundable",
    )
    problem(
        await client.post(url, json={"shipping": {"full": True, "amount": 5}}, headers=ops),
        422,
        "validation_error",
    )
    await fulfil(client, ops, order, 1)
    problem(
        await client.post(url, json={"shipping": {"full": True}}, headers=storefront),
        409,
        "shipping_not_refundable",
    )
    unpaid = await paid_order(client, storefront, payment=None)
    problem(
        await client.post(
            f"/v1/orders/{unpaid['id']}/refunds", json={"line_items": lines(unpaid, 1)}, headers=ops
        ),
        409,
        "order_not_paid",
    )
    problem(await client.get("/v1/refunds/rf_missing", headers=ops), 404, "refund_not_found")


async def test_twelve_concurrent_one_unit_refunds_of_five_units(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str]
) -> None:
    order = await paid_order(client, storefront)
    url = f"/v1/orders/{order['id']}/refunds"
    responses = await asyncio.gather(
        *(
            client.post(url, json={"line_items": lines(order, 1, restock=True)}, headers=storefront)
            for _ in range(12)
        )
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] * 5 + [409] * 7, statuses
    final = (await client.get(f"/v1/orders/{order['id']}", headers=ops)).json()
    assert final["line_items"][0]["refund_pending_quantity"] == 5
    assert final["line_items"][0]["restocked_quantity"] == 5
    assert final["total_refund_pending"] == 5000


async def test_concurrent_goodwill_refunds_never_exceed_what_was_paid(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str]
) -> None:
    order = await paid_order(client, storefront)
    share = order["total"] // 4 + 1
    responses = await asyncio.gather(
        *(
            client.post(
                f"/v1/orders/{order['id']}/refunds",
                json={"amount": share, "reason": "late_delivery"},
                headers=ops,
            )
            for _ in range(10)
        )
    )
    assert sorted(r.status_code for r in responses) == [201] * 3 + [409] * 7
    final = (await client.get(f"/v1/orders/{order['id']}", headers=ops)).json()
    assert final["total_refund_pending"] == 3 * share <= final["total_paid"]


async def test_lists_and_reads(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str]
) -> None:
    order = await paid_order(client, storefront)
    first = (
        await client.post(
            f"/v1/orders/{order['id']}/refunds", json={"line_items": lines(order, 1)}, headers=ops
        )
    ).json()
    second = (
        await client.post(f"/v1/orders/{order['id']}/refunds", json={"amount": 100}, headers=ops)
    ).json()
    await client.post(
        f"/v1/refunds/{first['id']}/settle", json={"status": "succeeded"}, headers=ops
    )
    pending = (await client.get("/v1/refunds", params={"status": "pending"}, headers=ops)).json()[
        "data"
    ]
    assert [r["id"] for r in pending] == [second["id"]]
    all_refunds = (
        await client.get(f"/v1/orders/{order['id']}/refunds", headers=storefront)
    ).json()["data"]
    assert {r["id"] for r in all_refunds} == {first["id"], second["id"]}
    one = (await client.get(f"/v1/refunds/{first['id']}", headers=storefront)).json()
    assert one["status"] == "succeeded"
    assert one["line_items"][0]["title"] == "Tee"
    problem(await client.get("/v1/refunds", headers=storefront), 403, "forbidden")
    problem(
        await client.post(
            f"/v1/refunds/{second['id']}/settle", json={"status": "succeeded"}, headers=storefront
        ),
        403,
        "forbidden",
    )


async def test_a_refund_is_a_bounded_number_of_statements(
    client: httpx.AsyncClient, storefront: dict[str, str], app: Any
) -> None:
    order = await create_order(client, storefront)
    line = order["line_items"][0]
    async with counting_statements(app) as statements:
        response = await client.post(
            f"/v1/orders/{order['id']}/refunds",
            json={"line_items": [{"line_item_id": line["id"], "quantity": 1, "restock": True}]},
            headers={**storefront, "Idempotency-Key": "bounded"},
        )
    assert response.status_code == 201, response.text
    # lock and key, Idempotency-Key, order, lines, whether it has parcels, order and lines
    # changed, and one statement for the refund and its lines, the timeline, events and
    # the Idempotency-Key record
    assert len(statements) <= 8, "\n".join(statements)


async def test_a_refund_recorded_outside_an_api_request_is_written_at_once(
    client: httpx.AsyncClient, storefront: dict[str, str], admin: dict[str, str], db: Any
) -> None:
    # An API request holds the refund's rows for its last statement; a session that does
    # not defer (a worker's, a script's) gets them inserted when the refund is recorded.
    from order_service.context import Context
    from order_service.orders import repository
    from order_service.refunds import service
    from order_service.settings import Settings

    order = await paid_order(client, storefront)
    async with db() as session, session.begin():
        locked = await repository.get(session, order["id"], lock=True)
        line = locked.line_items[0]
        new = service.NewRefund(
            lines=[service.RefundLine(line, 2, 2000, restock=True)],
            amount=2000,
            method="original_payment",
            reason="damaged",
            note=None,
            notify_customer=False,
        )
        ctx = Context.system(session, datetime.now(UTC), Settings())
        refund = await service.record_refund(ctx, locked, new)
    listed = (await client.get(f"/v1/orders/{order['id']}/refunds", headers=admin)).json()
    assert [r["id"] for r in listed["data"]] == [refund.id]
    (written,) = listed["data"]
    assert written["amount"] == 2000 and written["status"] == "pending"
    assert written["line_items"] == [
        {
            "line_item_id": line.id,
            "sku": "TEE-M",
            "title": "Tee",
            "quantity": 2,
            "amount": 2000,
            "restock": True,
            "restocked_quantity": 2,
        }
    ]
    after = (await client.get(f"/v1/orders/{order['id']}", headers=admin)).json()
    assert after["line_items"][0]["refund_pending_quantity"] == 2
    assert after["total_refund_pending"] == 2000


async def test_refund_texts_write_money_in_major_units(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str]
) -> None:
    order = await paid_order(client, storefront, currency="EUR")
    url = f"/v1/orders/{order['id']}/refunds"
    first = await client.post(url, json={"line_items": lines(order, 5)}, headers=ops)
    assert first.status_code == 201, first.text
    refused = problem(
        await client.post(url, json={"line_items": lines(order, 1)}, headers=ops),
        409,
        "refund_exceeds_refundable",
    )
    assert refused["refundable_amount"] == 1200
    assert refused["detail"].startswith("At most 12.00 EUR can still be refunded on this order")
    settled = await client.post(
        f"/v1/refunds/{first.json()['id']}/settle", json={"status": "succeeded"}, headers=ops
    )
    assert settled.status_code == 200, settled.text
    timeline = (await client.get(f"/v1/orders/{order['id']}/events", headers=ops)).json()["data"]
    messages = [e["message"] for e in timeline if e["action"].startswith("refund.")]
    assert messages[0].startswith("Refund of 50.00 EUR to ")
    assert messages[-1] == "Refund of 50.00 EUR succeeded."
