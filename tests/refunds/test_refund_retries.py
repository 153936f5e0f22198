"""Retrying a failed refund through the HTTP API: what carries over (amount, units, reason,
return, edit), what does not (restock, the refund window), the refusals, and races."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx

from tests.conftest import Clock
from tests.factories import create_order, problem
from tests.helpers import count_events
from tests.refunds.test_refunds import lines, paid_order
from tests.returns.helpers import act, approved, shipped_order


async def refund(
    client: httpx.AsyncClient, headers: dict[str, str], order: dict[str, Any], **body: Any
) -> dict[str, Any]:
    response = await client.post(f"/v1/orders/{order['id']}/refunds", json=body, headers=headers)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def fail(client: httpx.AsyncClient, ops: dict[str, str], refund_id: str) -> dict[str, Any]:
    response = await client.post(
        f"/v1/refunds/{refund_id}/settle",
        json={"status": "failed", "failure_reason": "card closed"},
        headers=ops,
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def retry(
    client: httpx.AsyncClient, headers: dict[str, str], refund_id: str, **kwargs: Any
) -> httpx.Response:
    return await client.post(f"/v1/refunds/{refund_id}/retry", headers=headers, **kwargs)


async def get(client: httpx.AsyncClient, headers: dict[str, str], path: str) -> Any:
    response = await client.get(path, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_failed_refund_is_made_again_to_store_credit(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str], db: Any
) -> None:
    order = await paid_order(client, storefront)
    failed = await refund(
        client, ops, order,
        line_items=lines(order, 2, restock=True), shipping={"full": True}, amount=150,
        reason="damaged", note="torn", notify_customer=False,
    )  # fmt: skip
    assert failed["amount"] == 2000 + 500 + 150
    await fail(client, ops, failed["id"])

    headers = {**ops, "Idempotency-Key": "retry-1"}
    body = {"method": "store_credit", "note": "card closed: store credit instead"}
    response = await retry(client, headers, failed["id"], json=body)
    assert response.status_code == 201, response.text
    made = response.json()
    assert made["id"] != failed["id"]
    assert made["retry_of"] == failed["id"]
    assert made["status"] == "pending"
    for key in ("amount", "shipping_amount", "goodwill_amount", "reason", "return_id"):
        assert made[key] == failed[key], key
    assert made["method"] == "store_credit"
    assert made["expected_processing_time"] == "immediately"
    assert made["note"] == body["note"]
    assert made["notify_customer"] is False  # as the failed refund
    # the same units and amounts; the failed refund's restock stays, none is added
    assert [(li["line_item_id"], li["quantity"], li["amount"]) for li in made["line_items"]] == [
        (li["line_item_id"], li["quantity"], li["amount"]) for li in failed["line_items"]
    ]
    assert [(li["restock"], li["restocked_quantity"]) for li in made["line_items"]] == [(False, 0)]
    assert response.headers["location"] == f"/v1/refunds/{made['id']}"

    after = await get(client, ops, f"/v1/orders/{order['id']}")
    assert response.headers["etag"] == f'"{after["version"]}"'
    assert after["total_refund_pending"] == made["amount"]
    preview = await client.post(
        f"/v1/orders/{order['id']}/refunds/calculate", json={"shipping": {"amount": 1}}, headers=ops
    )
    assert preview.json()["shipping"]["code"] == "refund_exceeds_refundable"  # held again
    tee = after["line_items"][0]
    assert (tee["refund_pending_quantity"], tee["restocked_quantity"]) == (2, 2)
    assert await count_events(db, "order.restock", order["id"]) == 1

    replay = await retry(client, headers, failed["id"], json=body)
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json() == made
    reused = await retry(client, headers, failed["id"], json={"method": "gift_card"})
    problem(reused, 422, "idempotency_key_reused")

    assert await count_events(db, "refund.created", order["id"]) == 2
    events = await get(
        client, ops, f"/v1/events?type=refund.created&order_id={order['id']}&limit=1"
    )
    assert events["data"][0]["data"]["refund"] == made
    timeline = (await get(client, ops, f"/v1/orders/{order['id']}/events"))["data"]
    entry = next(e for e in timeline if e["data"].get("refund_id") == made["id"])
    assert entry["action"] == "refund.created"
    assert entry["data"]["retry_of"] == failed["id"]
    assert entry["message"] == (
        f"Refund of 26.50 USD to store credit requested in place of failed refund "
        f"{failed['id']}: card closed: store credit instead"
    )
    assert (await get(client, ops, f"/v1/refunds/{made['id']}")) == made
    assert (await get(client, ops, f"/v1/refunds/{failed['id']}"))["retry_of"] is None

    settled = await client.post(
        f"/v1/refunds/{made['id']}/settle", json={"status": "succeeded"}, headers=ops
    )
    assert settled.status_code == 200, settled.text
    done = await get(client, ops, f"/v1/orders/{order['id']}")
    assert done["total_refunded"] == made["amount"]
    assert done["line_items"][0]["refunded_quantity"] == 2
    assert done["financial_status"] == "partially_refunded"


async def test_a_failed_return_refund_is_retried_and_the_return_follows(
    client: httpx.AsyncClient,
    storefront: dict[str, str],
    ops: dict[str, str],
    admin: dict[str, str],
    clock: Clock,
) -> None:
    order = await shipped_order(client, storefront, ops)
    found = await approved(client, storefront, ops, order, 1)
    received = (await act(client, ops, found["id"], "receive")).json()
    failed = received["refund"]
    assert (failed["amount"], failed["return_id"]) == (2000, found["id"])
    await fail(client, ops, failed["id"])

    # past the refund window: a new refund would be refused, the retry is not
    clock.advance(timedelta(days=40))
    tee = order["line_items"][0]["id"]
    kept = {"line_items": [{"line_item_id": tee, "quantity": 1}]}
    response = await client.post(f"/v1/orders/{order['id']}/refunds", json=kept, headers=ops)
    problem(response, 409, "refund_window_expired")

    response = await retry(client, admin, failed["id"])  # no body, no content type
    assert response.status_code == 201, response.text
    made = response.json()
    assert (made["return_id"], made["retry_of"]) == (found["id"], failed["id"])
    assert (made["amount"], made["reason"], made["method"]) == (
        failed["amount"], failed["reason"], failed["method"],
    )  # fmt: skip
    assert made["note"] == failed["note"] == f"Return {found['id']}."

    the_return = await get(client, ops, f"/v1/returns/{found['id']}")
    assert the_return["refund_id"] == made["id"]
    assert the_return["refund_amount"] == 2000
    assert the_return["line_items"][0]["refunded_quantity"] == 1
    assert the_return["updated_at"] > received["updated_at"]
    line = (await get(client, ops, f"/v1/orders/{order['id']}"))["line_items"][0]
    assert (line["returned_quantity"], line["refund_pending_quantity"]) == (1, 1)

    # the returned unit is not refunded a third time; the kept one still can be
    both = {"line_items": [{"line_item_id": tee, "quantity": 2}], "override_policy": True,
            "note": "late"}  # fmt: skip
    response = await client.post(f"/v1/orders/{order['id']}/refunds", json=both, headers=ops)
    body = problem(response, 409, "refund_exceeds_refundable")
    assert body["lines"] == [{"line_item_id": tee, "code": "refund_exceeds_refundable"}]
    response = await client.post(
        f"/v1/orders/{order['id']}/refunds", json={**both, **kept}, headers=ops
    )
    assert response.status_code == 201, response.text


async def test_a_failed_edit_refund_is_retried_and_outstanding_is_back_to_zero(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str]
) -> None:
    order = await create_order(client, storefront)
    tee = order["line_items"][0]["id"]
    response = await client.post(
        f"/v1/orders/{order['id']}/edits",
        json={"line_items": [{"line_item_id": tee, "quantity": 1}]},
        headers=storefront,
    )
    failed = response.json()["refund"]
    assert (failed["reason"], failed["amount"]) == ("order_edited", 1999)
    await fail(client, ops, failed["id"])
    owing = await get(client, ops, f"/v1/orders/{order['id']}")
    assert (owing["outstanding"], owing["total_edit_refunds"]) == (-1999, 0)

    response = await retry(client, ops, failed["id"], json={"method": "store_credit"})
    assert response.status_code == 201, response.text
    made = response.json()
    assert (made["reason"], made["amount"], made["line_items"]) == ("order_edited", 1999, [])
    after = await get(client, ops, f"/v1/orders/{order['id']}")
    assert after["outstanding"] == 0
    assert after["total_edit_refunds"] == 1999
    assert after["total_refund_pending"] == 1999
    assert after["financial_status"] == "paid"
    events = await get(client, ops, f"/v1/events?order_id={order['id']}")
    (created,) = [e for e in events["data"] if e["data"].get("refund", {}).get("id") == made["id"]]
    assert created["data"]["order"] == after, "the event shows the order the retry left"
    await client.post(f"/v1/refunds/{made['id']}/settle", json={"status": "succeeded"}, headers=ops)
    done = await get(client, ops, f"/v1/orders/{order['id']}")
    assert (done["outstanding"], done["total_refunded"]) == (0, 1999)
    assert done["financial_status"] == "partially_refunded"
    # the edit still shows the refund it made
    edits = await get(client, ops, f"/v1/orders/{order['id']}/edits")
    assert edits["data"][0]["refund"]["id"] == failed["id"]


async def test_an_edit_refund_is_retried_for_no_more_than_the_edits_left_owed(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str]
) -> None:
    order = await create_order(client, storefront)
    tee = order["line_items"][0]["id"]
    url = f"/v1/orders/{order['id']}/edits"
    body = {"line_items": [{"line_item_id": tee, "quantity": 1}]}
    failed = (await client.post(url, json=body, headers=ops)).json()["refund"]
    await fail(client, ops, failed["id"])
    # the customer then adds a cap, paid for by what the shop owed them
    cap = {"sku": "CAP", "title": "Cap", "quantity": 1, "unit_price": 850}
    edited = await client.post(url, json={"add_line_items": [cap]}, headers=ops)
    assert edited.json()["order"]["outstanding"] == -1149, edited.text
    before = await get(client, ops, f"/v1/orders/{order['id']}")
    response = await retry(client, ops, failed["id"])
    body = problem(response, 409, "refund_exceeds_refundable")
    assert body["refundable_amount"] == 1149
    assert "11.49 USD" in body["detail"]
    assert (await get(client, ops, f"/v1/orders/{order['id']}")) == before


async def test_a_cancellation_refund_is_retried_on_the_cancelled_order_as_often_as_it_fails(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str]
) -> None:
    order = await create_order(client, storefront)
    cancelled = await client.post(f"/v1/orders/{order['id']}/cancel", headers=storefront)
    assert cancelled.status_code == 200, cancelled.text
    (failed,) = (await get(client, ops, f"/v1/orders/{order['id']}/refunds"))["data"]
    assert failed["reason"] == "cancellation"
    await fail(client, ops, failed["id"])

    first = await retry(client, ops, failed["id"], json={"method": "store_credit"})
    assert first.status_code == 201, first.text
    made = first.json()
    assert (made["reason"], made["amount"]) == ("cancellation", order["total"])
    after = await get(client, ops, f"/v1/orders/{order['id']}")
    assert after["status"] == "cancelled"
    assert after["total_refund_pending"] == order["total"]
    assert [li["refund_pending_quantity"] for li in after["line_items"]] == [2, 1]
    assert [li["restocked_quantity"] for li in after["line_items"]] == [2, 1]

    # the retry failed too: it is retried in turn, the first failure is not again
    await fail(client, ops, made["id"])
    body = problem(await retry(client, ops, failed["id"]), 409, "refund_already_retried")
    assert body["retry_id"] == made["id"]
    second = await retry(client, ops, made["id"], json={"method": "gift_card"})
    assert second.status_code == 201, second.text
    assert (second.json()["retry_of"], second.json()["reason"]) == (made["id"], "cancellation")
    refunds = (await get(client, ops, f"/v1/orders/{order['id']}/refunds"))["data"]
    assert [(r["status"], r["retry_of"]) for r in refunds] == [
        ("pending", made["id"]),
        ("failed", failed["id"]),
        ("failed", None),
    ]
    assert (await get(client, ops, f"/v1/orders/{order['id']}"))["total_refund_pending"] == (
        order["total"]
    )


async def test_refusals(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str]
) -> None:
    order = await paid_order(client, storefront)
    pending = await refund(client, ops, order, line_items=lines(order, 1))
    body = problem(await retry(client, ops, pending["id"]), 409, "refund_not_failed")
    assert body["refund_status"] == "pending"
    await client.post(
        f"/v1/refunds/{pending['id']}/settle", json={"status": "succeeded"}, headers=ops
    )
    problem(await retry(client, ops, pending["id"]), 409, "refund_not_failed")
    problem(await retry(client, ops, "rf_nope"), 404, "refund_not_found")

    failed = await refund(client, ops, order, line_items=lines(order, 4))
    await fail(client, ops, failed["id"])
    problem(await retry(client, storefront, failed["id"]), 403, "forbidden")
    response = await retry(client, ops, failed["id"], json={"method": "cash"})
    problem(response, 422, "validation_error")
    response = await retry(client, ops, failed["id"], json={"restock": True})
    problem(response, 422, "validation_error")
    stale = await retry(client, {**ops, "If-Match": '"1"'}, failed["id"])
    problem(stale, 412, "precondition_failed")

    # another refund took one of its units meanwhile
    await refund(client, ops, order, line_items=lines(order, 1))
    before = await get(client, ops, f"/v1/orders/{order['id']}")
    body = problem(await retry(client, ops, failed["id"]), 409, "refund_exceeds_refundable")
    tee = order["line_items"][0]["id"]
    assert body["lines"] == [{"line_item_id": tee, "code": "refund_exceeds_refundable"}]
    assert body["codes"] == ["refund_exceeds_refundable"]
    assert (await get(client, ops, f"/v1/orders/{order['id']}")) == before

    # another refund took the money meanwhile
    goodwill = await refund(client, ops, order, amount=2000, reason="late_delivery")
    await fail(client, ops, goodwill["id"])
    await refund(client, ops, order, amount=before["total"] - 2000 - 1999)
    body = problem(await retry(client, ops, goodwill["id"]), 409, "refund_exceeds_refundable")
    assert body["refundable_amount"] == 1999
    assert body["lines"] == []

    # units put in an open return are not refundable meanwhile either
    shipped = await shipped_order(client, storefront, ops)
    failed = await refund(client, ops, shipped, line_items=lines(shipped, 2))
    await fail(client, ops, failed["id"])
    await approved(client, storefront, ops, shipped, 1)
    problem(await retry(client, ops, failed["id"]), 409, "refund_exceeds_refundable")


async def test_eight_concurrent_retries_make_one_refund(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str], db: Any
) -> None:
    order = await paid_order(client, storefront)
    failed = await refund(client, ops, order, line_items=lines(order, 5), shipping={"full": True})
    await fail(client, ops, failed["id"])
    responses = await asyncio.gather(*(retry(client, ops, failed["id"]) for _ in range(8)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * 7, statuses
    made = next(r.json() for r in responses if r.status_code == 201)
    for response in responses:
        if response.status_code == 409:
            assert problem(response, 409, "refund_already_retried")["retry_id"] == made["id"]
    after = await get(client, ops, f"/v1/orders/{order['id']}")
    assert after["total_refund_pending"] == failed["amount"] == 5500
    assert after["line_items"][0]["refund_pending_quantity"] == 5
    refunds = (await get(client, ops, f"/v1/orders/{order['id']}/refunds"))["data"]
    assert [r["id"] for r in refunds] == [made["id"], failed["id"]]
    assert await count_events(db, "refund.created", order["id"]) == 2


async def test_retries_racing_plain_refunds_of_the_same_units_refund_them_once(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str]
) -> None:
    order = await paid_order(client, storefront)
    failed = await refund(client, ops, order, line_items=lines(order, 5))
    await fail(client, ops, failed["id"])
    url = f"/v1/orders/{order['id']}/refunds"
    plain = {"line_items": lines(order, 5), "method": "store_credit"}
    responses = await asyncio.gather(
        *(retry(client, ops, failed["id"]) for _ in range(4)),
        *(client.post(url, json=plain, headers=ops) for _ in range(4)),
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * 7, statuses
    codes = {r.json()["code"] for r in responses if r.status_code == 409}
    assert codes <= {"refund_exceeds_refundable", "refund_already_retried"}
    after = await get(client, ops, f"/v1/orders/{order['id']}")
    assert after["total_refund_pending"] == 5000
    assert after["line_items"][0]["refund_pending_quantity"] == 5
    refunds = (await get(client, ops, f"/v1/orders/{order['id']}/refunds"))["data"]
    assert [r["status"] for r in refunds] == ["pending", "failed"]
