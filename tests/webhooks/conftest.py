"""Webhook tests run real dispatchers against real receivers on loopback, with a retry
schedule of fractions of a second."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest

from order_service.http.context import Services
from order_service.settings import Environment, Settings
from order_service.webhooks.dispatcher import Dispatcher
from tests.webhooks.receiver import Receiver

FAST = {
    "webhook_retry_schedule": "0.2,0.2,0.2",
    "webhook_retry_jitter": 0,
    "webhook_sweep_interval": 0.5,
    "webhook_timeout": 2,
    "webhook_lease": 60,
    "webhook_shutdown_grace": 0.3,
}


def fast_settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "env": Environment.test,
        "database_url": database_url,
        "webhook_allow_private_targets": True,
        "database_pool_size": 20,
        **FAST,
        **overrides,
    }
    return Settings(**values)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return fast_settings(database_url)


@pytest.fixture(autouse=True)
async def _close_transports(app: Any) -> AsyncIterator[None]:
    yield
    await app.state.services.transports.aclose()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    server = await Receiver().start()
    yield server
    await server.close()


Runner = Callable[..., Awaitable[Dispatcher]]


@pytest.fixture
async def run_dispatcher(app: Any) -> AsyncIterator[Runner]:
    """Start dispatchers (default: on the app's services) that stop when the test ends."""
    running: list[tuple[asyncio.Event, asyncio.Task[None]]] = []
    used: list[Services] = []

    async def start(services: Services | None = None) -> Dispatcher:
        used.append(services or app.state.services)
        dispatcher = Dispatcher(used[-1])
        stop = asyncio.Event()
        running.append((stop, asyncio.create_task(dispatcher.run(stop))))
        await asyncio.wait_for(dispatcher.listening.wait(), 5)
        return dispatcher

    yield start
    for stop, _ in running:
        stop.set()
    for _, task in running:
        await asyncio.wait_for(task, 10)
    for services in used:
        await services.transports.aclose()


@pytest.fixture
async def dispatcher(run_dispatcher: Runner) -> Dispatcher:
    return await run_dispatcher()


async def create_endpoint(
    client: httpx.AsyncClient, headers: dict[str, str], url: str, **body: Any
) -> dict[str, Any]:
    response = await client.post(
        "/v1/webhook-endpoints", json={"url": url, "events": ["*"], **body}, headers=headers
    )
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 10) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


__all__ = ["create_endpoint", "eventually", "fast_settings", "timedelta"]
