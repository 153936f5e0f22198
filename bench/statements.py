"""What a locked change of one order costs the API process at each layer of the stack.

    python bench/statements.py [--orders 300] [--rounds 3] [--data-dir .data/statements]

A cancellation, a refund, a fulfilment, an edit and a return all start the same way: lock
the order's row, read its line items, change some of both, write them back. This does that
change (three line items' `restocked_quantity` and the order's `version`) in one process,
one transaction after another, and reports the CPU time (`time.process_time`: Python, the
driver and the event loop, not PostgreSQL) per transaction, through:

- **asyncpg**: the driver alone, prepared statements on one connection;
- **Core, connection**: the same statements as SQLAlchemy Core on an `AsyncConnection`;
- **Core, session**: the same on the `AsyncSession` the service's requests use;
- **ORM**: the service's own `orders.repository.get(lock=True)` (the order and its line
  items as ORM objects), attribute changes and a flush: what every change does today.

and, as the unit everything above is made of, one transaction with one single-row select
through each layer. It runs against its own embedded PostgreSQL with the service's schema
and orders created through the API. The figures are for comparing layers on one machine in
one sitting; `bench/instructions.py` counts whole requests.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, cast

import asyncpg
from sqlalchemy import Table, bindparam, select, update

ROOT = Path(__file__).resolve().parent.parent

Step = Callable[[str], Awaitable[None]]


async def _orders(url: str, count: int) -> list[str]:
    """`count` orders of `make bench`'s shape (three line items), created through the API."""
    from instructions import _post
    from run import ORDER_BODY

    from order_service.app import create_app
    from order_service.auth import service as keys
    from order_service.auth.schemas import Role
    from order_service.settings import Settings

    app = create_app(Settings(database_url=url, database_pool_size=2))
    async with app.router.lifespan_context(app):
        async with app.state.services.sessionmaker() as session, session.begin():
            _, admin = await keys.create_key(session, name="statements", role=Role.admin)
        authorization = f"Bearer {admin}".encode()
        return [
            json.loads(await _post(app, "/v1/orders", authorization, ORDER_BODY, 201))["id"]
            for _ in range(count)
        ]


async def _measure(url: str, order_ids: list[str], rounds: int) -> dict[str, float]:
    from run import asyncpg_kwargs

    from order_service.kit.db import create_engine, create_sessionmaker
    from order_service.orders import repository
    from order_service.orders.models import LineItem, Order

    orders, lines = cast(Table, Order.__table__), cast(Table, LineItem.__table__)
    engine = create_engine(url, pool_size=1)
    sessionmaker = create_sessionmaker(engine)
    raw = await asyncpg.connect(**asyncpg_kwargs(url))
    lock_order = select(orders).where(orders.c.id == bindparam("id")).with_for_update()
    read_lines = select(lines).where(lines.c.order_id == bindparam("id")).order_by(lines.c.position)
    restock = (
        update(lines)
        .where(lines.c.id == bindparam("line_id"))
        .values(restocked_quantity=bindparam("restocked"))
    )
    bump = update(orders).where(orders.c.id == bindparam("order_id")).values(version=bindparam("v"))
    one_row = select(orders.c.id).where(orders.c.id == bindparam("id"))

    def flipped(rows: Any) -> list[dict[str, Any]]:
        return [{"line_id": r["id"], "restocked": 1 - r["restocked_quantity"]} for r in rows]

    async def by_asyncpg(order_id: str) -> None:
        async with raw.transaction():
            order = await raw.fetchrow("SELECT * FROM orders WHERE id = $1 FOR UPDATE", order_id)
            assert order is not None
            found = await raw.fetch(
                "SELECT * FROM line_items WHERE order_id = $1 ORDER BY position", order_id
            )
            await raw.executemany(
                "UPDATE line_items SET restocked_quantity = $2 WHERE id = $1",
                [(r["line_id"], r["restocked"]) for r in flipped(found)],
            )
            await raw.execute(
                "UPDATE orders SET version = $2 WHERE id = $1", order_id, order["version"] + 1
            )

    async def by_connection(order_id: str) -> None:
        async with engine.begin() as conn:
            order = (await conn.execute(lock_order, {"id": order_id})).mappings().one()
            found = (await conn.execute(read_lines, {"id": order_id})).mappings().all()
            await conn.execute(restock, flipped(found))
            await conn.execute(bump, {"order_id": order_id, "v": order["version"] + 1})

    async def by_session(order_id: str) -> None:
        async with sessionmaker() as session, session.begin():
            order = (await session.execute(lock_order, {"id": order_id})).mappings().one()
            found = (await session.execute(read_lines, {"id": order_id})).mappings().all()
            await session.execute(restock, flipped(found))
            await session.execute(bump, {"order_id": order_id, "v": order["version"] + 1})

    async def by_orm(order_id: str) -> None:
        async with sessionmaker() as session, session.begin():
            order = await repository.get(session, order_id, lock=True)
            for line in order.line_items:
                line.restocked_quantity = 1 - line.restocked_quantity
            order.version += 1
            await session.flush()

    async def one_asyncpg(order_id: str) -> None:
        async with raw.transaction():
            await raw.fetchrow("SELECT id FROM orders WHERE id = $1", order_id)

    async def one_connection(order_id: str) -> None:
        async with engine.begin() as conn:
            await conn.execute(one_row, {"id": order_id})

    async def one_session(order_id: str) -> None:
        async with sessionmaker() as session, session.begin():
            await session.execute(one_row, {"id": order_id})

    steps: dict[str, Step] = {
        "change an order with 3 lines: asyncpg": by_asyncpg,
        "change an order with 3 lines: Core, connection": by_connection,
        "change an order with 3 lines: Core, session": by_session,
        "change an order with 3 lines: ORM (the services' way)": by_orm,
        "one select in a transaction: asyncpg": one_asyncpg,
        "one select in a transaction: Core, connection": one_connection,
        "one select in a transaction: Core, session": one_session,
    }
    timings: dict[str, list[float]] = {name: [] for name in steps}
    try:
        for step in steps.values():  # warm the caches: prepared statements, compiled SQL
            for order_id in order_ids[:20]:
                await step(order_id)
        for _ in range(rounds):  # interleaved, so a slow moment of the VM hits every layer
            for name, step in steps.items():
                started = time.process_time()
                for order_id in order_ids:
                    await step(order_id)
                timings[name].append((time.process_time() - started) / len(order_ids) * 1e3)
    finally:
        await raw.close()
        await engine.dispose()
    return {name: statistics.median(values) for name, values in timings.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--data-dir", default=".data/statements")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "bench"))
    import uvloop
    from run import start_database

    from order_service.kit import migrations

    url = start_database((ROOT / args.data_dir).resolve())
    migrations.upgrade(url)
    order_ids = uvloop.run(_orders(url, args.orders))
    medians = uvloop.run(_measure(url, order_ids, args.rounds))
    print(f"CPU per transaction, median of {args.rounds} rounds of {args.orders}:\n")
    print("| transaction, through | ms |\n|---|---:|")
    for name, ms in medians.items():
        print(f"| {name} | {ms:.3f} |")


if __name__ == "__main__":
    main()
