"""Order edits through the HTTP API: the policies, the money, restock, events, retries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.factories import ADDRESS, create_order, problem
from tests.helpers import count_events, counting_statements, fulfil

TOTAL = 5798  # 2 x 19.99 + 12.00 + 5.00 shipping + 3.00 tax - 2.00 discount


def ago(**delta: float) -> str:
    return (datetime.now(UTC) - timedelta(**delta)).isoformat()


async def edit(
    client: httpx.AsyncClient, headers: dict[str, str], order: dict[str, Any], **body: Any
) -> httpx.Response:
    return await client.post(f"/v1/orders/{order['id']}/edits", json=body, headers=headers)


def lines(order: dict[str, Any], *quantities: int) -> list[dict[str, Any]]:
    return [
        {"line_item_id": li["id"], "quantity": q}
        for li, q in zip(order["line_items"], quantities, strict=False)
    ]


async def refunds_of(
    client: httpx.AsyncClient, headers: dict[str, str], order_id: str
) -> list[dict[str, Any]]:
    response = await client.get(f"/v1/orders/{order_id}/refunds", headers=headers)
    data: list[dict[str, Any]] = response.json()["data"]
    return data


async def test_a_customer_lowers_a_paid_order_and_the_difference_is_refunded(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str]
) -> None:
    order = await create_order(client, storefront)
    assert order["outstanding"] == 0
    assert order["customer_editable_until"] == order["customer_cancellable_until"]
    response = await edit(client, storefront, order, line_items=lines(order, 1))
    assert response.status_code == 201, response.text
    result = response.json()
    assert result["changes"] == [
        {
            "line_item_id": order["line_items"][0]["id"],
            "sku": "TEE-M",
            "title": "Tee",
            "quantity_before": 2,
            "quantity_after": 1,
            "amount_delta": -1999,
            "restocked_quantity": 1,
        }
    ]
    assert (result["total_before"], result["total_after"]) == (TOTAL, TOTAL - 1999)
    assert result["outstanding_after"] == 0
    assert result["reason"] == "customer_request"
    assert result["created_by"]["role"] == "storefront"
    refund = result["refund"]
    assert refund["amount"] == 1999
    assert (refund["status"], refund["reason"]) == ("pending", "order_edited")
    edited = result["order"]
    assert edited["total"] == TOTAL - 1999
    assert edited["line_items"][0]["quantity"] == 1
    assert edited["line_items"][0]["removed_quantity"] == 1
    assert edited["outstanding"] == 0
    assert edited["total_refund_pending"] == 1999
    assert edited["total_edit_refunds"] == 1999
    assert edited["financial_status"] == "paid"
    assert edited["version"] > order["version"]
    assert response.headers["etag"] == f'"{edited["version"]}"'
    got = (await client.get(f"/v1/orders/{order['id']}", headers=storefront)).json()
    assert got == edited

    events = (await client.get("/v1/events", params={"order_id": order["id"]}, headers=ops)).json()
    types = [e["type"] for e in events["data"]]
    assert types[:3] == ["order.restock", "order.edited", "refund.created"]
    restock = events["data"][0]["data"]["restock"]
    assert restock["items"] == [
        {"line_item_id": order["line_items"][0]["id"], "sku": "TEE-M", "quantity": 1}
    ]
    assert restock["source"] == f"edit {result['id']}"
    edited_event = events["data"][1]["data"]
    assert edited_event["edit"]["id"] == result["id"]
    assert edited_event["edit"]["changes"] == result["changes"]
    assert edited_event["edit"]["refund"]["id"] == refund["id"]
    assert edited_event["order"]["total"] == TOTAL - 1999
    assert edited_event["notify_customer"] is True

    timeline = (await client.get(f"/v1/orders/{order['id']}/events", headers=ops)).json()["data"]
    entry = next(e for e in timeline if e["action"] == "order.edited")
    assert entry["actor"] == {
        "type": "api_key",
        "id": entry["actor"]["id"],
        "name": "storefront key",
        "role": "storefront",
    }
    assert "TEE-M 2 → 1" in entry["message"]
    assert "57.98 USD → 37.99 USD" in entry["message"]
    assert "19.99 USD refunded" in entry["message"]

    listed = (await client.get(f"/v1/orders/{order['id']}/edits", headers=storefront)).json()
    assert [e["id"] for e in listed["data"]] == [result["id"]]
    assert listed["data"][0]["refund"]["id"] == refund["id"]
    assert listed["data"][0]["changes"] == result["changes"]


async def test_the_edit_refund_settles_or_fails_and_outstanding_follows(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str]
) -> None:
    failing = await create_order(client, storefront)
    refund = (await edit(client, storefront, failing, line_items=lines(failing, 1))).json()[
        "refund"
    ]
    settled = await client.post(
        f"/v1/refunds/{refund['id']}/settle",
        json={"status": "failed", "failure_reason": "card closed"},
        headers=ops,
    )
    assert settled.status_code == 200, settled.text
    order = (await client.get(f"/v1/orders/{failing['id']}", headers=ops)).json()
    assert order["outstanding"] == -1999  # the shop owes it again
    assert order["total_edit_refunds"] == 0

    paying = await create_order(client, storefront)
    refund = (await edit(client, storefront, paying, line_items=lines(paying, 1))).json()["refund"]
    await client.post(
        f"/v1/refunds/{refund['id']}/settle", json={"status": "succeeded"}, headers=ops
    )
    order = (await client.get(f"/v1/orders/{paying['id']}", headers=ops)).json()
    assert order["outstanding"] == 0
    assert order["total_refunded"] == 1999
    assert order["financial_status"] == "partially_refunded"


async def test_a_higher_total_is_outstanding_until_a_sale_covers_it(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str]
) -> None:
    order = await create_order(client, storefront)
    response = await edit(
        client,
        storefront,
        order,
        add_line_items=[{"sku": "CAP", "title": "Cap", "quantity": 1, "unit_price": 1000}],
    )
    assert response.status_code == 201, response.text
    result = response.json()
    assert result["refund"] is None
    assert result["outstanding_after"] == 1000
    assert result["changes"][0]["quantity_before"] == 0
    assert result["changes"][0]["amount_delta"] == 1000
    edited = result["order"]
    assert edited["total"] == TOTAL + 1000
    assert edited["outstanding"] == 1000
    assert edited["financial_status"] == "partially_paid"
    assert edited["line_items"][2]["sku"] == "CAP"
    assert edited["line_items"][2]["id"] == result["changes"][0]["line_item_id"]

    url = f"/v1/orders/{order['id']}/transactions"
    problem(
        await client.post(url, json={"kind": "sale", "amount": 1001}, headers=ops),
        422,
        "transaction_exceeds_amount",
    )
    sale = await client.post(url, json={"kind": "sale", "reference": "ch_2"}, headers=ops)
    assert sale.status_code == 201, sale.text
    paid = sale.json()["order"]
    assert sale.json()["transaction"]["amount"] == 1000
    assert (paid["outstanding"], paid["financial_status"]) == (0, "paid")


async def test_an_authorised_order_is_captured_for_less(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str]
) -> None:
    order = await create_order(
        client, storefront, payment={"status": "authorized", "gateway": "stripe"}
    )
    assert order["outstanding"] == TOTAL
    result = (await edit(client, storefront, order, line_items=lines(order, 1))).json()
    assert result["refund"] is None
    assert result["outstanding_after"] == TOTAL - 1999
    assert result["order"]["financial_status"] == "authorized"
    assert await refunds_of(client, ops, order["id"]) == []

    url = f"/v1/orders/{order['id']}/transactions"
    refused = problem(
        await client.post(url, json={"kind": "capture", "amount": TOTAL}, headers=ops),
        422,
        "transaction_exceeds_amount",
    )
    assert refused["allowed"] == TOTAL - 1999
    capture = await client.post(url, json={"kind": "capture"}, headers=ops)
    assert capture.status_code == 201, capture.text
    assert capture.json()["transaction"]["amount"] == TOTAL - 1999
    captured = capture.json()["order"]
    assert (captured["outstanding"], captured["financial_status"]) == (0, "paid")
    void = await client.post(url, json={"kind": "void"}, headers=ops)
    assert void.json()["transaction"]["amount"] == 1999


async def test_ops_may_keep_the_money_and_leave_outstanding_negative(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str]
) -> None:
    order = await create_order(client, storefront)
    problem(
        await edit(client, storefront, order, line_items=lines(order, 1), refund=False),
        422,
        "refund_required",
    )
    result = (
        await edit(client, ops, order, line_items=lines(order, 1), refund=False, restock=False)
    ).json()
    assert result["refund"] is None
    assert result["outstanding_after"] == -1999
    assert result["order"]["outstanding"] == -1999
    assert result["order"]["financial_status"] == "paid"
    assert result["changes"][0]["restocked_quantity"] == 0
    assert await refunds_of(client, ops, order["id"]) == []


async def test_removed_units_are_restocked_once(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str], db: Any
) -> None:
    order = await create_order(client, storefront)
    await edit(client, storefront, order, line_items=lines(order, 1))
    cancelled = await client.post(f"/v1/orders/{order['id']}/cancel", headers=storefront)
    assert cancelled.status_code == 200, cancelled.text
    # the cancellation restocks what is left, not the unit the edit put back
    assert [li["restocked_quantity"] for li in cancelled.json()["line_items"]] == [1, 1]
    events = (
        await client.get(
            "/v1/events", params={"order_id": order["id"], "type": "order.restock"}, headers=ops
        )
    ).json()["data"]
    restocked = sum(i["quantity"] for e in events for i in e["data"]["restock"]["items"])
    assert restocked == 3  # 2 tees and a mug, each once

    kept = await create_order(client, storefront)
    await edit(client, ops, kept, line_items=lines(kept, 1), restock=False)
    assert await count_events(db, "order.restock", kept["id"]) == 0


async def test_shipping_address_shipping_lines_taxes_and_discounts(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str]
) -> None:
    order = await create_order(client, storefront)
    moved = {**ADDRESS, "line1": "2 Side St"}
    problem(
        await edit(client, storefront, order, shipping_lines=[{"title": "Express", "price": 900}]),
        403,
        "edit_field_not_allowed",
    )
    result = (
        await edit(
            client,
            ops,
            order,
            shipping_address=moved,
            shipping_lines=[{"title": "Express", "price": 900}],
            tax_lines=[{"title": "VAT", "amount": 400}],
        )
    ).json()
    assert result["changes"] == []
    assert [c["field"] for c in result["field_changes"]] == [
        "shipping_address",
        "shipping_lines",
        "tax_lines",
    ]
    edited = result["order"]
    assert edited["shipping_address"]["line1"] == "2 Side St"
    assert edited["discounts"] == order["discounts"]  # not sent: kept
    assert edited["total"] == TOTAL + 400 + 100
    assert edited["outstanding"] == 500
    problem(
        await edit(client, ops, order, discounts=[{"code": "BIG", "amount": 10_000_000}]),
        422,
        "invalid_order",
    )


async def test_customer_policy_window_and_fulfilment(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str]
) -> None:
    late = await create_order(client, storefront, processed_at=ago(minutes=61))
    assert late["customer_editable_until"] is None
    refused = problem(
        await edit(client, storefront, late, line_items=lines(late, 1)), 409, "edit_window_expired"
    )
    assert "within 1 hour of being placed" in refused["detail"]
    preview = await client.post(
        f"/v1/orders/{late['id']}/edits/calculate",
        json={"line_items": lines(late, 1)},
        headers=storefront,
    )
    assert preview.status_code == 200, preview.text
    assert (preview.json()["editable"], preview.json()["code"]) == (False, "edit_window_expired")
    assert (await edit(client, ops, late, line_items=lines(late, 1))).status_code == 201

    picking = await create_order(client, storefront)
    await fulfil(client, ops, picking, 1, status="pending")
    problem(
        await edit(client, storefront, picking, line_items=lines(picking, 2, 2)),
        409,
        "order_in_fulfillment",
    )
    got = (await client.get(f"/v1/orders/{picking['id']}", headers=storefront)).json()
    assert got["customer_editable_until"] is None
    assert (await edit(client, ops, picking, line_items=lines(picking, 1))).status_code == 201


async def test_merchant_policy_floors_empties_and_closed_orders(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str]
) -> None:
    order = await create_order(client, storefront)
    await fulfil(client, ops, order, 1, status="shipped")
    refused = problem(
        await edit(client, ops, order, line_items=lines(order, 0)), 409, "line_item_not_editable"
    )
    assert refused["lines"] == [
        {"line_item_id": order["line_items"][0]["id"], "minimum_quantity": 1}
    ]
    # the unshipped tee and the mug go: everything left has shipped
    done = (await edit(client, ops, order, line_items=lines(order, 1, 0))).json()["order"]
    assert done["fulfillment_status"] == "fulfilled"
    assert [li["quantity"] for li in done["line_items"]] == [1, 0]
    assert done["outstanding"] == 0

    refunded = await create_order(client, storefront)
    response = await client.post(
        f"/v1/orders/{refunded['id']}/refunds",
        json={"line_items": [{"line_item_id": refunded["line_items"][0]["id"], "quantity": 1}]},
        headers=ops,
    )
    assert response.status_code == 201, response.text
    problem(
        await edit(client, ops, refunded, line_items=lines(refunded, 0)),
        409,
        "line_item_not_editable",
    )
    # the tee not refunded may go; the refunded one stays on the order
    kept = await edit(client, ops, refunded, line_items=lines(refunded, 1))
    assert kept.status_code == 201, kept.text
    assert kept.json()["order"]["line_items"][0]["refund_pending_quantity"] == 1

    empty = await create_order(client, storefront)
    problem(
        await edit(client, ops, empty, line_items=lines(empty, 0, 0)), 422, "edit_empties_order"
    )
    await client.post(f"/v1/orders/{empty['id']}/cancel", headers=ops)
    for headers in (ops, storefront):
        problem(
            await edit(client, headers, empty, line_items=lines(empty, 1)), 409, "order_not_open"
        )


async def test_bad_input_is_a_422_and_unknown_things_are_named(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str]
) -> None:
    order = await create_order(client, storefront)
    first = order["line_items"][0]["id"]
    for body in (
        {"line_items": [{"line_item_id": first, "quantity": -1}]},
        {"line_items": [{"line_item_id": first, "quantity": 1.0}]},
        {"line_items": [{"line_item_id": first, "quantity": 10_001}]},
        {"line_items": [{"line_item_id": first, "quantity": 1}] * 2},
        {"add_line_items": [{"sku": "X", "title": "X", "quantity": 0, "unit_price": 1}]},
        {"add_line_items": [{"sku": "X", "title": "X", "quantity": 1, "unit_price": 1.5}]},
        {"reason": "bored"},
        {"surprise": True},
    ):
        problem(await edit(client, ops, order, **body), 422, "validation_error")
    problem(
        await edit(client, ops, order, line_items=[{"line_item_id": "li_nope", "quantity": 1}]),
        422,
        "line_item_not_found",
    )
    problem(await edit(client, ops, order, line_items=lines(order, 2)), 422, "edit_empty")
    problem(await edit(client, ops, order), 422, "edit_empty")
    missing = await client.post("/v1/orders/ord_nope/edits", json={"line_items": []}, headers=ops)
    problem(missing, 404, "order_not_found")
    problem(await client.get("/v1/orders/ord_nope/edits", headers=ops), 404, "order_not_found")
    after = (await client.get(f"/v1/orders/{order['id']}", headers=ops)).json()
    assert after["version"] == order["version"]


async def test_calculate_writes_nothing(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str], db: Any
) -> None:
    order = await create_order(client, storefront)
    response = await client.post(
        f"/v1/orders/{order['id']}/edits/calculate",
        json={
            "line_items": lines(order, 1),
            "add_line_items": [{"sku": "CAP", "title": "Cap", "quantity": 2, "unit_price": 300}],
        },
        headers=storefront,
    )
    assert response.status_code == 200, response.text
    preview = response.json()
    assert (preview["editable"], preview["code"], preview["id"]) == (True, None, None)
    assert preview["total_after"] == TOTAL - 1999 + 600
    assert preview["refund"] == {"amount": 1399, "currency": "USD", "method": "original_payment"}
    assert preview["outstanding_after"] == 0
    assert preview["order"]["total"] == TOTAL - 1999 + 600
    assert [li["quantity"] for li in preview["order"]["line_items"]] == [1, 1, 2]
    after = (await client.get(f"/v1/orders/{order['id']}", headers=ops)).json()
    assert after == order
    assert await count_events(db, "order.edited") == 0
    assert (await client.get(f"/v1/orders/{order['id']}/edits", headers=ops)).json() == {
        "data": [],
        "next_cursor": None,
    }


async def test_if_match_and_idempotent_replay(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str], db: Any
) -> None:
    order = await create_order(client, storefront)
    url = f"/v1/orders/{order['id']}/edits"
    body = {"line_items": lines(order, 1)}
    problem(
        await client.post(url, json=body, headers={**storefront, "If-Match": '"9"'}),
        412,
        "precondition_failed",
    )
    headers = {**storefront, "If-Match": '"1"', "Idempotency-Key": "edit-1"}
    first = await client.post(url, json=body, headers=headers)
    again = await client.post(url, json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    problem(
        await client.post(url, json={"line_items": lines(order, 2)}, headers=headers),
        422,
        "idempotency_key_reused",
    )
    assert await count_events(db, "order.edited", order["id"]) == 1
    assert len(await refunds_of(client, ops, order["id"])) == 1


async def test_an_edit_is_no_more_statements_than_a_cancellation(
    client: httpx.AsyncClient, storefront: dict[str, str], admin: dict[str, str], app: Any
) -> None:
    order = await create_order(client, storefront)
    async with counting_statements(app) as statements:
        response = await client.post(
            f"/v1/orders/{order['id']}/edits",
            json={
                "line_items": lines(order, 1),
                "add_line_items": [{"sku": "CAP", "title": "Cap", "quantity": 1, "unit_price": 1}],
            },
            headers={**admin, "Idempotency-Key": "bounded"},
        )
    assert response.status_code == 201, response.text
    assert response.json()["refund"] is not None
    # the cancellation's bound (tests/cancellations): lock and key, Idempotency-Key, order,
    # lines, parcels, the change (order, lines, the new line), then one statement for the
    # edit, the refund, the timeline, the events and the Idempotency-Key record
    assert len(statements) <= 14, "\n".join(statements)


async def test_policies_show_the_edit_window(
    client: httpx.AsyncClient, storefront: dict[str, str]
) -> None:
    policies = (await client.get("/v1/policies", headers=storefront)).json()
    assert policies["edit"]["customer_window_seconds"] == 3600
    assert "shipping_lines" not in policies["edit"]["customer_changes"]
    assert "within 1 hour" in policies["edit"]["summary"]


async def test_a_failed_edit_refund_moves_the_financial_status_with_outstanding(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str]
) -> None:
    order = await create_order(client, storefront)
    lowered = await edit(client, storefront, order, line_items=lines(order, 1))
    refund = lowered.json()["refund"]
    raised = await edit(client, ops, order, line_items=lines(order, 2), reason="other")
    assert raised.status_code == 201, raised.text
    assert raised.json()["order"]["financial_status"] == "partially_paid"
    settled = await client.post(
        f"/v1/refunds/{refund['id']}/settle",
        json={"status": "failed", "failure_reason": "card closed"},
        headers=ops,
    )
    assert settled.status_code == 200, settled.text
    after = (await client.get(f"/v1/orders/{order['id']}", headers=ops)).json()
    # The edit refund never went out, so what was paid covers the total again.
    assert (after["outstanding"], after["financial_status"]) == (0, "paid")
