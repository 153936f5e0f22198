from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.factories import create_order, order_body, problem


async def test_authorize_capture_in_parts_then_paid(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str]
) -> None:
    order = await create_order(client, storefront, payment=None)
    url = f"/v1/orders/{order['id']}/transactions"
    auth = await client.post(url, json={"kind": "authorization", "gateway": "stripe"}, headers=ops)
    assert auth.status_code == 201, auth.text
    assert auth.json()["transaction"]["amount"] == order["total"]
    assert auth.json()["order"]["financial_status"] == "authorized"

    part = await client.post(url, json={"kind": "capture", "amount": 1000, "fee": 59}, headers=ops)
    assert part.json()["order"]["financial_status"] == "partially_paid"
    assert part.json()["order"]["total_paid"] == 1000
    rest = await client.post(url, json={"kind": "capture"}, headers=ops)
    result = rest.json()["order"]
    assert result["financial_status"] == "paid"
    assert result["total_paid"] == order["total"]
    assert result["total_fees"] == 59
    assert result["net_paid"] == order["total"] - 59
    problem(
        await client.post(url, json={"kind": "capture"}, headers=ops),
        409,
        "transaction_not_allowed",
    )


async def test_over_capture_and_over_sale_are_refused(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str]
) -> None:
    order = await create_order(client, storefront, payment={"status": "authorized"})
    url = f"/v1/orders/{order['id']}/transactions"
    body = problem(
        await client.post(url, json={"kind": "capture", "amount": order["total"] + 1}, headers=ops),
        422,
        "transaction_exceeds_amount",
    )
    assert body["allowed"] == order["total"]
    assert body["detail"] == "A capture of 57.99 USD exceeds the 57.98 USD the order allows."
    pending = await create_order(client, storefront, payment=None)
    problem(
        await client.post(
            f"/v1/orders/{pending['id']}/transactions",
            json={"kind": "sale", "amount": pending["total"] + 1},
            headers=ops,
        ),
        422,
        "transaction_exceeds_amount",
    )
    problem(
        await client.post(
            f"/v1/orders/{pending['id']}/transactions", json={"kind": "capture"}, headers=ops
        ),
        409,
        "transaction_not_allowed",
    )


async def test_failed_transaction_is_recorded_without_moving_money(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str]
) -> None:
    order = await create_order(client, storefront, payment=None)
    response = await client.post(
        f"/v1/orders/{order['id']}/transactions",
        json={"kind": "sale", "status": "failure", "error_message": "card declined"},
        headers=ops,
    )
    assert response.status_code == 201
    assert response.json()["order"]["financial_status"] == "pending"
    assert response.json()["order"]["version"] == 1
    timeline = (await client.get(f"/v1/orders/{order['id']}/events", headers=ops)).json()["data"]
    assert "card declined" in timeline[-1]["message"]


async def test_void_after_capture_is_refused(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str]
) -> None:
    order = await create_order(client, storefront)
    problem(
        await client.post(
            f"/v1/orders/{order['id']}/transactions", json={"kind": "void"}, headers=ops
        ),
        409,
        "transaction_not_allowed",
    )


@pytest.mark.parametrize("amount", [-1, 1.5, "10"])
async def test_amount_must_be_a_non_negative_integer(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str], amount: object
) -> None:
    order = await create_order(client, storefront, payment=None)
    problem(
        await client.post(
            f"/v1/orders/{order['id']}/transactions",
            json={"kind": "sale", "amount": amount},
            headers=ops,
        ),
        422,
        "validation_error",
    )


async def test_concurrent_captures_never_exceed_the_authorisation(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str]
) -> None:
    order = await create_order(client, storefront, payment={"status": "authorized"})
    url = f"/v1/orders/{order['id']}/transactions"
    share = order["total"] // 3 + 1
    responses = await asyncio.gather(
        *(
            client.post(url, json={"kind": "capture", "amount": share}, headers=ops)
            for _ in range(6)
        )
    )
    assert sorted(r.status_code for r in responses) == [201, 201] + [422] * 4
    final = (await client.get(f"/v1/orders/{order['id']}", headers=ops)).json()
    assert final["total_paid"] == 2 * share


def fee_refused(response: httpx.Response, field: str) -> None:
    body = problem(response, 422, "fee_exceeds_amount")
    assert [e["field"] for e in body["errors"]] == [field]


async def test_a_fee_never_exceeds_the_payment_it_was_kept_from(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str]
) -> None:
    """`net_paid` went negative: a fee of 10,000 on a payment of 5,798 was recorded."""
    total = (await create_order(client, storefront, payment=None))["total"]
    for status in ("paid", "authorized", "pending"):
        response = await client.post(
            "/v1/orders",
            json=order_body(payment={"status": status, "fee": total + 1}),
            headers=storefront,
        )
        fee_refused(response, "payment.fee")
    whole = await create_order(client, storefront, payment={"status": "paid", "fee": total})
    assert whole["net_paid"] == 0

    order = await create_order(client, storefront, payment=None)
    url = f"/v1/orders/{order['id']}/transactions"
    for body in (
        {"kind": "sale", "amount": 1000, "fee": 1001},
        {"kind": "sale", "fee": total + 1},  # the amount defaults to what is outstanding
        {"kind": "sale", "status": "failure", "fee": 1},  # nothing was charged
    ):
        fee_refused(await client.post(url, json=body, headers=ops), "fee")
    unchanged = (await client.get(f"/v1/orders/{order['id']}", headers=ops)).json()
    assert (unchanged["version"], unchanged["total_fees"]) == (order["version"], 0)
    sale = await client.post(url, json={"kind": "sale", "amount": 1000, "fee": 1000}, headers=ops)
    assert sale.status_code == 201, sale.text
    assert sale.json()["order"]["net_paid"] == 0
    rest = await client.post(url, json={"kind": "sale", "fee": total - 1000}, headers=ops)
    assert rest.status_code == 201, rest.text
    assert rest.json()["order"]["net_paid"] == 0
