"""event order sequence: events numbered 1, 2, 3 … per order

Revision ID: c4a1e9d2f310
Revises: c4e9a1d2b7f3
Create Date: 2026-12-14 09:00:00+00:00

Each event of an order carries `sequence`, gapless per order in commit order, so a webhook
receiver can tell a lost event from a late one. The order row keeps the last number given
(`orders.last_event_sequence`), taken under the order's row lock by every change. Events
already written are numbered in the order they were inserted (the only order they have);
retention may have pruned an order's first events, so the numbering of old orders is
consecutive from 1 over the events that remain, and new events continue after them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = 'c4a1e9d2f310'
down_revision: str | None = 'c4e9a1d2b7f3'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('orders', sa.Column('last_event_sequence', sa.Integer(), server_default='0', nullable=False))
    op.add_column('events', sa.Column('order_sequence', sa.Integer(), nullable=True))
    op.execute("""UPDATE events e SET order_sequence = numbered.n
  FROM (SELECT id, row_number() OVER (PARTITION BY order_id ORDER BY sequence) AS n
          FROM events WHERE order_id IS NOT NULL) numbered
 WHERE e.id = numbered.id""")
    op.execute("""UPDATE orders o SET last_event_sequence = last.n
  FROM (SELECT order_id, max(order_sequence) AS n FROM events
         WHERE order_id IS NOT NULL GROUP BY order_id) last
 WHERE o.id = last.order_id""")
    op.create_index('uq_events_order_id_order_sequence', 'events', ['order_id', 'order_sequence'], unique=True)


def downgrade() -> None:
    op.drop_index('uq_events_order_id_order_sequence', table_name='events')
    op.drop_column('events', 'order_sequence')
    op.drop_column('orders', 'last_event_sequence')
