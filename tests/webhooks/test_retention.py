"""Retention: delivered events, their deliveries and attempts go after EVENT_RETENTION; what
is still owed to a receiver stays, and so does every order's timeline."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, func, select

from order_service.http.context import Services
from order_service.settings import Settings
from order_service.webhooks import repository, retention
from order_service.webhooks.dispatcher import Dispatcher
from order_service.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from tests.conftest import Clock
from tests.factories import create_order, problem
from tests.webhooks.conftest import create_endpoint, fast_settings
from tests.webhooks.receiver import Receiver

RETENTION = timedelta(days=90)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return fast_settings(database_url, event_retention="P90D")


@pytest.fixture
async def gone() -> AsyncIterator[Receiver]:
    """A receiver that answers 410: its deliveries fail for good at once."""
    server = await Receiver().start()
    server.respond = lambda _: (410, {}, b"gone")
    yield server
    await server.close()


async def deliver_everything_due(services: Services) -> None:
    dispatcher = Dispatcher(services)
    while claims := await dispatcher.claim(100):
        for claim in claims:
            await dispatcher.deliver(claim)


async def event_ids(client: httpx.AsyncClient, ops: dict[str, str], order_id: str) -> set[str]:
    response = await client.get("/v1/events", params={"order_id": order_id}, headers=ops)
    return {event["id"] for event in response.json()["data"]}


async def count(db: Any, model: Any) -> int:
    async with db() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


def pruned(text: str, table: str) -> float:
    name = f'order_service_retention_pruned_total{{table="{table}"}}'
    return next(
        (float(line.split()[-1]) for line in text.splitlines() if line.startswith(name + " ")),
        0.0,
    )


async def test_delivered_events_are_pruned_after_the_retention_and_the_rest_kept(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    ops: dict[str, str],
    storefront: dict[str, str],
    receiver: Receiver,
    gone: Receiver,
    app: Any,
    db: Any,
    clock: Clock,
) -> None:
    services = app.state.services
    everything = await create_endpoint(client, admin, receiver.url)
    await create_endpoint(client, admin, gone.url, events=["order.cancelled"])
    delivered = await create_order(client, storefront)
    cancelled = await create_order(client, storefront)
    await client.post(f"/v1/orders/{cancelled['id']}/cancel", headers=storefront)
    await deliver_everything_due(services)
    # an endpoint disabled after its event was written: the delivery stays pending, owed
    paused = await create_endpoint(client, admin, receiver.url, events=["order.created"])
    owed = await create_order(client, storefront)
    await client.patch(
        f"/v1/webhook-endpoints/{paused['id']}", json={"enabled": False}, headers=admin
    )
    await deliver_everything_due(services)
    timeline = (await client.get(f"/v1/orders/{delivered['id']}/events", headers=ops)).json()

    clock.advance(RETENTION - timedelta(minutes=1))
    assert await retention.prune(services) == 0  # not old enough yet

    clock.advance(timedelta(minutes=2))
    recent = await create_order(client, storefront)
    await deliver_everything_due(services)
    deliveries_before = await count(db, WebhookDelivery)
    attempts_before = await count(db, WebhookAttempt)
    metrics_before = (await client.get("/metrics")).text

    old_delivered = await event_ids(client, ops, delivered["id"])
    old_cancelled = await event_ids(client, ops, cancelled["id"])
    response = await client.get(
        "/v1/events", params={"type": "order.cancelled", "order_id": cancelled["id"]}, headers=ops
    )
    (failed_event,) = (e["id"] for e in response.json()["data"])  # 410 for one endpoint
    response = await client.get(
        "/v1/events", params={"type": "webhook_endpoint.disabled"}, headers=ops
    )
    (disabled_event,) = (e["id"] for e in response.json()["data"])  # delivered to the other
    expected = old_delivered | (old_cancelled - {failed_event}) | {disabled_event}
    assert await retention.prune(services) == len(expected)

    for event_id in expected:
        problem(await client.get(f"/v1/events/{event_id}", headers=ops), 404, "not_found")
    kept = (
        {failed_event}
        | await event_ids(client, ops, owed["id"])
        | await event_ids(client, ops, recent["id"])
    )
    for event_id in kept:
        assert (await client.get(f"/v1/events/{event_id}", headers=ops)).status_code == 200
    listed = (
        await client.get(
            f"/v1/webhook-endpoints/{everything['id']}/deliveries",
            params={"limit": 250},
            headers=ops,
        )
    ).json()["data"]
    assert {d["event_id"] for d in listed} == kept
    # one delivery and one attempt per pruned event: it went to one endpoint, first time
    assert await count(db, WebhookDelivery) == deliveries_before - len(expected)
    assert await count(db, WebhookAttempt) == attempts_before - len(expected)
    after = (await client.get(f"/v1/orders/{delivered['id']}/events", headers=ops)).json()
    assert after == timeline
    metrics_after = (await client.get("/metrics")).text
    for table in ("events", "webhook_deliveries", "webhook_attempts"):
        assert pruned(metrics_after, table) - pruned(metrics_before, table) == len(expected)

    assert await retention.prune(services) == 0  # nothing more to do


async def test_events_no_endpoint_wanted_are_pruned_too(
    client: httpx.AsyncClient, storefront: dict[str, str], app: Any, clock: Clock
) -> None:
    await create_order(client, storefront)
    clock.advance(RETENTION + timedelta(minutes=1))
    assert await retention.prune(app.state.services) == 1


async def test_pruners_side_by_side_share_the_work(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    storefront: dict[str, str],
    receiver: Receiver,
    app: Any,
    db: Any,
    clock: Clock,
) -> None:
    """Workers prune at the same time: each deletes different events, none waits for or
    deadlocks with another, and the metric counts every event once."""
    services = app.state.services
    await create_endpoint(client, admin, receiver.url)
    for _ in range(10):
        await create_order(client, storefront)
    await deliver_everything_due(services)
    clock.advance(RETENTION + timedelta(minutes=1))
    before = (await client.get("/metrics")).text

    # one pruner holds a batch while another runs: the other skips it, waiting for nothing
    async with db() as session, session.begin():
        held = await repository.hold_old_events(
            session, before=clock(), after=repository.EPOCH, limit=3
        )
        assert await asyncio.wait_for(retention.prune(services, batch=4), 10) == 7
        assert (await repository.delete_finished(session, held)).events == 3
    for _ in range(20):
        await create_order(client, storefront)
    await deliver_everything_due(services)
    clock.advance(RETENTION + timedelta(minutes=1))

    done = await asyncio.gather(*(retention.prune(services, batch=3) for _ in range(4)))

    assert sum(done) == 20
    assert await count(db, WebhookDelivery) == 0
    after = (await client.get("/metrics")).text  # what the pruners did, not the test's 3
    assert pruned(after, "events") - pruned(before, "events") == 7 + 20
    assert pruned(after, "webhook_attempts") - pruned(before, "webhook_attempts") == 7 + 20


async def test_retention_never_waits_for_an_endpoint_being_deleted(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    storefront: dict[str, str],
    receiver: Receiver,
    app: Any,
    db: Any,
    clock: Clock,
) -> None:
    """Deleting an endpoint locks its deliveries as it deletes them; retention leaves the
    events of deliveries another transaction holds for its next run, rather than waiting
    (and perhaps deadlocking) on them."""
    services = app.state.services
    endpoint = await create_endpoint(client, admin, receiver.url)
    await create_order(client, storefront)
    await create_order(client, storefront)
    await deliver_everything_due(services)
    clock.advance(RETENTION + timedelta(minutes=1))
    async with db() as session, session.begin():
        await session.execute(delete(WebhookEndpoint).where(WebhookEndpoint.id == endpoint["id"]))
        assert await asyncio.wait_for(retention.prune(services), 10) == 0
        await session.rollback()
    assert await retention.prune(services) == 2


async def test_a_redelivery_racing_retention_is_404_not_an_error(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    ops: dict[str, str],
    storefront: dict[str, str],
    receiver: Receiver,
    app: Any,
    db: Any,
    clock: Clock,
) -> None:
    """A pruner holding an event and its deliveries makes a redelivery of it wait; once the
    event is gone the redelivery is a 404, not a 500 about a row that vanished."""
    services = app.state.services
    await create_endpoint(client, admin, receiver.url)
    order = await create_order(client, storefront)
    await deliver_everything_due(services)
    (event_id,) = await event_ids(client, ops, order["id"])
    clock.advance(RETENTION + timedelta(minutes=1))

    async with db() as session, session.begin():
        held = await repository.hold_old_events(
            session, before=clock(), after=repository.EPOCH, limit=10
        )
        assert held.events == [event_id]
        redelivery = asyncio.create_task(
            client.post(f"/v1/events/{event_id}/redeliver", headers=ops)
        )
        await asyncio.sleep(0.5)
        assert not redelivery.done()  # waits for the pruner
        assert (await repository.delete_finished(session, held)).events == 1
    problem(await redelivery, 404, "not_found")


async def test_an_event_being_redelivered_is_kept(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    ops: dict[str, str],
    storefront: dict[str, str],
    receiver: Receiver,
    app: Any,
    clock: Clock,
) -> None:
    services = app.state.services
    await create_endpoint(client, admin, receiver.url)
    order = await create_order(client, storefront)
    await deliver_everything_due(services)
    (event_id,) = await event_ids(client, ops, order["id"])
    clock.advance(RETENTION + timedelta(minutes=1))
    response = await client.post(f"/v1/events/{event_id}/redeliver", headers=ops)
    assert response.status_code == 202, response.text
    assert await retention.prune(services) == 0  # owed again
    await deliver_everything_due(services)
    assert await retention.prune(services) == 1


@pytest.mark.parametrize(("value", "days"), [("P30D", 30), ("7776000", 90), ("PT36H", 1.5)])
def test_event_retention_reads_seconds_or_iso_8601(
    database_url: str, value: str, days: float
) -> None:
    assert fast_settings(database_url, event_retention=value).event_retention == timedelta(
        days=days
    )


def test_event_retention_must_be_positive(database_url: str) -> None:
    with pytest.raises(ValueError, match="event_retention"):
        fast_settings(database_url, event_retention="0")
