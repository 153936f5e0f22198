"""report snapshots

Revision ID: 99333dc4241d
Revises: cbfcc764cc36
Create Date: 2026-11-22 02:33:11.100323+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '99333dc4241d'
down_revision: str | None = 'cbfcc764cc36'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('fulfillments', sa.Column('order_processed_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('fulfillments', sa.Column('promised_dispatch_date', sa.Date(), nullable=True))
    op.add_column('line_items', sa.Column('processed_at', sa.DateTime(timezone=True), nullable=True))
    # Backfill from the orders: both values are fixed once an order exists.
    op.execute(
        "UPDATE line_items AS li SET processed_at = o.processed_at "
        "FROM orders AS o WHERE o.id = li.order_id"
    )
    op.execute(
        "UPDATE fulfillments AS f SET order_processed_at = o.processed_at, "
        "promised_dispatch_date = o.estimated_dispatch_date FROM orders AS o WHERE o.id = f.order_id"
    )
    op.create_index('ix_line_items_processed_at', 'line_items', ['processed_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_line_items_processed_at', table_name='line_items')
    op.drop_column('line_items', 'processed_at')
    op.drop_column('fulfillments', 'promised_dispatch_date')
    op.drop_column('fulfillments', 'order_processed_at')
