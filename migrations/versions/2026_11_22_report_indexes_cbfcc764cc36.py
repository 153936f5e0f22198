"""report indexes

Revision ID: cbfcc764cc36
Revises: 7299dc0a28ca
Create Date: 2026-11-22 02:26:16.163909+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = 'cbfcc764cc36'
down_revision: str | None = '7299dc0a28ca'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_fulfillments_shipped_at', 'fulfillments', ['shipped_at'], unique=False, postgresql_where=sa.text("status = 'shipped'"))
    op.create_index('ix_orders_cancelled_at', 'orders', ['cancelled_at'], unique=False, postgresql_where=sa.text('cancelled_at IS NOT NULL'))
    op.create_index('ix_orders_processed_at', 'orders', ['processed_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_orders_processed_at', table_name='orders')
    op.drop_index('ix_orders_cancelled_at', table_name='orders', postgresql_where=sa.text('cancelled_at IS NOT NULL'))
    op.drop_index('ix_fulfillments_shipped_at', table_name='fulfillments', postgresql_where=sa.text("status = 'shipped'"))
