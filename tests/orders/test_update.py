from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.factories import ADDRESS, create_order, problem
from tests.helpers import fulfil


async def test_patch_note_tags_and_address_bumps_version(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str]
) -> None:
    order = await create_order(client, storefront)
    new_address = {**ADDRESS, "line1": "2 Side St"}
    response = await client.patch(
        f"/v1/orders/{order['id']}",
        json={"note": "gift wrap", "tags": ["vip", "gift", "vip"], "shipping_address": new_address},
        headers={**ops, "If-Match": '"1"'},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["note"] == "gift wrap"
    assert body["tags"] == ["vip", "gift"]
    assert body["shipping_address"]["line1"] == "2 Side St"
    assert body["billing_address"]["line1"] == "1 Main St"
    assert body["version"] == 2
    assert response.headers["etag"] == '"2"'


async def test_patch_without_changes_keeps_the_version(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str]
) -> None:
    order = await create_order(client, storefront)
    response = await client.patch(f"/v1/orders/{order['id']}", json={}, headers=ops)
    assert response.json()["version"] == 1
    response = await client.patch(f"/v1/orders/{order['id']}", json={"tags": []}, headers=ops)
    assert response.json()["version"] == 1


async def test_stale_if_match_is_412(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str]
) -> None:
    order = await create_order(client, storefront)
    url = f"/v1/orders/{order['id']}"
    etag = (await client.get(url, headers=ops)).headers["etag"]
    first = await client.patch(url, json={"note": "a"}, headers={**ops, "If-Match": etag})
    assert first.status_code == 200
    second = await client.patch(url, json={"note": "b"}, headers={**ops, "If-Match": etag})
    body = problem(second, 412, "precondition_failed")
    assert body["current_version"] == 2
    assert (await client.get(url, headers=ops)).json()["note"] == "a"
    weak = await client.patch(url, json={"note": "c"}, headers={**ops, "If-Match": 'W/"2"'})
    assert weak.status_code == 200
    problem(
        await client.patch(url, json={"note": "d"}, headers={**ops, "If-Match": "garbage"}),
        400,
        "invalid_if_match",
    )


async def test_concurrent_patches_with_the_same_etag_let_exactly_one_win(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str]
) -> None:
    order = await create_order(client, storefront)
    url = f"/v1/orders/{order['id']}"
    responses = await asyncio.gather(
        *(
            client.patch(url, json={"note": f"n{i}"}, headers={**ops, "If-Match": '"1"'})
            for i in range(8)
        )
    )
    assert sorted(r.status_code for r in responses) == [200] + [412] * 7


async def test_address_is_locked_once_fulfilment_starts(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str], db: Any
) -> None:
    order = await create_order(client, storefront)
    await fulfil(client, ops, order, 1, status="pending")
    url = f"/v1/orders/{order['id']}"
    response = await client.patch(
        url, json={"shipping_address": {**ADDRESS, "city": "Bergen"}}, headers=ops
    )
    problem(response, 409, "order_fulfillment_started")
    assert (await client.patch(url, json={"note": "still fine"}, headers=ops)).status_code == 200


async def test_patch_validates_fields(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str]
) -> None:
    order = await create_order(client, storefront)
    response = await client.patch(
        f"/v1/orders/{order['id']}", json={"status": "cancelled"}, headers=ops
    )
    problem(response, 422, "validation_error")
    problem(
        await client.patch("/v1/orders/ord_missing", json={"note": "x"}, headers=ops),
        404,
        "order_not_found",
    )
