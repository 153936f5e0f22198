from __future__ import annotations

import httpx
import pytest

from tests.factories import create_order


async def test_timeline_records_every_change_with_the_actor(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str]
) -> None:
    order = await create_order(client, storefront, payment={"status": "authorized"})
    url = f"/v1/orders/{order['id']}"
    await client.patch(url, json={"note": "call first"}, headers=ops)
    await client.post(f"{url}/transactions", json={"kind": "capture"}, headers=ops)
    await client.post(f"{url}/archive", headers=ops)
    await client.post(f"{url}/unarchive", headers=ops)

    entries = (await client.get(f"{url}/events", headers=ops)).json()["data"]
    assert [e["action"] for e in entries] == [
        "order.created",
        "order.updated",
        "transaction.capture",
        "order.archived",
        "order.unarchived",
    ]
    assert entries[0]["actor"] == {
        "type": "api_key",
        "id": entries[0]["actor"]["id"],
        "name": "storefront key",
        "role": "storefront",
    }
    assert entries[1]["actor"]["name"] == "ops key"
    assert entries[1]["data"]["changes"]["note"] == {"from": None, "to": "call first"}
    assert entries[2]["data"]["financial_status"] == {"from": "authorized", "to": "paid"}

    page = (await client.get(f"{url}/events", params={"limit": 2}, headers=ops)).json()
    rest = (
        await client.get(f"{url}/events", params={"cursor": page["next_cursor"]}, headers=ops)
    ).json()
    assert [e["id"] for e in page["data"] + rest["data"]] == [e["id"] for e in entries]


async def test_every_change_writes_an_outbox_event(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str]
) -> None:
    order = await create_order(client, storefront)
    url = f"/v1/orders/{order['id']}"
    await client.patch(url, json={"tags": ["a"]}, headers=ops)
    await client.post(f"{url}/archive", headers=ops)
    events = (await client.get("/v1/events", params={"order_id": order["id"]}, headers=ops)).json()
    types = [e["type"] for e in events["data"]]
    assert types == ["order.archived", "order.updated", "order.created"]
    created = events["data"][-1]
    assert created["data"]["order"]["id"] == order["id"]
    assert created["data"]["order"]["version"] == 1
    assert created["data"]["order"]["line_items"][0]["sku"] == "TEE-M"
    assert created["data"]["order"]["estimated_dispatch_date"] == order["estimated_dispatch_date"]
    assert created["data"]["support"]["email"]
    assert events["data"][0]["data"]["order"]["version"] == 3
    one = await client.get(f"/v1/events/{created['id']}", headers=ops)
    assert one.json() == created
    assert (await client.get("/v1/events/evt_missing", headers=ops)).status_code == 404
    filtered = (
        await client.get("/v1/events", params={"type": "order.created"}, headers=ops)
    ).json()
    assert [e["id"] for e in filtered["data"]] == [created["id"]]


async def test_a_refused_change_writes_nothing(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str]
) -> None:
    order = await create_order(client, storefront)
    url = f"/v1/orders/{order['id']}"
    await client.patch(url, json={"note": "x"}, headers={**ops, "If-Match": '"9"'})
    assert len((await client.get(f"{url}/events", headers=ops)).json()["data"]) == 1
    events = (await client.get("/v1/events", headers=ops)).json()["data"]
    assert len(events) == 1


async def test_an_event_carries_the_order_exactly_as_the_api_shows_it(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str]
) -> None:
    order = await create_order(
        client,
        storefront,
        note="Ring twice — «Åse»",
        tags=["vip", "ünïcode"],
        currency="JPY",
        line_items=[{"sku": "CUP", "title": "Tea cup 茶碗", "quantity": 3, "unit_price": 1200}],
    )
    url = f"/v1/orders/{order['id']}"
    cancelled = await client.post(f"{url}/cancel", json={"note": "changed mind"}, headers=ops)
    assert cancelled.status_code == 200, cancelled.text
    events = (await client.get("/v1/events", params={"order_id": order["id"]}, headers=ops)).json()
    by_type = {e["type"]: e["data"]["order"] for e in events["data"]}
    assert by_type["order.created"] == order
    assert by_type["order.cancelled"] == cancelled.json()
    assert by_type["order.cancelled"] == (await client.get(url, headers=ops)).json()


@pytest.mark.parametrize(
    ("currency", "total"), [("USD", "57.98 USD"), ("JPY", "5798 JPY"), ("KWD", "5.798 KWD")]
)
async def test_timeline_writes_money_in_major_units(
    client: httpx.AsyncClient,
    storefront: dict[str, str],
    ops: dict[str, str],
    currency: str,
    total: str,
) -> None:
    order = await create_order(client, storefront, currency=currency, payment=None)
    assert order["total"] == 5798
    url = f"/v1/orders/{order['id']}"
    paid = await client.post(
        f"{url}/transactions", json={"kind": "sale", "amount": 5000}, headers=ops
    )
    assert paid.status_code == 201, paid.text
    entries = (await client.get(f"{url}/events", headers=ops)).json()["data"]
    assert entries[0]["message"] == f"Order placed: 2 line(s), total {total}."
    sale = {"USD": "50.00 USD", "JPY": "5000 JPY", "KWD": "5.000 KWD"}[currency]
    assert entries[1]["message"] == f"Payment sale of {sale} succeeded."
