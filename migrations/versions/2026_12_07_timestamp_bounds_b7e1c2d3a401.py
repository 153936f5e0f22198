"""timestamp bounds: every time a client sets lies between 2000 and year 9999

Revision ID: b7e1c2d3a401
Revises: b7e1c2d3a409
Create Date: 2026-12-07 21:00:00+00:00

The API refuses a timestamp before 2000-01-01 (and facts in the future, promises more than
a year ahead); these CHECK constraints keep any other path from storing one, or an infinite
or unreadable time (`-infinity`, year 1 and years past 9999 made every read of the row a
500). Each time a client sets, and each copy of one, gets `<column> >= 2000-01-01 AND
<column> < 10000-01-01`.

Rows written before the API refused such times are repaired first, so the constraints can
be added; nothing is deleted:

* an order's `processed_at` becomes its `created_at` (what the service uses when a client
  sends none) and its `delivered_at` its `updated_at`;
* a tracking event's `occurred_at` becomes its `created_at` (when the report arrived), a
  fulfilment's `shipped_at`, `shipment_status_at` and `delivered_at` its `updated_at`;
* a promise out of range (`estimated_dispatch_date`, `estimated_delivery_at`) is cleared:
  no promise rather than an absurd one;
* the copies (`line_items.processed_at`, `fulfillments.order_processed_at` and
  `promised_dispatch_date`) follow their order.

Downgrading drops the constraints and leaves the repaired values.
"""

from collections.abc import Sequence

from alembic import op


revision: str = 'b7e1c2d3a401'
down_revision: str | None = 'b7e1c2d3a409'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = {
    'orders': ('processed_at', 'estimated_dispatch_date', 'delivered_at'),
    'line_items': ('processed_at',),
    'fulfillments': (
        'shipment_status_at',
        'estimated_delivery_at',
        'shipped_at',
        'order_processed_at',
        'promised_dispatch_date',
        'delivered_at',
    ),
    'tracking_events': ('occurred_at', 'estimated_delivery_at'),
}


def _sane(column: str) -> str:
    return f"{column} >= '2000-01-01 00:00:00+00' AND {column} < '10000-01-01 00:00:00+00'"


def _repair(table: str, column: str, value: str) -> None:
    op.execute(f'UPDATE {table} SET {column} = {value} WHERE NOT ({_sane(column)})')


def _copy_from_order(table: str, column: str, source: str) -> None:
    op.execute(
        f'UPDATE {table} SET {column} = o.{source} FROM orders AS o '
        f'WHERE o.id = {table}.order_id AND NOT ({_sane(f"{table}.{column}")})'
    )


def upgrade() -> None:
    _repair('orders', 'processed_at', 'created_at')
    _repair('orders', 'estimated_dispatch_date', 'NULL')
    _repair('orders', 'delivered_at', 'updated_at')
    _copy_from_order('line_items', 'processed_at', 'processed_at')
    _copy_from_order('fulfillments', 'order_processed_at', 'processed_at')
    _copy_from_order('fulfillments', 'promised_dispatch_date', 'estimated_dispatch_date')
    for column in ('shipped_at', 'shipment_status_at', 'delivered_at'):
        _repair('fulfillments', column, 'updated_at')
    _repair('fulfillments', 'estimated_delivery_at', 'NULL')
    _repair('tracking_events', 'occurred_at', 'created_at')
    _repair('tracking_events', 'estimated_delivery_at', 'NULL')
    for table, columns in COLUMNS.items():
        for column in columns:
            op.create_check_constraint(op.f(f'ck_{table}_{column}_range'), table, _sane(column))


def downgrade() -> None:
    for table, columns in COLUMNS.items():
        for column in columns:
            op.drop_constraint(op.f(f'ck_{table}_{column}_range'), table, type_='check')
