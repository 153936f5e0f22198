from __future__ import annotations

import httpx

from tests.factories import create_order, problem


async def test_archive_and_unarchive(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str]
) -> None:
    order = await create_order(client, storefront)
    url = f"/v1/orders/{order['id']}"
    archived = await client.post(f"{url}/archive", headers=ops)
    assert archived.status_code == 200
    assert archived.json()["archived_at"] is not None
    assert archived.json()["status"] == "closed"
    assert archived.json()["version"] == 2
    again = await client.post(f"{url}/archive", headers=ops)
    assert again.json()["version"] == 2, "archiving twice changes nothing"
    default_list = (await client.get("/v1/orders", headers=ops)).json()["data"]
    assert order["id"] not in [o["id"] for o in default_list]

    restored = await client.post(f"{url}/unarchive", headers=ops)
    assert restored.json()["archived_at"] is None
    assert restored.json()["status"] == "open"
    assert order["id"] in [
        o["id"] for o in (await client.get("/v1/orders", headers=ops)).json()["data"]
    ]


async def test_delete_only_without_payments(
    client: httpx.AsyncClient, storefront: dict[str, str], admin: dict[str, str]
) -> None:
    paid = await create_order(client, storefront)
    body = problem(
        await client.delete(f"/v1/orders/{paid['id']}", headers=admin), 409, "order_has_payments"
    )
    assert "archive" in body["detail"]

    authorized = await create_order(client, storefront, payment={"status": "authorized"})
    problem(
        await client.delete(f"/v1/orders/{authorized['id']}", headers=admin),
        409,
        "order_has_payments",
    )
    voided = await client.post(
        f"/v1/orders/{authorized['id']}/transactions", json={"kind": "void"}, headers=admin
    )
    assert voided.json()["order"]["financial_status"] == "voided"
    assert (await client.delete(f"/v1/orders/{authorized['id']}", headers=admin)).status_code == 204

    pending = await create_order(client, storefront, payment=None)
    assert (await client.delete(f"/v1/orders/{pending['id']}", headers=admin)).status_code == 204
    problem(await client.get(f"/v1/orders/{pending['id']}", headers=admin), 404, "order_not_found")
    problem(
        await client.delete(f"/v1/orders/{pending['id']}", headers=admin), 404, "order_not_found"
    )

    events = (
        await client.get("/v1/events", params={"type": "order.deleted"}, headers=admin)
    ).json()["data"]
    assert {e["order_id"] for e in events} == {pending["id"], authorized["id"]}
    assert events[0]["data"]["order"]["id"] in {pending["id"], authorized["id"]}
