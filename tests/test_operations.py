from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest

from tests.factories import create_order


async def test_health_and_readiness(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["migration"] == ready.json()["expected"]


async def test_request_id_is_echoed_or_assigned(client: httpx.AsyncClient) -> None:
    given = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert given.headers["x-request-id"] == "abc-123"
    assigned = await client.get("/healthz", headers={"X-Request-ID": "bad id\twith spaces"})
    assert len(assigned.headers["x-request-id"]) == 32


async def test_one_log_line_per_request_without_the_key(
    client: httpx.AsyncClient, storefront: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="order_service.http")
    await create_order(client, storefront)
    lines = [r for r in caplog.records if r.name == "order_service.http"]
    assert len(lines) == 1
    record = lines[0]
    assert record.__dict__["route"] == "/v1/orders"
    assert record.__dict__["status"] == 201
    assert record.__dict__["actor"]["role"] == "storefront"
    key = storefront["Authorization"].split()[1]
    assert key not in caplog.text


async def test_unknown_route_and_method_are_problems(
    client: httpx.AsyncClient, storefront: dict[str, str]
) -> None:
    missing = await client.get("/v1/nothing", headers=storefront)
    assert missing.status_code == 404
    assert missing.json()["code"] == "not_found"
    wrong = await client.put("/v1/orders", headers=storefront)
    assert wrong.status_code == 405
    assert wrong.json()["code"] == "method_not_allowed"


async def test_metrics_count_requests(client: httpx.AsyncClient) -> None:
    await client.get("/healthz")
    text = (await client.get("/metrics")).text
    assert 'order_service_http_requests_total{method="GET",route="/healthz",status="200"}' in text


def _sample(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return 0.0


async def test_business_metrics_count_committed_changes_only(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str]
) -> None:
    created = 'order_service_events_total{type="order.created"}'
    cancelled = 'order_service_events_total{type="order.cancelled"}'
    by_customer = 'order_service_cancellations_total{by="customer"}'
    refunded = 'order_service_refunds_created_amount_total{currency="USD"}'
    before = (await client.get("/metrics")).text
    order = await create_order(client, storefront)
    await client.post(f"/v1/orders/{order['id']}/cancel", headers=storefront)
    refused = await client.post(f"/v1/orders/{order['id']}/cancel", headers=storefront)
    assert refused.status_code == 409  # rolled back: must not count
    after = (await client.get("/metrics")).text
    assert _sample(after, created) - _sample(before, created) == 1
    assert _sample(after, cancelled) - _sample(before, cancelled) == 1
    assert _sample(after, by_customer) - _sample(before, by_customer) == 1
    assert _sample(after, refunded) - _sample(before, refunded) == order["total"]
    assert "order_service_webhook_backlog" in after
    assert "order_service_http_request_duration_seconds_bucket" in after


async def test_readiness_follows_the_schema_revision(
    client: httpx.AsyncClient, db: Any, app: Any
) -> None:
    from sqlalchemy import text

    async with db() as session:
        head = await session.scalar(text("SELECT version_num FROM alembic_version"))
    known = sorted(app.state.known_revisions - {head})

    async def at(revision: str) -> httpx.Response:
        async with db() as session, session.begin():
            await session.execute(
                text("UPDATE alembic_version SET version_num = :r"), {"r": revision}
            )
        return await client.get("/readyz")

    try:
        behind = await at(known[0])
        assert behind.status_code == 503
        assert behind.json()["status"] == "migrations_pending"
        ahead = await at("f00dfacefeed")  # a revision from a newer release
        assert ahead.status_code == 200
    finally:
        await at(head)
    assert (await client.get("/readyz")).status_code == 200


async def test_a_bug_is_a_500_problem_with_the_request_id_of_its_log_line(
    app: Any, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/v1/broken", broken)  # stands for any handler with a bug
    caplog.set_level(logging.INFO)
    response = await client.get("/v1/broken", headers={"X-Request-ID": "support-ticket-7"})
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["x-request-id"] == "support-ticket-7"
    assert response.json()["code"] == "internal_error"
    assert "a bug" not in response.text
    (error,) = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert error.__dict__["request_id"] == "support-ticket-7"
    assert error.exc_info is not None and "a bug" in str(error.exc_info[1])
    (access,) = [r for r in caplog.records if r.name == "order_service.http"]
    assert access.__dict__["status"] == 500
    assert access.__dict__["request_id"] == "support-ticket-7"
