from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.factories import create_order, problem
from tests.helpers import counting_statements


async def test_get_unknown_order_is_404(client: httpx.AsyncClient, ops: dict[str, str]) -> None:
    problem(await client.get("/v1/orders/ord_missing", headers=ops), 404, "order_not_found")


async def test_pagination_sees_every_order_once_while_new_ones_arrive(
    client: httpx.AsyncClient, storefront: dict[str, str]
) -> None:
    existing = {(await create_order(client, storefront))["id"] for _ in range(23)}
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 5}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get("/v1/orders", params=params, headers=storefront)).json()
        seen += [o["id"] for o in page["data"]]
        # new orders keep arriving between pages
        await asyncio.gather(*(create_order(client, storefront) for _ in range(2)))
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)), "an order was repeated"
    assert existing <= set(seen), "an order was missed"


async def test_limit_is_bounded_and_cursor_checked(
    client: httpx.AsyncClient, storefront: dict[str, str]
) -> None:
    problem(await client.get("/v1/orders?limit=251", headers=storefront), 422, "validation_error")
    problem(await client.get("/v1/orders?limit=0", headers=storefront), 422, "validation_error")
    problem(
        await client.get("/v1/orders?cursor=garbage!", headers=storefront), 400, "invalid_cursor"
    )
    problem(
        await client.get("/v1/orders?cursor=eyJhIjoxfQ", headers=storefront), 400, "invalid_cursor"
    )


async def test_filters(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str]
) -> None:
    ann = await create_order(client, storefront)
    bob = await create_order(
        client, storefront, customer={"email": "Bob@Example.org"}, payment={"status": "authorized"}
    )
    cat = await create_order(
        client, storefront, customer={"email": "cat@example.org"}, payment=None
    )
    await client.post(f"/v1/orders/{cat['id']}/archive", headers=ops)

    async def ids(**params: Any) -> list[str]:
        response = await client.get("/v1/orders", params=params, headers=storefront)
        assert response.status_code == 200, response.text
        return [o["id"] for o in response.json()["data"]]

    assert await ids() == [bob["id"], ann["id"]]
    assert await ids(archived=True) == [cat["id"]]
    assert await ids(financial_status="authorized") == [bob["id"]]
    assert await ids(financial_status="paid") == [ann["id"]]
    assert await ids(status="open") == [bob["id"], ann["id"]]
    assert await ids(status="closed", archived=True) == [cat["id"]]
    assert await ids(fulfillment_status="unfulfilled") == [bob["id"], ann["id"]]
    assert await ids(customer_email="bob@example.org") == [bob["id"]]
    assert await ids(number=ann["number"]) == [ann["id"]]
    assert await ids(q=str(bob["number"])) == [bob["id"]]
    assert await ids(q=f"#{ann['number']}") == [ann["id"]]
    assert await ids(q="BOB@example.org") == [bob["id"]]
    assert await ids(q="bob@") == [bob["id"]]
    assert await ids(q="%") == []
    now = datetime.now(UTC)
    assert await ids(created_after=(now - timedelta(minutes=5)).isoformat()) == [
        bob["id"],
        ann["id"],
    ]
    assert await ids(created_before=(now - timedelta(minutes=5)).isoformat()) == []
    problem(
        await client.get("/v1/orders", params={"status": "weird"}, headers=storefront),
        422,
        "validation_error",
    )


async def test_listing_250_orders_is_a_bounded_number_of_queries(
    client: httpx.AsyncClient, storefront: dict[str, str], app: Any
) -> None:
    lines = [{"sku": f"S{i}", "title": "T", "quantity": 1, "unit_price": 10} for i in range(3)]
    await asyncio.gather(*(create_order(client, storefront, line_items=lines) for _ in range(60)))
    async with counting_statements(app) as statements:
        response = await client.get("/v1/orders?limit=250", headers=storefront)
    assert len(response.json()["data"]) == 60
    assert all(len(o["line_items"]) == 3 for o in response.json()["data"])
    # key lookup + orders + line items, whatever the page size
    assert len(statements) <= 3, statements


async def test_getting_an_order_is_two_statements_and_no_transaction(
    client: httpx.AsyncClient, storefront: dict[str, str], app: Any
) -> None:
    order = await create_order(client, storefront)
    async with counting_statements(app, transaction_control=True) as statements:
        response = await client.get(f"/v1/orders/{order['id']}", headers=storefront)
    assert response.json() == order
    # the API key, then the order with its lines; no BEGIN, no COMMIT or ROLLBACK
    assert len(statements) == 2, statements


async def test_email_filters_match_the_address_as_it_is_stored(
    client: httpx.AsyncClient, storefront: dict[str, str]
) -> None:
    """Stored addresses are normalised at creation (NFC, the domain's Unicode form); a query
    spelled another way (decomposed accents, capitals, punycode) finds them too."""
    zoe = await create_order(client, storefront, customer={"email": "Zoë@bücher.example"})
    await create_order(client, storefront, customer={"email": "zoey@example.org"})
    decomposed = "Zoe\u0308@bu\u0308cher.example"

    async def ids(**params: Any) -> list[str]:
        response = await client.get("/v1/orders", params=params, headers=storefront)
        assert response.status_code == 200, response.text
        return [o["id"] for o in response.json()["data"]]

    for spelling in (decomposed, "ZOË@BÜCHER.EXAMPLE", "zoë@xn--bcher-kva.example"):
        assert await ids(customer_email=spelling) == [zoe["id"]], spelling
    for term in (decomposed, "ZOË@BÜ", "zoe\u0308"):
        assert await ids(q=term) == [zoe["id"]], term
    refused = await client.get(
        "/v1/orders", params={"customer_email": "not an address"}, headers=storefront
    )
    assert problem(refused, 422, "validation_error")["errors"][0]["field"] == "customer_email"


async def test_a_search_for_nothing_is_refused_not_a_match_for_everything(
    client: httpx.AsyncClient, storefront: dict[str, str]
) -> None:
    """`q=#` searched for emails starting with "": every order."""
    order = await create_order(client, storefront)
    for q in ("#", " # ", "##", "\u3000#\t"):
        refused = await client.get("/v1/orders", params={"q": q}, headers=storefront)
        assert problem(refused, 422, "validation_error")["errors"][0]["field"] == "q", q
    for q in (f"# {order['number']}", f" #{order['number']} ", "ann@"):
        found = await client.get("/v1/orders", params={"q": q}, headers=storefront)
        assert [o["id"] for o in found.json()["data"]] == [order["id"]], q
