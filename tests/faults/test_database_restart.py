"""PostgreSQL stopped and started under the feet of a running `order-service serve`.

Clients keep creating orders, each with its own Idempotency-Key, retrying a key until it
is acknowledged, the way a storefront should. While the database is down every answer is
a prompt 503 problem; afterwards the same processes serve again, nothing acknowledged is
lost and no key made two orders.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx

from tests.factories import order_body
from tests.faults.conftest import Service
from tests.faults.postgres import Postgres

CLIENTS = 8
REQUEST_BOUND = 5.0
"""No answer, during the outage or not, may take longer than this (seconds)."""


@dataclass
class Load:
    service: Service
    statuses: Counter[int] = field(default_factory=Counter)
    acknowledged: dict[str, str] = field(default_factory=dict)
    """Idempotency-Key -> the id of the order its 201 acknowledged."""
    unavailable: list[httpx.Response] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    slowest: float = 0.0

    async def create(self, client: httpx.AsyncClient, key: str) -> httpx.Response | None:
        started = time.monotonic()
        try:
            response = await client.post(
                "/v1/orders",
                json=order_body(),
                headers=self.service.headers(**{"Idempotency-Key": key}),
            )
        except httpx.TimeoutException:
            self.unexpected.append(f"{key}: no answer within {REQUEST_BOUND}s")
            return None
        self.slowest = max(self.slowest, time.monotonic() - started)
        self.statuses[response.status_code] += 1
        if response.status_code == 201:
            order_id = response.json()["id"]
            first = self.acknowledged.setdefault(key, order_id)
            if first != order_id:
                self.unexpected.append(f"{key}: acknowledged {first} and then {order_id}")
        elif response.status_code == 503:
            self.unavailable.append(response)
        else:
            self.unexpected.append(f"{key}: {response.status_code} {response.text[:300]}")
        return response

    async def client(self, stop: asyncio.Event) -> None:
        """Create orders until stopped; a key is retried until acknowledged."""
        async with httpx.AsyncClient(
            base_url=self.service.base_url, timeout=REQUEST_BOUND
        ) as client:
            while not stop.is_set():
                key = f"fault-{uuid.uuid4()}"
                for _ in range(200):
                    response = await self.create(client, key)
                    if response is None or response.status_code != 503:
                        break
                    await asyncio.sleep(0.05)  # Retry-After says 2 s; the test is impatient

    async def burst(self, count: int) -> Counter[int]:
        before = self.statuses.copy()
        async with httpx.AsyncClient(
            base_url=self.service.base_url, timeout=REQUEST_BOUND
        ) as client:
            await asyncio.gather(
                *(self.create(client, f"burst-{uuid.uuid4()}") for _ in range(count))
            )
        return self.statuses - before


async def until(condition: Callable[[], bool], what: str, within: float = 30) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within}s: {what}")
        await asyncio.sleep(0.05)


async def test_postgres_restarted_under_load(service: Service, postgres: Postgres) -> None:
    load = Load(service)
    stop = asyncio.Event()
    clients = [asyncio.create_task(load.client(stop)) for _ in range(CLIENTS)]
    try:
        await until(lambda: load.statuses[201] >= 2 * CLIENTS, "orders created")

        await asyncio.to_thread(postgres.stop, "immediate")  # a crash, no polite goodbye
        down_at = len(load.unavailable)
        await until(lambda: len(load.unavailable) >= down_at + 3 * CLIENTS, "503s while down")
        async with httpx.AsyncClient(base_url=service.base_url, timeout=REQUEST_BOUND) as probe:
            ready = await probe.get("/readyz")
            assert ready.status_code == 503, ready.text
            assert (await probe.get("/healthz")).status_code == 200

        await asyncio.to_thread(postgres.start)
        acknowledged_at = load.statuses[201]
        await until(
            lambda: load.statuses[201] >= acknowledged_at + 2 * CLIENTS, "recovery, same processes"
        )
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*clients, return_exceptions=True), 60)

    # A clean shutdown while idle: every pooled connection is now stale. The next requests
    # must not be the ones to find out.
    assert await load.burst(20) == {201: 20}
    await asyncio.to_thread(postgres.stop, "fast")
    await asyncio.to_thread(postgres.start)
    assert await load.burst(20) == {201: 20}, load.unexpected[-3:]

    assert load.unexpected == []
    assert set(load.statuses) <= {201, 503}
    assert load.slowest < REQUEST_BOUND
    for response in load.unavailable:
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.headers["retry-after"].isdigit()
        body = response.json()
        assert body["code"] == "service_unavailable"
        assert body["status"] == 503

    await check_every_acknowledged_order_exists_once(service, postgres, load.acknowledged)


async def check_every_acknowledged_order_exists_once(
    service: Service, postgres: Postgres, acknowledged: dict[str, str]
) -> None:
    ids = set(acknowledged.values())
    assert len(ids) == len(acknowledged), "two keys were acknowledged with the same order"
    async with httpx.AsyncClient(base_url=service.base_url, timeout=REQUEST_BOUND) as client:
        for order_id in ids:
            response = await client.get(f"/v1/orders/{order_id}", headers=service.headers())
            assert response.status_code == 200, response.text
    conn = await asyncpg.connect(host="127.0.0.1", port=postgres.port, user="postgres")
    try:
        stored: Any = await conn.fetch("SELECT id FROM orders")
        per_order = await conn.fetchrow(
            """SELECT
                 (SELECT count(*) FROM line_items) AS line_items,
                 (SELECT count(*) FROM events WHERE type = 'order.created') AS created_events,
                 (SELECT count(*) FROM idempotency_keys) AS keys"""
        )
    finally:
        await conn.close()
    # every order in the database is one some client was told about: none from a key that
    # failed and was retried (the retry would have made a second one)
    assert {row["id"] for row in stored} == ids
    assert per_order["line_items"] == len(order_body()["line_items"]) * len(ids)
    assert per_order["created_events"] == len(ids)
    assert per_order["keys"] == len(ids)
