"""Reorder through the HTTP API: what it copies from an edited order, an order with nothing
left to copy, and `If-Match` against the original."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import update

from order_service.orders.models import LineItem
from tests.factories import create_order, problem
from tests.helpers import count_events

CAP = {"sku": "CAP", "title": "Cap", "quantity": 3, "unit_price": 700}


def items(order: dict[str, Any]) -> list[tuple[str, int, int, bool]]:
    return [
        (li["sku"], li["quantity"], li["unit_price"], li["refundable"])
        for li in order["line_items"]
    ]


async def edited_order(
    client: httpx.AsyncClient, storefront: dict[str, str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """An order (2 tees at 19.99, a final-sale mug at 12.00, 5.00 shipping, 3.00 tax, a 2.00
    discount) as placed, and as a customer's edit left it: one tee, the mug removed, three
    caps at 7.00 added, tax recomputed to 2.50 and the discount dropped."""
    order = await create_order(client, storefront)
    tee, mug = (li["id"] for li in order["line_items"])
    response = await client.post(
        f"/v1/orders/{order['id']}/edits",
        json={
            "line_items": [
                {"line_item_id": tee, "quantity": 1},
                {"line_item_id": mug, "quantity": 0},
            ],
            "add_line_items": [CAP],
            "tax_lines": [{"title": "VAT", "amount": 250}],
            "discounts": [],
        },
        headers=storefront,
    )
    assert response.status_code == 201, response.text
    edited: dict[str, Any] = response.json()["order"]
    assert [li["quantity"] for li in edited["line_items"]] == [1, 0, 3]  # the mug stays, at 0
    return order, edited


async def order_count(client: httpx.AsyncClient, headers: dict[str, str]) -> int:
    return len((await client.get("/v1/orders", headers=headers)).json()["data"])


async def test_a_reorder_copies_the_lines_an_edited_order_has_now(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str], db: Any
) -> None:
    _, edited = await edited_order(client, storefront)
    response = await client.post(
        f"/v1/orders/{edited['id']}/reorder",
        headers={**storefront, "If-Match": f'"{edited["version"]}"'},
    )
    assert response.status_code == 201, response.text
    new = response.json()
    assert items(new) == [("TEE-M", 1, 1999, True), ("CAP", 3, 700, True)]
    assert all(li["removed_quantity"] == 0 for li in new["line_items"])
    assert new["subtotal"] == 1999 + 3 * 700
    assert new["total"] == 1999 + 3 * 700 + 500 + 250 == edited["total"]
    for field in ("subtotal", "shipping_total", "tax_total", "discount_total"):
        assert new[field] == edited[field], field
    assert (new["shipping_lines"], new["tax_lines"], new["discounts"]) == (
        edited["shipping_lines"], edited["tax_lines"], [],
    )  # fmt: skip
    assert new["shipping_address"] == edited["shipping_address"]
    # Money is the new order's own: nothing paid yet, whatever the original's edit refunded.
    assert (new["financial_status"], new["outstanding"]) == ("pending", new["total"])
    assert new["total_edit_refunds"] == 0
    assert new["reordered_from_id"] == edited["id"]
    assert (await client.get(f"/v1/orders/{new['id']}", headers=ops)).json() == new

    original = (await client.get(f"/v1/orders/{edited['id']}", headers=ops)).json()
    assert original["reorder_ids"] == [new["id"]]
    assert original["version"] == edited["version"] + 1
    assert items(original) == items(edited)
    assert await count_events(db, "order.created") == 2


async def test_a_reorder_of_an_order_with_no_line_left_is_refused(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str], db: Any
) -> None:
    """The API refuses an edit that would remove every line (`edit_empties_order`), so no
    sequence of requests leaves an order so; one written outside it (an import, a data fix)
    can be, and a reorder of it is a refusal with a code, not a 500 or an empty order."""
    order = await create_order(client, storefront, payment={"status": "pending"})
    async with db() as session, session.begin():
        await session.execute(
            update(LineItem)
            .where(LineItem.order_id == order["id"])
            .values(quantity=0, removed_quantity=LineItem.quantity)
        )
    response = await client.post(f"/v1/orders/{order['id']}/reorder", headers=storefront)
    body = problem(response, 409, "nothing_to_reorder")
    assert f"#{order['number']}" in body["detail"]
    assert await order_count(client, ops) == 1
    assert await count_events(db, "order.created") == 1
    after = (await client.get(f"/v1/orders/{order['id']}", headers=ops)).json()
    assert (after["version"], after["reorder_ids"]) == (order["version"], [])


async def test_a_reorder_with_a_stale_if_match_changes_nothing(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str], db: Any
) -> None:
    """The customer saw the order before the edit: a reorder of what they saw is refused
    rather than silently copying other items."""
    order, edited = await edited_order(client, storefront)
    timeline = (await client.get(f"/v1/orders/{order['id']}/events", headers=ops)).json()
    url = f"/v1/orders/{order['id']}/reorder"
    stale = await client.post(url, headers={**storefront, "If-Match": f'"{order["version"]}"'})
    assert problem(stale, 412, "precondition_failed")["current_version"] == edited["version"]
    problem(
        await client.post(url, headers={**storefront, "If-Match": "yesterday"}),
        400,
        "invalid_if_match",
    )
    assert await order_count(client, ops) == 1
    assert await count_events(db, "order.created") == 1
    assert (await client.get(f"/v1/orders/{order['id']}", headers=ops)).json() == edited
    after = (await client.get(f"/v1/orders/{order['id']}/events", headers=ops)).json()
    assert after == timeline

    current = await client.post(url, headers={**storefront, "If-Match": f'"{edited["version"]}"'})
    assert current.status_code == 201, current.text
