"""What a receiver can rely on: per-order `sequence`, `data.changes`, the next event of an
order sent when the previous one is acknowledged, a disabled endpoint never silent, and
paging through the events since a given one."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY

from order_service.settings import Settings
from tests.factories import create_order, problem
from tests.webhooks.conftest import Runner, create_endpoint, fast_settings
from tests.webhooks.receiver import Receiver


async def events_of(client: httpx.AsyncClient, ops: dict[str, str], order_id: str) -> Any:
    response = await client.get(
        "/v1/events", params={"order_id": order_id, "limit": 250}, headers=ops
    )
    assert response.status_code == 200, response.text
    return list(reversed(response.json()["data"]))  # oldest first


async def test_sequence_is_gapless_and_in_commit_order_under_concurrent_changes(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    storefront: dict[str, str],
    ops: dict[str, str],
    receiver: Receiver,
    run_dispatcher: Runner,
) -> None:
    await create_endpoint(client, admin, receiver.url)
    order = await create_order(client, storefront)
    changes = 12
    responses = await asyncio.gather(
        *(
            client.patch(f"/v1/orders/{order['id']}", json={"tags": [f"t{n}"]}, headers=ops)
            for n in range(changes)
        )
    )
    assert [r.status_code for r in responses] == [200] * changes
    # one request, several events: numbered one after another
    cancelled = await client.post(f"/v1/orders/{order['id']}/cancel", headers=ops, json={})
    assert cancelled.status_code == 200, cancelled.text

    emitted = await events_of(client, ops, order["id"])
    assert len(emitted) > changes + 2  # created, the updates, cancelled and what follows it
    assert [e["sequence"] for e in emitted] == list(range(1, len(emitted) + 1))
    # Each update took the order's lock: the order's version counts the commits, and each
    # update's number is its commit's place among them.
    updates = [e for e in emitted if e["type"] == "order.updated"]
    assert [e["data"]["order"]["version"] for e in updates] == list(range(2, changes + 2))
    assert [e["sequence"] for e in updates] == list(range(2, changes + 2))

    await run_dispatcher()
    await receiver.wait_for(len(emitted))
    received = [r.json["sequence"] for r in receiver.requests]
    assert received == list(range(1, len(emitted) + 1))
    assert [r.id for r in receiver.requests] == [e["id"] for e in emitted]


async def test_order_updated_says_what_changed(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str]
) -> None:
    order = await create_order(client, storefront)
    response = await client.patch(
        f"/v1/orders/{order['id']}", json={"note": "call first", "tags": ["vip", "b"]}, headers=ops
    )
    assert response.status_code == 200, response.text
    archived = await client.post(f"/v1/orders/{order['id']}/archive", headers=ops)
    assert archived.status_code == 200, archived.text
    unarchived = await client.post(f"/v1/orders/{order['id']}/unarchive", headers=ops)
    assert unarchived.status_code == 200, unarchived.text

    updates = [e for e in await events_of(client, ops, order["id"]) if e["type"] == "order.updated"]
    assert updates[0]["data"]["changes"] == [
        {"field": "note", "before": order["note"], "after": "call first"},
        {"field": "tags", "before": order["tags"], "after": ["vip", "b"]},
    ]
    assert updates[1]["data"]["changes"] == [
        {"field": "archived_at", "before": archived.json()["archived_at"], "after": None},
        {"field": "status", "before": "closed", "after": "open"},
        {"field": "closed_at", "before": archived.json()["closed_at"], "after": None},
    ]


async def test_a_payment_lists_the_amounts_it_changed(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str]
) -> None:
    order = await create_order(client, storefront, payment={"status": "pending"})
    response = await client.post(
        f"/v1/orders/{order['id']}/transactions",
        json={"kind": "sale", "amount": order["total"], "status": "success"},
        headers=ops,
    )
    assert response.status_code == 201, response.text
    (update,) = [
        e for e in await events_of(client, ops, order["id"]) if e["type"] == "order.updated"
    ]
    changed = {c["field"]: (c["before"], c["after"]) for c in update["data"]["changes"]}
    assert changed["total_paid"] == (0, order["total"])
    assert changed["financial_status"] == (order["financial_status"], "paid")


@pytest.fixture
def settings(database_url: str) -> Settings:
    # A sweep and a timeout far longer than the tests: what goes out goes on a notification
    # or an acknowledgement, and a stalled receiver holds its slot. Eight in flight at most.
    return fast_settings(
        database_url,
        webhook_sweep_interval=600,
        webhook_timeout=60,
        webhook_lease=120,
        webhook_batch_size=8,
    )


async def test_the_next_event_of_an_order_goes_out_when_the_previous_is_acknowledged(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    storefront: dict[str, str],
    ops: dict[str, str],
    receiver: Receiver,
    run_dispatcher: Runner,
) -> None:
    # A slow endpoint holds seven of the eight slots until the end of the test; the events
    # of one order to a fast endpoint still go out one after another, each on the
    # acknowledgement of the one before (no sweep comes, no notification is left).
    slow = await Receiver().start()
    answer = asyncio.Event()

    async def stall(_: Any) -> tuple[int, dict[str, str], bytes]:
        await answer.wait()
        return 200, {}, b""

    slow.respond = stall
    try:
        order = await create_order(client, storefront)
        await create_endpoint(client, admin, slow.url, events=["order.created"])
        for _ in range(7):
            await create_order(client, storefront)
        await create_endpoint(client, admin, receiver.url, events=["order.updated"])
        for n in range(5):
            await client.patch(f"/v1/orders/{order['id']}", json={"tags": [f"t{n}"]}, headers=ops)
        updates = [
            e["id"]
            for e in await events_of(client, ops, order["id"])
            if e["type"] == "order.updated"
        ]
        await run_dispatcher()
        await slow.wait_for(7)
        await receiver.wait_for(5, within=20)
        assert [r.id for r in receiver.requests] == updates
        assert [r.json["sequence"] for r in receiver.requests] == [2, 3, 4, 5, 6]
    finally:
        answer.set()
        await slow.close()


async def test_a_disabled_endpoint_is_announced_to_the_others(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    storefront: dict[str, str],
    ops: dict[str, str],
    receiver: Receiver,
    run_dispatcher: Runner,
    caplog: pytest.LogCaptureFixture,
) -> None:
    gone = await Receiver().start()
    gone.respond = lambda _: (410, {}, b"gone")
    try:
        dead = await create_endpoint(client, admin, gone.url, events=["*"])
        watcher = await create_endpoint(
            client, admin, receiver.url, events=["webhook_endpoint.disabled"]
        )
        before = REGISTRY.get_sample_value(
            "order_service_webhook_endpoints_disabled_total", {"reason": "gone"}
        )
        with caplog.at_level(logging.ERROR, logger="order_service.webhooks.dispatcher"):
            await run_dispatcher()
            await create_order(client, storefront)
            await receiver.wait_for(1)
        (announced,) = receiver.requests
        assert announced.json["type"] == "webhook_endpoint.disabled"
        assert "sequence" not in announced.json  # not an event of an order
        endpoint = announced.json["data"]["webhook_endpoint"]
        assert endpoint["id"] == dead["id"]
        assert endpoint["enabled"] is False and endpoint["disabled_reason"] == "gone"
        assert len(gone.requests) == 1  # not sent to the endpoint it is about
        errors = [r for r in caplog.records if r.levelno == logging.ERROR]
        assert any(dead["id"] in r.getMessage() for r in errors)
        after = REGISTRY.get_sample_value(
            "order_service_webhook_endpoints_disabled_total", {"reason": "gone"}
        )
        assert after == (before or 0) + 1
        deliveries = await client.get(
            f"/v1/webhook-endpoints/{watcher['id']}/deliveries", headers=ops
        )
        assert deliveries.json()["data"][0]["event_id"] == announced.id
    finally:
        await gone.close()


async def test_events_after_a_given_one_page_oldest_first(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str]
) -> None:
    first = await create_order(client, storefront)
    (mark,) = await events_of(client, ops, first["id"])
    later = [await create_order(client, storefront) for _ in range(3)]
    seen: list[str] = []
    params: dict[str, Any] = {"after": mark["id"], "limit": 2}
    while True:
        response = await client.get("/v1/events", params=params, headers=ops)
        assert response.status_code == 200, response.text
        body = response.json()
        seen += [e["data"]["order"]["id"] for e in body["data"]]
        if not body["next_cursor"]:
            break
        params["cursor"] = body["next_cursor"]
    assert seen[: len(later)] == [o["id"] for o in later]
    assert first["id"] not in seen
    missing = await client.get("/v1/events", params={"after": "evt_missing"}, headers=ops)
    problem(missing, 404, "not_found")
