"""Several dispatchers share the work through PostgreSQL; none loses or doubles a delivery."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections import Counter
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select

from order_service.context import Context
from order_service.events import service as events
from order_service.http.context import Services
from order_service.kit.db import create_engine, create_sessionmaker
from order_service.webhooks.models import WebhookDelivery
from tests.conftest import Clock
from tests.webhooks.conftest import Runner, create_endpoint, eventually
from tests.webhooks.receiver import Receiver


async def emit_many(app: Any, orders: int, per_order: int) -> list[str]:
    """Events straight into the outbox (the same emit every endpoint uses), fast."""
    services = app.state.services
    async with services.sessionmaker() as session, session.begin():
        ctx = Context.system(session, services.clock(), services.settings)
        emitted = []
        for step in range(per_order):
            for n in range(orders):
                event_id = await events.emit(
                    ctx,
                    "order.updated",
                    order_id=f"ord_{n}",
                    data={"order": {"id": f"ord_{n}", "version": step + 1}},
                    sequence=step + 1,
                )
                emitted.append(event_id)
    return emitted


async def statuses(app: Any) -> Counter[str]:
    async with app.state.services.sessionmaker() as session:
        return Counter((await session.scalars(select(WebhookDelivery.status))).all())


async def test_concurrent_dispatchers_deliver_each_event_exactly_once_in_order(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    receiver: Receiver,
    run_dispatcher: Runner,
    app: Any,
    settings: Any,
) -> None:
    await create_endpoint(client, admin, receiver.url)
    engines = []
    for _ in range(3):  # three "processes": own engine, own pool, own transports
        engine = create_engine(settings.database_url, pool_size=5)
        engines.append(engine)
        await run_dispatcher(
            Services(settings=settings, engine=engine, sessionmaker=create_sessionmaker(engine))
        )
    emitted = await emit_many(app, orders=30, per_order=5)
    await receiver.wait_for(len(emitted), within=30)
    await asyncio.sleep(0.3)
    ids = [r.id for r in receiver.requests]
    assert Counter(ids) == Counter(emitted)  # every event once, none twice
    for n in range(30):
        versions = [
            r.json["data"]["order"]["version"]
            for r in receiver.requests
            if r.json["data"]["order"]["id"] == f"ord_{n}"
        ]
        assert versions == [1, 2, 3, 4, 5]
        sequences = [
            r.json["sequence"]
            for r in receiver.requests
            if r.json.get("sequence") and r.json["data"]["order"]["id"] == f"ord_{n}"
        ]
        assert sequences == [1, 2, 3, 4, 5]
    assert await statuses(app) == {"succeeded": len(emitted)}
    for engine in engines:
        await engine.dispose()


async def test_a_claim_is_held_by_one_worker_until_its_lease_expires(
    client: httpx.AsyncClient, admin: dict[str, str], app: Any, clock: Clock
) -> None:
    from order_service.webhooks.dispatcher import Dispatcher

    await create_endpoint(client, admin, "log://x")
    await emit_many(app, orders=4, per_order=1)
    first, second = Dispatcher(app.state.services), Dispatcher(app.state.services)
    claims = await asyncio.gather(first.claim(10), second.claim(10))
    assert sorted(len(c) for c in claims) == [0, 4]
    assert await first.claim(10) == []
    clock.advance(timedelta(seconds=61))  # the lease of whoever held them ran out
    assert len(await second.claim(10)) == 4


async def test_a_killed_worker_loses_nothing(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    receiver: Receiver,
    run_dispatcher: Runner,
    app: Any,
    clock: Clock,
    database_url: str,
) -> None:
    """A real `order-service worker` process claims a batch and is SIGKILLed while the
    receiver holds its requests; once the lease expires, another worker delivers all."""
    hold = asyncio.Event()

    async def stall(_: Any) -> tuple[int, dict[str, str], bytes]:
        await hold.wait()
        return (200, {}, b"")

    receiver.respond = stall
    await create_endpoint(client, admin, receiver.url)
    emitted = await emit_many(app, orders=10, per_order=2)
    env = {
        **os.environ,
        "ORDER_SERVICE_DATABASE_URL": database_url,
        "ORDER_SERVICE_ENV": "test",
        "ORDER_SERVICE_WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",
        "ORDER_SERVICE_LOG_LEVEL": "WARNING",
    }
    worker = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "order_service", "worker", env=env
    )
    try:
        await receiver.wait_for(10, within=20)  # one per order: the rest wait their turn
    finally:
        worker.send_signal(signal.SIGKILL)
        await worker.wait()
    assert await statuses(app) == {"pending": 20}
    hold.set()
    receiver.requests.clear()
    receiver.respond = lambda _: (200, {}, b"")
    await run_dispatcher()
    await asyncio.sleep(0.5)
    assert receiver.requests == []  # still leased to the dead worker
    clock.advance(timedelta(seconds=61))
    await receiver.wait_for(20, within=15)
    assert Counter(r.id for r in receiver.requests) == Counter(emitted)
    await eventually(lambda: _all_succeeded(app, 20))


async def _all_succeeded(app: Any, count: int) -> bool:
    return await statuses(app) == {"succeeded": count}


async def test_shutdown_releases_deliveries_still_in_flight(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    receiver: Receiver,
    app: Any,
) -> None:
    from order_service.webhooks.dispatcher import Dispatcher

    hold = asyncio.Event()

    async def stall(_: Any) -> tuple[int, dict[str, str], bytes]:
        await hold.wait()
        return (200, {}, b"")

    receiver.respond = stall
    await create_endpoint(client, admin, receiver.url)
    await emit_many(app, orders=3, per_order=1)
    stop = asyncio.Event()
    dispatcher = Dispatcher(app.state.services)
    running = asyncio.create_task(dispatcher.run(stop))
    await receiver.wait_for(3)
    stop.set()
    await asyncio.wait_for(running, 5)  # grace is 0.3 s in tests
    async with app.state.services.sessionmaker() as session:
        rows = (await session.scalars(select(WebhookDelivery))).all()
    assert [(r.status, r.attempt_count, r.locked_until) for r in rows] == [("pending", 0, None)] * 3
    hold.set()
    # a new worker takes them at once, without waiting for a lease
    receiver.requests.clear()
    receiver.respond = lambda _: (200, {}, b"")
    stop = asyncio.Event()
    running = asyncio.create_task(Dispatcher(app.state.services).run(stop))
    await receiver.wait_for(3)
    stop.set()
    await asyncio.wait_for(running, 5)


async def test_deliveries_finished_within_the_grace_period_are_recorded(
    client: httpx.AsyncClient, admin: dict[str, str], receiver: Receiver, app: Any
) -> None:
    from order_service.webhooks.dispatcher import Dispatcher

    async def slow(_: Any) -> tuple[int, dict[str, str], bytes]:
        await asyncio.sleep(0.1)
        return (200, {}, b"")

    receiver.respond = slow
    await create_endpoint(client, admin, receiver.url)
    await emit_many(app, orders=2, per_order=1)
    stop = asyncio.Event()
    running = asyncio.create_task(Dispatcher(app.state.services).run(stop))
    await receiver.wait_for(2)
    stop.set()
    await asyncio.wait_for(running, 5)
    assert await statuses(app) == {"succeeded": 2}
