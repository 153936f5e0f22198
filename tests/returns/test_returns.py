"""Returns through the HTTP API: the customer policy, the lifecycle, the money on receipt,
exchanges and claims, events and retries."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from tests.conftest import Clock
from tests.factories import create_order, problem
from tests.helpers import count_events, fulfil
from tests.returns.helpers import (
    TEE,
    act,
    approved,
    request_return,
    requested,
    shipped_order,
    units,
)


async def test_the_storefront_flow_from_request_to_refund(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str], db: Any
) -> None:
    order = await shipped_order(client, storefront, ops)
    preview = await client.post(
        f"/v1/orders/{order['id']}/returns/calculate", json={}, headers=storefront
    )
    assert preview.status_code == 200, preview.text
    lines = {li["sku"]: li for li in preview.json()["line_items"]}
    assert lines["TEE-M"]["returnable_quantity"] == 2
    assert lines["MUG"]["code"] == "line_item_not_returnable"

    found = await requested(client, storefront, order, 1, customer_note="too small")
    assert found["status"] == "requested"
    assert found["expected_refund"] == 2000
    assert found["order"]["return_status"] == "requested"
    assert found["order"]["line_items"][0]["return_requested_quantity"] == 1

    label = {"carrier": "UPS", "tracking_number": "1ZRET", "label_url": "https://x.test/l.pdf"}
    response = await act(
        client, ops, found["id"], "approve", return_shipping=label,
        return_by=found["created_at"],
    )  # fmt: skip
    assert response.status_code == 200, response.text
    assert response.json()["return_shipping"]["label_url"] == label["label_url"]
    assert response.json()["order"]["return_status"] == "in_progress"

    response = await act(
        client, ops, found["id"], "receive",
        line_items=[{"line_item_id": order["line_items"][0]["id"], "quantity": 1,
                     "disposition": "restock"}],
        deductions=[{"reason": "restocking_fee", "amount": 300}],
    )  # fmt: skip
    assert response.status_code == 200, response.text
    received = response.json()
    assert received["status"] == "received"
    assert received["refund"]["amount"] == 1700
    assert received["refund"]["return_id"] == found["id"]
    assert received["refund_id"] == received["refund"]["id"]
    line = received["order"]["line_items"][0]
    assert (line["returned_quantity"], line["return_requested_quantity"]) == (1, 0)
    assert line["restocked_quantity"] == 1
    assert received["order"]["return_status"] == "partially_returned"
    assert received["order"]["total_refund_pending"] == 1700

    response = await act(client, ops, found["id"], "close")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "closed"
    for topic in ("requested", "approved", "received", "closed"):
        assert await count_events(db, f"return.{topic}", order["id"]) == 1
    assert await count_events(db, "order.restock", order["id"]) == 1

    # the returned unit is not refunded again by a plain refund; the kept one still can be
    tee = order["line_items"][0]["id"]
    body = {"line_items": [{"line_item_id": tee, "quantity": 2}], "reason": "damaged"}
    response = await client.post(f"/v1/orders/{order['id']}/refunds", json=body, headers=ops)
    problem(response, 409, "refund_exceeds_refundable")
    body["line_items"][0]["quantity"] = 1
    response = await client.post(f"/v1/orders/{order['id']}/refunds", json=body, headers=ops)
    assert response.status_code == 201, response.text

    # and nothing is left to return
    response = await request_return(client, storefront, order, line_items=units(order, 1))
    problem(response, 409, "quantity_exceeds_returnable")


async def test_the_customer_policy_refuses_and_ops_may_override(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str], clock: Clock
) -> None:
    order = await shipped_order(client, storefront, ops)
    response = await request_return(client, storefront, order, line_items=units(order, 0, 1))
    problem(response, 409, "line_item_not_returnable")
    response = await request_return(client, storefront, order, line_items=units(order, 3))
    problem(response, 409, "quantity_exceeds_returnable")
    clock.advance(timedelta(days=31))
    response = await request_return(client, storefront, order, line_items=units(order, 1))
    body = problem(response, 409, "return_window_expired")
    assert body["lines"][0]["returnable_quantity"] == 0
    override = {"line_items": units(order, 1, 1), "override_policy": True}
    response = await request_return(client, storefront, order, **override)
    problem(response, 403, "override_not_allowed")
    response = await request_return(client, ops, order, **override)
    problem(response, 422, "override_requires_note")
    response = await request_return(client, ops, order, **override, note="loyal customer")
    assert response.status_code == 201, response.text
    events = await client.get(f"/v1/orders/{order['id']}/events", headers=ops)
    assert any("overridden" in e["message"] for e in events.json()["data"])


async def test_only_shipped_units_may_be_returned_and_shipping_starts_the_window(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str], clock: Clock
) -> None:
    order = await shipped_order(client, storefront, ops, delivered=False)
    assert (await requested(client, storefront, order, 1))["status"] == "requested"
    clock.advance(timedelta(days=31))
    response = await request_return(client, storefront, order, line_items=units(order, 1))
    problem(response, 409, "return_window_expired")


async def test_lifecycle_refusals(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str]
) -> None:
    order = await shipped_order(client, storefront, ops)
    found = await requested(client, storefront, order, 1)
    problem(await act(client, ops, found["id"], "receive"), 409, "return_not_approved")
    problem(await act(client, ops, found["id"], "close"), 409, "return_not_closable")
    problem(await act(client, storefront, found["id"], "approve"), 403, "forbidden")
    response = await act(client, ops, found["id"], "decline", decline_reason="no_proof")
    assert response.json()["status"] == "declined"
    assert response.json()["order"]["line_items"][0]["return_requested_quantity"] == 0
    problem(await act(client, ops, found["id"], "approve"), 409, "return_not_requested")
    problem(await act(client, storefront, found["id"], "cancel"), 409, "return_not_cancellable")

    again = await requested(client, storefront, order, 2)
    response = await act(client, storefront, again["id"], "cancel", note="changed my mind")
    assert response.status_code == 200, response.text
    assert response.json()["order"]["return_status"] == "none"
    response = await client.get("/v1/returns/ret_nope", headers=ops)
    problem(response, 404, "return_not_found")
    response = await act(client, ops, again["id"], "approve", return_by="2999-01-01T00:00:00Z")
    problem(response, 409, "return_not_requested")
    third = await requested(client, storefront, order, 1)
    response = await act(client, ops, third["id"], "approve", return_by="2999-01-01T00:00:00Z")
    problem(response, 422, "invalid_return")


async def test_receive_with_refund_false_and_missing_units(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str]
) -> None:
    order = await shipped_order(client, storefront, ops)
    found = await approved(client, storefront, ops, order, 2)
    tee = order["line_items"][0]["id"]
    response = await act(
        client, ops, found["id"], "receive",
        line_items=[{"line_item_id": tee, "quantity": 2, "disposition": "missing"}],
    )  # fmt: skip
    assert response.status_code == 200, response.text
    assert response.json()["refund"] is None
    assert response.json()["order"]["line_items"][0]["returned_quantity"] == 0
    # the missing units may be returned again
    second = await approved(client, storefront, ops, order, 1)
    response = await act(client, ops, second["id"], "receive", refund=False)
    assert response.status_code == 200, response.text
    assert response.json()["refund"] is None
    assert response.json()["order"]["total_refund_pending"] == 0
    response = await act(
        client, ops, second["id"], "receive",
        deductions=[{"reason": "return_shipping", "amount": 1}],
    )  # fmt: skip
    problem(response, 409, "return_not_approved")
    third = await approved(client, storefront, ops, order, 1)
    response = await act(
        client, ops, third["id"], "receive",
        deductions=[{"reason": "return_shipping", "amount": 2001}],
    )  # fmt: skip
    problem(response, 422, "deduction_exceeds_refundable")
    response = await act(
        client, ops, third["id"], "receive",
        line_items=[{"line_item_id": tee, "quantity": 2, "disposition": "restock"}],
    )  # fmt: skip
    problem(response, 422, "line_item_not_in_return")


async def test_a_claim_closes_without_receipt_and_refunds(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str]
) -> None:
    order = await shipped_order(client, storefront, ops, delivered=False)
    found = await approved(
        client, storefront, ops, order, 2, approve={"items_required": False}, resolution="refund"
    )
    response = await act(client, ops, found["id"], "close", note="parcel lost")
    assert response.status_code == 200, response.text
    closed = response.json()
    assert closed["status"] == "closed"
    assert closed["refund"]["amount"] == 4000
    assert closed["order"]["line_items"][0]["restocked_quantity"] == 0
    assert closed["order"]["return_status"] == "none"


async def test_an_exchange_creates_a_paid_order_linked_both_ways(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str]
) -> None:
    order = await shipped_order(client, storefront, ops)
    bigger = {"sku": "TEE-L", "title": "Tee L", "quantity": 1, "unit_price": 2500}
    found = await approved(
        client, storefront, ops, order, 1, resolution="exchange", exchange_line_items=[bigger]
    )
    response = await act(client, ops, found["id"], "receive")
    assert response.status_code == 200, response.text
    received = response.json()
    assert received["refund"] is None
    new = await client.get(f"/v1/orders/{received['exchange_order_id']}", headers=ops)
    new_order = new.json()
    assert new_order["exchanged_from_id"] == order["id"]
    assert new_order["total_paid"] == 2000
    assert new_order["outstanding"] == 500
    assert received["order"]["total_exchange_credit"] == 2000
    assert received["order"]["line_items"][0]["exchanged_quantity"] == 1

    # a cheaper replacement: the difference is refunded on the original
    smaller = {"sku": "SOCKS", "title": "Socks", "quantity": 1, "unit_price": 500}
    second = await approved(
        client, storefront, ops, order, 1, resolution="exchange", exchange_line_items=[smaller],
        approve={"ship_replacement_first": True},
    )  # fmt: skip
    assert second["exchange_order_id"] is not None
    assert second["refund"]["amount"] == 1500
    assert second["refund"]["return_id"] == second["id"]
    problem(await act(client, storefront, second["id"], "cancel"), 409, "return_not_cancellable")
    response = await act(client, ops, second["id"], "receive")
    assert response.status_code == 200, response.text
    assert response.json()["refund"] is None
    after = response.json()["order"]
    assert after["total_exchange_credit"] == 2500
    assert after["total_refund_pending"] == 1500
    assert after["return_status"] == "partially_returned"
    body = {"amount": 1001, "reason": "other"}
    response = await client.post(f"/v1/orders/{order['id']}/refunds", json=body, headers=ops)
    problem(response, 409, "refund_exceeds_refundable")  # the mug is all that was left: 10.00


async def test_exchange_needs_its_items(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str]
) -> None:
    order = await shipped_order(client, storefront, ops)
    response = await request_return(
        client, storefront, order, line_items=units(order, 1), resolution="exchange"
    )
    problem(response, 422, "invalid_return")


async def test_lists_filters_and_idempotent_requests(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str]
) -> None:
    order = await shipped_order(client, storefront, ops)
    headers = {**storefront, "Idempotency-Key": "ret-1"}
    body = {"line_items": units(order, 1)}
    first = await request_return(client, headers, order, **body)
    replay = await request_return(client, headers, order, **body)
    assert first.status_code == replay.status_code == 201
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json()["id"] == first.json()["id"]
    await requested(client, storefront, order, 1)
    listed = await client.get(f"/v1/orders/{order['id']}/returns", headers=storefront)
    assert [r["id"] for r in listed.json()["data"]][:1] == [first.json()["id"]]
    page = await client.get("/v1/returns", params={"limit": 1}, headers=ops)
    assert page.json()["next_cursor"]
    rest = await client.get(
        "/v1/returns", params={"limit": 1, "cursor": page.json()["next_cursor"]}, headers=ops
    )
    assert rest.json()["data"][0]["id"] == first.json()["id"]
    problem(
        await client.get("/v1/returns", params={"cursor": "forged"}, headers=ops),
        400, "invalid_cursor",
    )  # fmt: skip
    status = await client.get("/v1/returns", params={"status": "approved"}, headers=ops)
    assert status.json()["data"] == []
    one = await client.get(f"/v1/returns/{first.json()['id']}", headers=storefront)
    assert one.json()["order_number"] == order["number"]


async def test_auto_approve(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str], app: Any, db: Any
) -> None:
    app.state.services.settings.return_auto_approve = True
    order = await shipped_order(client, storefront, ops)
    found = await requested(client, storefront, order, 1)
    assert found["status"] == "approved"
    assert found["order"]["return_status"] == "in_progress"
    assert await count_events(db, "return.approved", order["id"]) == 1


async def test_the_return_policy_is_published(
    client: httpx.AsyncClient, storefront: dict[str, str]
) -> None:
    response = await client.get("/v1/policies", headers=storefront)
    returns = response.json()["returns"]
    assert returns["window_days"] == 30
    assert returns["auto_approve"] is False
    assert "exchange" in returns["resolutions"]
    assert "30 days" in returns["summary"]


async def test_orders_filter_by_return_status(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str]
) -> None:
    with_return = await shipped_order(client, storefront, ops)
    without = await shipped_order(client, storefront, ops)
    await requested(client, storefront, with_return, 1)

    async def listed(status: str) -> set[str]:
        response = await client.get(
            "/v1/orders", params={"return_status": status, "limit": 250}, headers=ops
        )
        assert response.status_code == 200, response.text
        return {o["id"] for o in response.json()["data"]}

    assert with_return["id"] in await listed("requested")
    assert without["id"] not in await listed("requested")
    assert without["id"] in await listed("none")
    assert with_return["id"] not in await listed("none")
    bad = await client.get("/v1/orders", params={"return_status": "lost"}, headers=ops)
    problem(bad, 422, "validation_error")


async def test_units_shipped_after_a_return_make_it_partial(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str]
) -> None:
    order = await create_order(client, storefront, line_items=[TEE])
    parcel = await fulfil(client, ops, order, 1)
    tracked = await client.post(
        f"/v1/fulfillments/{parcel['id']}/tracking-events",
        json={"status": "delivered", "occurred_at": parcel["shipped_at"]},
        headers=ops,
    )
    assert tracked.status_code == 201, tracked.text
    found = await approved(client, storefront, ops, order, 1)
    received = await act(client, ops, found["id"], "receive", refund=False)
    assert received.status_code == 200, received.text
    url = f"/v1/orders/{order['id']}"
    assert (await client.get(url, headers=ops)).json()["return_status"] == "returned"

    await fulfil(client, ops, order, 1)  # the other unit ships; it has not come back
    assert (await client.get(url, headers=ops)).json()["return_status"] == "partially_returned"
