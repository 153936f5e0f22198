"""Statements the repositories send (`session.execute` with Core statements, several
inserts in one: `order_service.kit.sql`) fail the way the ORM's do: a constraint violation is
a 409 problem, a lost connection a 503 problem, and the request's changes roll back either
way, so a retry with the same Idempotency-Key acts once."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from order_service.kit.db import autocommit
from order_service.kit.ids import new_id
from order_service.orders import service as orders
from tests.factories import create_order, order_body, problem


async def _orders(client: httpx.AsyncClient, headers: dict[str, str]) -> int:
    listed = await client.get("/v1/orders", params={"limit": 250}, headers=headers)
    return len(listed.json()["data"])


async def test_a_constraint_violation_in_a_combined_insert_is_a_409_problem(
    client: httpx.AsyncClient,
    storefront: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    app: Any,
) -> None:
    first = await create_order(client, storefront)
    # The order insert (one statement with the lines, payment and timeline entry)
    # meets the primary key of an order that exists: PostgreSQL refuses it.
    monkeypatch.setattr(
        orders, "new_id", lambda prefix: first["id"] if prefix == "ord" else new_id(prefix)
    )
    headers = {**storefront, "Idempotency-Key": "collides-once"}
    response = await client.post("/v1/orders", json=order_body(), headers=headers)
    problem(response, 409, "conflict")
    # the failed request rolled back and gave its connection back
    assert app.state.services.engine.pool.checkedout() == 0
    assert await _orders(client, storefront) == 1

    monkeypatch.undo()
    retried = await client.post("/v1/orders", json=order_body(), headers=headers)
    assert retried.status_code == 201, retried.text
    assert retried.headers.get("Idempotent-Replayed") is None
    assert await _orders(client, storefront) == 2


Action = Callable[[AsyncSession], Awaitable[None]]


@pytest.fixture
def next_connection(monkeypatch: pytest.MonkeyPatch) -> list[Action]:
    """Actions run, once each, on the session of the next statement a request sends, before
    that statement."""
    pending: list[Action] = []
    execute = AsyncSession.execute

    async def first_running(session: AsyncSession, *args: Any, **kwargs: Any) -> Any:
        while pending:
            await pending.pop(0)(session)
        return await execute(session, *args, **kwargs)

    monkeypatch.setattr(AsyncSession, "execute", first_running)
    return pending


def terminated(app: Any) -> Action:
    """The session's PostgreSQL backend is terminated (from another connection), as in a
    crash or failover."""

    async def terminate(session: AsyncSession) -> None:
        raw = await (await session.connection()).get_raw_connection()
        conn: asyncpg.Connection = raw.driver_connection
        closed = asyncio.Event()
        conn.add_termination_listener(lambda _: closed.set())
        async with autocommit(app.state.services.engine) as other:
            await other.execute(
                text("SELECT pg_terminate_backend(:pid)"), {"pid": conn.get_server_pid()}
            )
        await asyncio.wait_for(closed.wait(), 10)

    return terminate


async def test_a_lost_connection_under_a_statement_is_a_503_problem(
    client: httpx.AsyncClient,
    storefront: dict[str, str],
    app: Any,
    next_connection: list[Action],
) -> None:
    order = await create_order(client, storefront)

    # A read: the API-key lookup is the request's first statement.
    next_connection.append(terminated(app))
    response = await client.get(f"/v1/orders/{order['id']}", headers=storefront)
    problem(response, 503, "service_unavailable")
    assert response.headers["Retry-After"] == "2"
    assert (await client.get(f"/v1/orders/{order['id']}", headers=storefront)).status_code == 200

    # A keyed write: the Idempotency-Key lock is its first statement. The retry creates the
    # order once.
    headers = {**storefront, "Idempotency-Key": "lost-connection"}
    next_connection.append(terminated(app))
    problem(
        await client.post("/v1/orders", json=order_body(), headers=headers),
        503,
        "service_unavailable",
    )
    assert await _orders(client, storefront) == 1
    retried = await client.post("/v1/orders", json=order_body(), headers=headers)
    assert retried.status_code == 201, retried.text
    assert await _orders(client, storefront) == 2


async def test_a_database_that_cannot_take_work_now_is_a_503_problem(
    client: httpx.AsyncClient, storefront: dict[str, str], next_connection: list[Action]
) -> None:
    """PostgreSQL refusing a statement with an "unavailable" SQLSTATE on a connection that
    stays open (as while it starts up or shuts down, or through a pooler): the SQLSTATE
    under SQLAlchemy's error decides."""

    async def refuse(session: AsyncSession) -> None:
        await AsyncSession.execute(
            session,
            text(
                "DO $$ BEGIN RAISE EXCEPTION 'the database system is starting up' "
                "USING ERRCODE = 'cannot_connect_now'; END $$"
            ),
        )

    next_connection.append(refuse)
    response = await client.get("/v1/orders", headers=storefront)
    problem(response, 503, "service_unavailable")
    assert (await client.get("/v1/orders", headers=storefront)).status_code == 200
