"""Report queries on a million orders: generate the data with SQL, then time each report
with and without its indexes. Usage:

    .venv/bin/python bench/reports.py [--orders 1000000] [--repeat 3]

Uses its own database (`reports_bench`) in the embedded PostgreSQL under .data/bench-reports;
the data is generated once and reused on later runs (pass --regenerate to rebuild it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from order_service.context import Context
from order_service.kit import embedded, migrations
from order_service.kit.db import create_engine, create_sessionmaker
from order_service.reports import service
from order_service.reports.schemas import Period
from order_service.settings import Settings

INDEXES = [
    "ix_orders_cancelled_at",
    "ix_orders_processed_at",
    "ix_fulfillments_shipped_at",
    "ix_line_items_processed_at",
    "ix_returns_order_id_id",
    "ix_return_line_items_line_item_id",
]

GENERATE = [
    """
    INSERT INTO orders (id, status, financial_status, fulfillment_status, customer_email,
        currency, taxes_included, shipping_lines, tax_lines, discounts, subtotal,
        shipping_total, tax_total, discount_total, total, total_authorized, total_paid,
        total_refunded, total_fees, tags, processed_at, estimated_dispatch_date, version,
        cancelled_at, cancel_reason, cancelled_by, created_at, updated_at)
    SELECT 'ord_bench' || g,
        CASE WHEN g % 10 = 0 THEN 'cancelled' ELSE 'open' END,
        'paid', 'unfulfilled', 'c' || (g % 50000) || '@example.com', 'USD', false,
        '[]', '[]', '[]', 4500, 500, 0, 0, 5000, 5000, 5000, 0, 150, '{}',
        t, (t + interval '2 days')::date, 1,
        CASE WHEN g % 10 = 0 THEN t + interval '20 minutes' END,
        CASE WHEN g % 10 = 0 THEN (ARRAY['customer','fraud','inventory','staff'])[1 + g % 4] END,
        CASE WHEN g % 10 = 0 THEN (ARRAY['customer','merchant'])[1 + g % 2] END,
        t, t
    FROM (SELECT g, now() - (g % 365) * interval '1 day' - (g % 1440) * interval '1 minute' AS t
          FROM generate_series(1, :orders) g) s
    """,
    """
    INSERT INTO line_items (id, order_id, position, sku, title, quantity, unit_price,
        refundable, requires_shipping, fulfilled_quantity, shipped_quantity,
        refunded_quantity, restocked_quantity, processed_at)
    SELECT 'li_bench' || g || '_' || p, o.id, p, 'SKU-' || ((g * 7 + p) % 500),
        'Item', 1 + p, 1000, true, true, 0, 0, 0, 0, o.processed_at
    FROM generate_series(1, :orders) g JOIN orders o ON o.id = 'ord_bench' || g,
        generate_series(0, 2) p
    """,
    """
    INSERT INTO fulfillments (id, order_id, status, shipment_status, carrier, tracking_number,
        notify_customer, shipped_at, delivered_at, estimated_delivery_at, order_processed_at,
        promised_dispatch_date, created_at, updated_at)
    SELECT 'ful_bench' || g, 'ord_bench' || g, 'shipped',
        CASE WHEN g % 5 = 0 THEN 'in_transit' ELSE 'delivered' END,
        (ARRAY['UPS','DHL','PostNord','FedEx','Royal Mail'])[1 + g % 5], 'T' || g, true,
        o.processed_at + (g % 96) * interval '1 hour',
        CASE WHEN g % 5 <> 0 THEN o.processed_at + (g % 96 + 24 + g % 72) * interval '1 hour' END,
        o.processed_at + interval '4 days', o.processed_at, o.estimated_dispatch_date,
        o.processed_at, o.processed_at
    FROM generate_series(1, :orders) g JOIN orders o ON o.id = 'ord_bench' || g
    WHERE g % 10 <> 0 AND g % 3 <> 0
    """,
    """
    INSERT INTO refunds (id, order_id, status, amount, shipping_amount, goodwill_amount,
        currency, method, reason, notify_customer, override_policy, actor_name, created_at)
    SELECT 'rf_bench' || g, 'ord_bench' || g,
        CASE WHEN g % 7 = 0 THEN 'failed' ELSE 'succeeded' END, 1000, 0, 0, 'USD',
        'original_payment',
        (ARRAY['damaged', 'not_as_described', 'wrong_item', 'late_delivery',
               'customer_request'])[1 + g % 5],
        true, false, 'bench', now()
    FROM generate_series(1, :orders) g WHERE g % 20 = 1
    """,
    """
    INSERT INTO refund_line_items (refund_id, line_item_id, position, quantity, amount,
        restock, restocked_quantity)
    SELECT 'rf_bench' || g, 'li_bench' || g || '_0', 0, 1, 1000, false, 0
    FROM generate_series(1, :orders) g WHERE g % 20 = 1
    """,
    """
    INSERT INTO returns (id, order_id, status, resolution, currency, override_policy,
        notify_customer, exchange_line_items, items_required, ship_replacement_first,
        expected_refund, refund_amount, deducted_amount, deductions, exchange_credit,
        actor_name, created_at, updated_at, received_at)
    SELECT 'ret_bench' || g, o.id, s.status,
        (ARRAY['refund', 'refund', 'store_credit', 'exchange'])[1 + g % 4], 'USD', false,
        true, '[]', g % 50 <> 3, false, 2000,
        CASE WHEN s.status IN ('received', 'closed') AND g % 4 < 3 THEN 2000 ELSE 0 END, 0,
        '[]', CASE WHEN s.status IN ('received', 'closed') AND g % 4 = 3 THEN 2000 ELSE 0 END,
        'bench', r.requested, r.requested,
        CASE WHEN s.status IN ('received', 'closed')
             THEN r.requested + (24 + g % 200) * interval '1 hour' END
    FROM generate_series(1, :orders) g JOIN orders o ON o.id = 'ord_bench' || g,
        LATERAL (SELECT (ARRAY['requested', 'approved', 'received', 'closed', 'closed',
                               'declined', 'cancelled'])[1 + g % 7] AS status) s,
        LATERAL (SELECT o.processed_at + (3 + g % 20) * interval '1 day' AS requested) r
    WHERE g % 16 = 3
    """,
    """
    INSERT INTO return_line_items (return_id, line_item_id, position, quantity, reason,
        received_quantity, disposition)
    SELECT r.id, 'li_bench' || substr(r.id, 10) || '_1', 0, 2,
        (ARRAY['damaged', 'defective', 'not_as_described', 'wrong_item', 'size_or_fit',
               'changed_mind', 'other'])[1 + substr(r.id, 10)::int % 7],
        CASE WHEN r.received_at IS NOT NULL THEN 2 ELSE 0 END,
        CASE WHEN r.received_at IS NOT NULL THEN 'restock' END
    FROM returns r WHERE r.id LIKE 'ret_bench%'
    """,
    """
    UPDATE line_items li SET returned_quantity = rl.received_quantity
    FROM return_line_items rl WHERE rl.line_item_id = li.id AND rl.received_quantity > 0
    """,
    "ANALYZE",
]


async def _generate(engine: AsyncEngine, orders: int) -> float:
    started = time.perf_counter()
    async with engine.begin() as conn:
        await conn.execute(text("SET LOCAL synchronous_commit = off"))
        for statement in GENERATE[:-1]:
            await conn.execute(text(statement), {"orders": orders})
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("ANALYZE"))
    return time.perf_counter() - started


async def _time(engine: AsyncEngine, repeat: int) -> dict[str, float]:
    sessions = create_sessionmaker(engine)
    settings = Settings()
    now = datetime.now(UTC)
    month = now - timedelta(days=30)
    cases: dict[str, Any] = {
        "cancellations, all time": lambda c: service.cancellations(c, None, None, Period.day),
        "cancellations, last 30 days": lambda c: service.cancellations(c, month, None, Period.day),
        "refunds, all time": lambda c: service.refunds(c, None, None),
        "refunds, last 30 days": lambda c: service.refunds(c, month, None),
        "returns, all time": lambda c: service.returns(c, None, None),
        "returns, last 30 days": lambda c: service.returns(c, month, None),
        "fulfillment, all time": lambda c: service.fulfillment(c, None, None),
        "fulfillment, last 30 days": lambda c: service.fulfillment(c, month, None),
    }
    results = {}
    for name, run in cases.items():
        timings = []
        for _ in range(repeat):
            async with sessions() as session:
                started = time.perf_counter()
                await run(Context.system(session, now, settings))
                timings.append(time.perf_counter() - started)
        results[name] = round(statistics.median(timings) * 1000, 1)
    return results


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--regenerate", action="store_true")
    args = parser.parse_args()

    url = embedded.start(".data/bench-reports", "reports_bench")
    await asyncio.to_thread(migrations.upgrade, url)
    engine = create_engine(url, pool_size=2)
    async with engine.connect() as conn:
        existing = await conn.scalar(text("SELECT count(*) FROM orders"))
    generated = None
    if args.regenerate or existing != args.orders:
        async with engine.begin() as conn:
            await conn.execute(
                text("TRUNCATE orders, refunds, fulfillments, returns RESTART IDENTITY CASCADE")
            )
        generated = round(await _generate(engine, args.orders), 1)

    with_indexes = await _time(engine, args.repeat)
    async with engine.begin() as conn:
        definitions = {
            row.indexname: row.indexdef
            for row in await conn.execute(
                text("SELECT indexname, indexdef FROM pg_indexes WHERE indexname = ANY(:n)"),
                {"n": INDEXES},
            )
        }
        for name in definitions:
            await conn.execute(text(f'DROP INDEX "{name}"'))
    without_indexes = await _time(engine, args.repeat)
    async with engine.begin() as conn:
        for definition in definitions.values():
            await conn.execute(text(definition))
    await engine.dispose()

    result = {
        "orders": args.orders,
        "generation_seconds": generated,
        "indexes": sorted(definitions),
        "ms_with_indexes": with_indexes,
        "ms_without_indexes": without_indexes,
    }
    Path("bench/results").mkdir(parents=True, exist_ok=True)
    Path("bench/results/reports.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"| report ({args.orders:,} orders) | with indexes, ms | without, ms |")
    print("|---|---:|---:|")
    for name, ms in with_indexes.items():
        print(f"| {name} | {ms} | {without_indexes[name]} |")


if __name__ == "__main__":
    asyncio.run(main())
