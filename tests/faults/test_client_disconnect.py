"""Clients that hang up mid-request, against a real uvicorn on loopback.

Either the whole change commits (order, line items, timeline, outbox event, idempotency
record) or none of it: never half an order. The test holds a lock on the outbox table so
the request is caught with its first rows written and not yet committed when the client
goes away.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import text

from tests.conftest import Keys
from tests.factories import create_order, order_body

BOUND = 10.0


@pytest.fixture
async def base_url(app: Any) -> AsyncIterator[str]:
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, lifespan="off", log_config=None, access_log=False
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    for _ in range(100):
        if server.started:
            break
        await asyncio.sleep(0.05)
    assert server.started
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await asyncio.wait_for(serving, BOUND)


def raw_request(path: str, key: str, body: bytes, headers: dict[str, str]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    lines += [f"Idempotency-Key: {key}", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def connect_and_send(base_url: str, data: bytes) -> asyncio.StreamWriter:
    host, port = base_url.removeprefix("http://").split(":")
    _, writer = await asyncio.open_connection(host, int(port))
    writer.write(data)
    await writer.drain()
    return writer


async def hang_up(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(ConnectionError):
        await writer.wait_closed()


async def counts(db: Any) -> dict[str, int]:
    tables = (
        "orders",
        "line_items",
        "order_timeline",
        "events",
        "idempotency_keys",
        "refunds",
        "transactions",
    )
    async with db() as session:
        return {
            table: int(await session.scalar(text(f"SELECT count(*) FROM {table}")))  # noqa: S608
            for table in tables
        }


@contextlib.asynccontextmanager
async def outbox_locked(db: Any) -> AsyncIterator[Any]:
    """Hold the outbox table: a request reaching its event insert waits there."""
    async with db() as session, session.begin():
        await session.execute(text("LOCK TABLE events IN ACCESS EXCLUSIVE MODE"))
        yield session


async def until_count(db: Any, sql: str, *, nonzero: bool, what: str) -> None:
    """Poll a `SELECT count(*)` until it is nonzero (or zero), within BOUND."""
    for _ in range(int(BOUND / 0.05)):
        async with db() as session:
            found = await session.scalar(text(sql))
        if bool(found) == nonzero:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"not within {BOUND}s: {what}")


async def wait_for_waiter(db: Any) -> None:
    """Until some transaction is queued behind our lock on the outbox."""
    await until_count(
        db,
        "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'events'::regclass",
        nonzero=True,
        what="a request reached the outbox",
    )


async def test_a_client_gone_before_its_body_arrived_leaves_nothing(
    base_url: str, api_keys: Keys, db: Any, caplog: pytest.LogCaptureFixture
) -> None:
    before = await counts(db)
    body = json.dumps(order_body()).encode()
    head = raw_request("/v1/orders", "half-sent", body, api_keys.headers("storefront"))
    await hang_up(await connect_and_send(base_url, head + body[: len(body) // 2]))
    await asyncio.sleep(0.3)
    assert await counts(db) == before
    # a hang-up is the client's doing: no 500, no traceback paging whoever is on call
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    # the key was not taken: the full request creates the order now
    async with httpx.AsyncClient(base_url=base_url, timeout=BOUND) as client:
        response = await client.post(
            "/v1/orders",
            content=body,
            headers=api_keys.headers(
                "storefront", **{"Idempotency-Key": "half-sent", "Content-Type": "application/json"}
            ),
        )
    assert response.status_code == 201, response.text
    assert "idempotent-replayed" not in response.headers
    after = await counts(db)
    assert after["orders"] == before["orders"] + 1


async def test_a_client_gone_while_its_order_is_written_gets_all_or_nothing(
    base_url: str, api_keys: Keys, db: Any
) -> None:
    before = await counts(db)
    body = json.dumps(order_body()).encode()
    head = raw_request("/v1/orders", "gone-mid-write", body, api_keys.headers("storefront"))
    async with outbox_locked(db):
        writer = await connect_and_send(base_url, head + body)
        await wait_for_waiter(db)  # body read; order and line items flushed, not committed
        await hang_up(writer)
        await asyncio.sleep(0.2)  # the server sees the connection go
    created = await settled(db, before, "orders")
    assert created in (0, 1)
    assert delta(before, await counts(db)) == {
        "orders": created,
        "line_items": len(order_body()["line_items"]) * created,
        "order_timeline": created,
        "events": created,
        "idempotency_keys": created,
        "refunds": 0,
        "transactions": created,  # the sale recorded at checkout
    }
    # the client retries with its key and learns the outcome: still one order
    async with httpx.AsyncClient(base_url=base_url, timeout=BOUND) as client:
        response = await client.post(
            "/v1/orders",
            content=body,
            headers=api_keys.headers(
                "storefront",
                **{"Idempotency-Key": "gone-mid-write", "Content-Type": "application/json"},
            ),
        )
    assert response.status_code == 201, response.text
    assert response.headers.get("idempotent-replayed") == ("true" if created else None)
    assert (await counts(db))["orders"] == before["orders"] + 1


async def test_a_client_gone_while_cancelling_gets_all_or_nothing(
    base_url: str, api_keys: Keys, db: Any
) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=BOUND) as client:
        order = await create_order(client, api_keys.headers("storefront"))
    before = await counts(db)
    body = json.dumps({"reason": "customer"}).encode()
    path = f"/v1/orders/{order['id']}/cancel"
    head = raw_request(path, "cancel-gone", body, api_keys.headers("storefront"))
    async with outbox_locked(db):
        writer = await connect_and_send(base_url, head + body)
        await wait_for_waiter(db)
        await hang_up(writer)
        await asyncio.sleep(0.2)
    cancelled = await settled(db, before, "refunds")
    async with httpx.AsyncClient(base_url=base_url, timeout=BOUND) as client:
        now = (await client.get(f"/v1/orders/{order['id']}", headers=api_keys.headers())).json()
    assert now["status"] == ("cancelled" if cancelled else "open")
    assert (now["version"] > order["version"]) == bool(cancelled)
    changes = delta(before, await counts(db))
    assert changes["refunds"] == cancelled
    # order.cancelled, refund.created, order.restock: all of them or none
    assert changes["events"] == 3 * cancelled
    assert (changes["order_timeline"] > 0) == bool(cancelled)
    assert changes["idempotency_keys"] == cancelled


async def settled(db: Any, before: dict[str, int], table: str) -> int:
    """How many rows the abandoned request added to `table`, once it has finished."""
    await asyncio.sleep(0.3)
    await until_count(
        db,
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND pid <> pg_backend_pid() "
        "AND (state = 'idle in transaction' OR wait_event_type = 'Lock')",
        nonzero=False,
        what="the abandoned request finished",
    )
    return (await counts(db))[table] - before[table]


def delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {table: after[table] - before[table] for table in before}
