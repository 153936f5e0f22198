"""The post-delivery follow-up fires once, FOLLOW_UP_DELAY after delivery, whatever runs."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select, update

from order_service.app import create_app
from order_service.fulfillments import followups
from order_service.fulfillments.models import FollowUp
from order_service.orders.models import Order
from order_service.settings import Settings
from tests.conftest import Clock
from tests.fulfillments.helpers import events, fulfil, placed_at, track

DELAY = timedelta(days=7)


async def _deliver(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str], clock: Clock
) -> dict[str, Any]:
    delivered_at = clock() - timedelta(minutes=1)
    placed = await placed_at(client, storefront, delivered_at - timedelta(days=1))
    parcel = await fulfil(client, ops, placed["id"])
    response = await track(client, ops, parcel["id"], "delivered", delivered_at)
    assert response.status_code == 201
    return placed


async def test_follow_up_fires_once_after_the_delay(
    client: httpx.AsyncClient,
    storefront: dict[str, str],
    ops: dict[str, str],
    app: Any,
    db: Any,
    clock: Clock,
) -> None:
    settings = app.state.services.settings
    settings.review_url = "https://shop.example/review?order={order_number}"
    settings.follow_up_discount_code = "THANKS10"
    placed = await _deliver(client, storefront, ops, clock)
    services = app.state.services

    assert await followups.fire_due(services) == 0
    clock.advance(DELAY - timedelta(minutes=5))
    assert await followups.fire_due(services) == 0
    assert await events(db, "order.follow_up_due") == []

    clock.advance(timedelta(minutes=10))
    # Two workers at once: the row is claimed by one of them only.
    assert sorted(
        await asyncio.gather(followups.fire_due(services), followups.fire_due(services))
    ) == [0, 1]
    fired = await events(db, "order.follow_up_due", placed["id"])
    assert len(fired) == 1
    assert fired[0].data["follow_up"]["review_url"] == (
        f"https://shop.example/review?order={placed['number']}"
    )
    assert fired[0].data["follow_up"]["discount_code"] == "THANKS10"
    assert fired[0].data["support"]["email"] == settings.support_email
    assert fired[0].data["order"]["fulfillment_status"] == "delivered"

    clock.advance(DELAY)
    assert await followups.fire_due(services) == 0
    timeline = (await client.get(f"/v1/orders/{placed['id']}/events", headers=ops)).json()["data"]
    assert timeline[-1]["action"] == "order.follow_up_due"
    assert timeline[-1]["actor"]["type"] == "system"


async def test_a_restarted_service_fires_nothing_twice(
    client: httpx.AsyncClient,
    storefront: dict[str, str],
    ops: dict[str, str],
    app: Any,
    db: Any,
    clock: Clock,
    settings: Settings,
) -> None:
    first = await _deliver(client, storefront, ops, clock)
    clock.advance(DELAY + timedelta(minutes=1))
    assert await followups.fire_due(app.state.services) == 1
    second = await _deliver(client, storefront, ops, clock)

    restarted = create_app(settings, clock=clock)
    try:
        assert await followups.fire_due(restarted.state.services) == 0
        clock.advance(DELAY + timedelta(minutes=1))
        both = await asyncio.gather(
            followups.fire_due(restarted.state.services), followups.fire_due(app.state.services)
        )
        assert sorted(both) == [0, 1]
    finally:
        await restarted.state.services.engine.dispose()
    assert len(await events(db, "order.follow_up_due", first["id"])) == 1
    assert len(await events(db, "order.follow_up_due", second["id"])) == 1


async def test_cancelled_or_refunded_orders_get_no_follow_up(
    client: httpx.AsyncClient,
    storefront: dict[str, str],
    ops: dict[str, str],
    app: Any,
    db: Any,
    clock: Clock,
) -> None:
    refunded = await _deliver(client, storefront, ops, clock)
    kept = await _deliver(client, storefront, ops, clock)
    cancelled = await _deliver(client, storefront, ops, clock)
    async with db() as session, session.begin():
        await session.execute(
            update(Order).where(Order.id == cancelled["id"]).values(status="cancelled")
        )
        await session.execute(
            update(Order)
            .where(Order.id == refunded["id"])
            .values(financial_status="refunded", total_refunded=Order.total_paid)
        )
    clock.advance(DELAY + timedelta(minutes=1))
    assert await followups.fire_due(app.state.services) == 1
    assert await events(db, "order.follow_up_due", refunded["id"]) == []
    assert await events(db, "order.follow_up_due", cancelled["id"]) == []
    assert len(await events(db, "order.follow_up_due", kept["id"])) == 1
    async with db() as session:
        rows = {
            f.order_id: (f.status, f.skip_reason) for f in await session.scalars(select(FollowUp))
        }
    assert rows == {
        refunded["id"]: ("skipped", "order_refunded"),
        cancelled["id"]: ("skipped", "order_cancelled"),
        kept["id"]: ("sent", None),
    }


async def test_follow_up_worker_task_is_registered() -> None:
    from order_service import worker

    assert "follow-ups" in [task.__name__ for task in worker.TASKS]
