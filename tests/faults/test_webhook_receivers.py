"""Receivers that hang: one never answers, one drips its answer a byte at a time.

Real dispatchers and real loopback servers, a 0.5 s delivery timeout and a 0.2 s retry
schedule. A hanging receiver costs its own deliveries a timeout per attempt, retried on
schedule; it never holds up another endpoint's deliveries. (A worker killed mid-batch is
`tests/webhooks/test_workers.py::test_a_killed_worker_loses_nothing`.)
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from order_service.settings import Settings
from tests.factories import create_order
from tests.webhooks.conftest import (
    Runner,
    create_endpoint,
    eventually,
    fast_settings,
    run_dispatcher,  # noqa: F401 - fixture
)
from tests.webhooks.receiver import Receiver, Request

TIMEOUT = 0.5
SCHEDULE = (0.2, 0.2, 0.2)
ATTEMPTS = len(SCHEDULE) + 1
SLACK = 1.5
"""Allowed lateness of a retry on a busy machine (seconds)."""


@pytest.fixture
def settings(database_url: str) -> Settings:
    return fast_settings(
        database_url,
        webhook_timeout=TIMEOUT,
        webhook_retry_schedule=",".join(map(str, SCHEDULE)),
    )


@pytest.fixture
async def healthy() -> AsyncIterator[Receiver]:
    server = await Receiver().start()
    yield server
    await server.close()


@pytest.fixture
async def hanging() -> AsyncIterator[Receiver]:
    """Reads each request, then never answers."""
    released = asyncio.Event()

    async def never(_: Request) -> tuple[int, dict[str, str], bytes]:
        await released.wait()
        return (200, {}, b"")

    server = await Receiver().start()
    server.respond = never
    yield server
    released.set()
    await server.close()


class Dripping:
    """Answers every request with a status line and then one header byte every 0.1 s, for
    ever: each read succeeds well inside a per-read timeout, the response never ends."""

    def __init__(self) -> None:
        self.arrivals: list[float] = []
        self.server: asyncio.Server | None = None
        self.writers: list[asyncio.StreamWriter] = []

    async def start(self) -> Dripping:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return self

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/hooks"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.append(writer)
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.lower().split(b"\r\n")
                    if line.startswith(b"content-length:")
                )
                await reader.readexactly(length)
                self.arrivals.append(time.monotonic())
                writer.write(b"HTTP/1.1 200 OK\r\nx-drip: ")
                for _ in range(600):
                    await writer.drain()
                    await asyncio.sleep(0.1)
                    writer.write(b"z")
        writer.close()

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
        for writer in self.writers:
            writer.close()


@pytest.fixture
async def dripping() -> AsyncIterator[Dripping]:
    server = await Dripping().start()
    yield server
    await server.close()


async def deliveries(client: httpx.AsyncClient, headers: dict[str, str], endpoint: str) -> Any:
    response = await client.get(f"/v1/webhook-endpoints/{endpoint}/deliveries", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["data"]


async def all_in(
    client: httpx.AsyncClient, headers: dict[str, str], endpoint: str, status: str, count: int
) -> bool:
    found = await deliveries(client, headers, endpoint)
    return len(found) == count and all(d["status"] == status for d in found)


async def test_a_receiver_that_never_answers_blocks_nobody_and_is_retried_on_schedule(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    storefront: dict[str, str],
    healthy: Receiver,
    hanging: Receiver,
    run_dispatcher: Runner,  # noqa: F811
) -> None:
    stuck = await create_endpoint(client, admin, hanging.url)
    fine = await create_endpoint(client, admin, healthy.url)
    await run_dispatcher()
    orders = 3
    for _ in range(orders):
        await create_order(client, storefront)
    await healthy.wait_for(orders, within=10)
    await hanging.wait_for(orders, within=10)
    for request in healthy.requests:
        # delivered while the same event's attempt at the hanging endpoint awaited an answer
        first_hung = next(r.at for r in hanging.requests if r.id == request.id)
        assert request.at < first_hung + TIMEOUT
    await eventually(lambda: all_in(client, admin, fine["id"], "succeeded", orders))

    await hanging.wait_for(orders * ATTEMPTS, within=10 + orders * ATTEMPTS * (TIMEOUT + SLACK))
    await eventually(lambda: all_in(client, admin, stuck["id"], "failed", orders), within=10)
    for delivery in await deliveries(client, admin, stuck["id"]):
        assert delivery["attempt_count"] == ATTEMPTS
        assert [a["error"] for a in delivery["attempts"]] == [f"timed out after {TIMEOUT:g}s"] * (
            ATTEMPTS
        )
        assert all(a["status_code"] is None for a in delivery["attempts"])
        arrivals = [r.at for r in hanging.requests if r.id == delivery["event_id"]]
        assert len(arrivals) == ATTEMPTS
        # Each retry waits its delay counted from when the previous attempt ended (timed
        # out), as the dispatcher recorded them; the receiver's arrival times would also
        # include connection set-up, which a loaded machine stretches.
        attempts = delivery["attempts"]
        for (before, after), delay in zip(itertools.pairwise(attempts), SCHEDULE, strict=True):
            ended = datetime.fromisoformat(before["attempted_at"]) + timedelta(
                milliseconds=before["duration_ms"]
            )
            gap = (datetime.fromisoformat(after["attempted_at"]) - ended).total_seconds()
            assert delay - 0.05 <= gap <= delay + SLACK, attempts
            assert before["duration_ms"] >= TIMEOUT * 1000 - 50, attempts


async def test_a_receiver_that_drips_its_answer_times_out_all_the_same(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    storefront: dict[str, str],
    healthy: Receiver,
    dripping: Dripping,
    run_dispatcher: Runner,  # noqa: F811
) -> None:
    slow = await create_endpoint(client, admin, dripping.url, events=["order.created"])
    await create_endpoint(client, admin, healthy.url)
    await run_dispatcher()
    order = await create_order(client, storefront)
    await healthy.wait_for(1, within=5)
    await eventually(lambda: _attempted(client, admin, slow["id"]), within=TIMEOUT + SLACK + 2)
    (delivery,) = await deliveries(client, admin, slow["id"])
    (attempt,) = delivery["attempts"][:1]
    assert attempt["error"] == f"timed out after {TIMEOUT:g}s"
    assert attempt["duration_ms"] < (TIMEOUT + SLACK) * 1000
    assert delivery["status"] == "pending"  # retried on schedule, not held for the lease
    # other endpoints keep getting the order's later events meanwhile
    response = await client.post(
        f"/v1/orders/{order['id']}/cancel", json={"reason": "customer"}, headers=storefront
    )
    assert response.status_code == 200, response.text
    await healthy.wait_for(4, within=5)  # order.cancelled, refund.created, order.restock
    await eventually(lambda: all_in(client, admin, slow["id"], "failed", 1), within=15)
    assert len(dripping.arrivals) == ATTEMPTS


async def _attempted(client: httpx.AsyncClient, headers: dict[str, str], endpoint: str) -> bool:
    found = await deliveries(client, headers, endpoint)
    return bool(found) and found[0]["attempt_count"] >= 1
