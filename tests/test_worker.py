from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import func, select

from order_service import worker
from order_service.http.idempotency import IdempotencyRecord
from tests.conftest import Clock
from tests.factories import order_body


async def _keys(db: Any) -> int:
    async with db() as session:
        return int(await session.scalar(select(func.count()).select_from(IdempotencyRecord)) or 0)


async def test_expired_idempotency_keys_are_purged_after_24_hours(
    client: httpx.AsyncClient, storefront: dict[str, str], app: Any, db: Any, clock: Clock
) -> None:
    headers = {**storefront, "Idempotency-Key": "old"}
    first = await client.post("/v1/orders", json=order_body(), headers=headers)
    services = app.state.services
    clock.advance(timedelta(hours=23))
    assert await worker.purge_idempotency_keys(services) == 0
    replay = await client.post("/v1/orders", json=order_body(), headers=headers)
    assert replay.headers["idempotent-replayed"] == "true"
    clock.advance(timedelta(hours=2))
    assert await worker.purge_idempotency_keys(services) == 1
    assert await _keys(db) == 0
    fresh = await client.post("/v1/orders", json=order_body(), headers=headers)
    assert fresh.json()["id"] != first.json()["id"]


async def test_tasks_stop_when_told(app: Any) -> None:
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run_tasks(app.state.services, stop))
    await asyncio.sleep(0.2)
    assert not running.done()
    stop.set()
    await asyncio.wait_for(running, 5)
