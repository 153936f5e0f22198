"""fulfillments: parcels, tracking events, follow-ups; line_items.shipped_quantity

Revision ID: 2c9bf0df7bf2
Revises: 7fb5033565a0
Create Date: 2026-11-22 02:09:22.586394+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '2c9bf0df7bf2'
down_revision: str | None = '7fb5033565a0'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('follow_ups',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('order_id', sa.String(length=40), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('skip_reason', sa.String(length=40), nullable=True),
    sa.Column('event_id', sa.String(length=40), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("status IN ('scheduled', 'sent', 'skipped')", name=op.f('ck_follow_ups_status')),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_follow_ups_order_id_orders'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_follow_ups')),
    sa.UniqueConstraint('order_id', name=op.f('uq_follow_ups_order_id'))
    )
    op.create_index('ix_follow_ups_due_at_scheduled', 'follow_ups', ['due_at'], unique=False, postgresql_where=sa.text("status = 'scheduled'"))
    op.create_table('fulfillments',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('order_id', sa.String(length=40), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('shipment_status', sa.String(length=20), nullable=True),
    sa.Column('shipment_status_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('carrier', sa.String(length=100), nullable=True),
    sa.Column('service', sa.String(length=100), nullable=True),
    sa.Column('tracking_number', sa.String(length=64), nullable=True),
    sa.Column('tracking_url', sa.String(length=2048), nullable=True),
    sa.Column('notify_customer', sa.Boolean(), nullable=False),
    sa.Column('estimated_delivery_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('shipped_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("shipment_status IN ('label_printed', 'in_transit', 'delayed', 'out_for_delivery', 'attempted_delivery', 'ready_for_pickup', 'failure', 'delivered')", name=op.f('ck_fulfillments_shipment_status')),
    sa.CheckConstraint("status <> 'pending' OR shipped_at IS NULL", name=op.f('ck_fulfillments_pending_not_shipped')),
    sa.CheckConstraint("status IN ('pending', 'shipped', 'cancelled')", name=op.f('ck_fulfillments_status')),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_fulfillments_order_id_orders'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fulfillments'))
    )
    op.create_index('ix_fulfillments_order_id_id', 'fulfillments', ['order_id', 'id'], unique=False)
    op.create_table('fulfillment_line_items',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('fulfillment_id', sa.String(length=40), nullable=False),
    sa.Column('line_item_id', sa.String(length=40), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.CheckConstraint('quantity BETWEEN 1 AND 10000', name=op.f('ck_fulfillment_line_items_quantity_range')),
    sa.ForeignKeyConstraint(['fulfillment_id'], ['fulfillments.id'], name=op.f('fk_fulfillment_line_items_fulfillment_id_fulfillments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['line_item_id'], ['line_items.id'], name=op.f('fk_fulfillment_line_items_line_item_id_line_items'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fulfillment_line_items')),
    sa.UniqueConstraint('fulfillment_id', 'line_item_id', name=op.f('uq_fulfillment_line_items_fulfillment_id_line_item_id'))
    )
    op.create_index('ix_fulfillment_line_items_line_item_id', 'fulfillment_line_items', ['line_item_id'], unique=False)
    op.create_table('tracking_events',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('fulfillment_id', sa.String(length=40), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('location', sa.String(length=255), nullable=True),
    sa.Column('message', sa.String(length=1000), nullable=True),
    sa.Column('estimated_delivery_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('applied', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("status IN ('label_printed', 'in_transit', 'delayed', 'out_for_delivery', 'attempted_delivery', 'ready_for_pickup', 'failure', 'delivered')", name=op.f('ck_tracking_events_status')),
    sa.ForeignKeyConstraint(['fulfillment_id'], ['fulfillments.id'], name=op.f('fk_tracking_events_fulfillment_id_fulfillments'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tracking_events')),
    sa.UniqueConstraint('fulfillment_id', 'status', 'occurred_at', name=op.f('uq_tracking_events_fulfillment_id_status_occurred_at'))
    )
    op.add_column('line_items', sa.Column('shipped_quantity', sa.Integer(), server_default=sa.text('0'), nullable=False))
    # Before fulfilments existed, fulfilled units could only mean shipped ones.
    op.execute('UPDATE line_items SET shipped_quantity = fulfilled_quantity')
    op.create_check_constraint(
        op.f('ck_line_items_shipped_within_fulfilled'),
        'line_items',
        'shipped_quantity BETWEEN 0 AND fulfilled_quantity',
    )


def downgrade() -> None:
    op.drop_constraint(op.f('ck_line_items_shipped_within_fulfilled'), 'line_items', type_='check')
    op.drop_column('line_items', 'shipped_quantity')
    op.drop_table('tracking_events')
    op.drop_index('ix_fulfillment_line_items_line_item_id', table_name='fulfillment_line_items')
    op.drop_table('fulfillment_line_items')
    op.drop_index('ix_fulfillments_order_id_id', table_name='fulfillments')
    op.drop_table('fulfillments')
    op.drop_index('ix_follow_ups_due_at_scheduled', table_name='follow_ups', postgresql_where=sa.text("status = 'scheduled'"))
    op.drop_table('follow_ups')
