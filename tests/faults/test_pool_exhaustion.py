"""Shedding a backlog: with every pooled connection busy, a request waits at most
`DATABASE_POOL_TIMEOUT` and is refused with a 503 problem and Retry-After, rather than
queueing for as long as the backlog lasts; once a connection is free it is served."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from order_service.settings import Settings, parse_duration
from tests.factories import create_order, problem


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # Written as an operator would, a duration like every other one
    timeout = parse_duration("PT0.5S")
    return settings.model_copy(update={"database_pool_size": 2, "database_pool_timeout": timeout})


async def test_a_request_waits_for_a_connection_at_most_the_pool_timeout(
    app: Any, client: httpx.AsyncClient, storefront: dict[str, str]
) -> None:
    order = await create_order(client, storefront)
    engine = app.state.services.engine
    async with engine.connect(), engine.connect():  # both pooled connections busy
        started = time.perf_counter()
        response = await client.get(f"/v1/orders/{order['id']}", headers=storefront)
        waited = time.perf_counter() - started
        keyed = await client.post(
            "/v1/orders", json={}, headers={**storefront, "Idempotency-Key": "shed"}
        )
    problem(response, 503, "service_unavailable")
    assert "at capacity" in response.json()["detail"]
    assert response.headers["retry-after"]
    assert 0.5 <= waited < 10  # the setting, not the 30 s default
    problem(keyed, 503, "service_unavailable")

    again = await client.get(f"/v1/orders/{order['id']}", headers=storefront)
    assert again.status_code == 200, again.text
