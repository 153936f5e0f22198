"""Direct database shortcuts for states another capability produces (e.g. shipping)."""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
from sqlalchemy import event, func, select, update

from order_service.events.models import Event
from order_service.orders.models import Order


async def set_order(db: Any, order_id: str, **values: Any) -> None:
    async with db() as session, session.begin():
        await session.execute(update(Order).where(Order.id == order_id).values(**values))


async def fulfil(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    order: dict[str, Any],
    units: int = 1,
    status: str = "shipped",
) -> dict[str, Any]:
    """Fulfil `units` of the order's first line through the API (`pending` = picking)."""
    response = await client.post(
        f"/v1/orders/{order['id']}/fulfillments",
        json={
            "line_items": [{"line_item_id": order["line_items"][0]["id"], "quantity": units}],
            "status": status,
            "carrier": "UPS",
            "tracking_number": "1Z999",
        },
        headers=headers,
    )
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def count_events(db: Any, type_: str, order_id: str | None = None) -> int:
    async with db() as session:
        query = select(func.count()).select_from(Event).where(Event.type == type_)
        if order_id:
            query = query.where(Event.order_id == order_id)
        return int(await session.scalar(query) or 0)


@contextlib.asynccontextmanager
async def counting_statements(
    app: Any, *, transaction_control: bool = False
) -> AsyncIterator[list[str]]:
    """Every statement the app sends meanwhile (each once it has run, so that the BEGIN
    SQLAlchemy's asyncpg adapter sends before a transaction's first statement comes first);
    BEGIN, COMMIT and ROLLBACK only if `transaction_control`. Not asyncpg's look-up of a
    type it meets for the first time on a connection (once per connection and type)."""
    statements: list[str] = []
    engine = app.state.services.engine.sync_engine
    watched: list[Any] = []

    from_sqlalchemy: collections.Counter[str] = collections.Counter()

    def through_sqlalchemy(*args: Any) -> None:
        statements.append(args[2])
        from_sqlalchemy[args[2]] += 1

    def through_asyncpg(query: Any) -> None:
        if from_sqlalchemy[query.query]:  # asyncpg also logs SQLAlchemy's executemany
            from_sqlalchemy[query.query] -= 1
        elif any(part in query.query for part in _ASYNCPG_INTROSPECTION):
            pass
        elif (
            transaction_control
            or query.query.split(maxsplit=1)[0].upper().rstrip(";") not in _TRANSACTION_CONTROL
        ):
            statements.append(query.query)

    def checkout(dbapi_connection: Any, *_: Any) -> None:
        dbapi_connection.driver_connection.add_query_logger(through_asyncpg)
        watched.append(dbapi_connection.driver_connection)

    event.listen(engine, "after_cursor_execute", through_sqlalchemy)
    event.listen(engine, "checkout", checkout)
    try:
        yield statements
        await asyncio.sleep(0)  # asyncpg calls its query loggers soon, not at once
    finally:
        event.remove(engine, "checkout", checkout)
        event.remove(engine, "after_cursor_execute", through_sqlalchemy)
        for conn in watched:
            conn.remove_query_logger(through_asyncpg)


_TRANSACTION_CONTROL = {"BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE"}
_ASYNCPG_INTROSPECTION = ("typeinfo_tree", "set_config('jit'")
"""asyncpg's type introspection (with JIT off around it): the array columns of orders, which
a connection used to meet first as insert parameters, it now meets first in a read."""
