"""refunds and cancellation

Revision ID: 7fb5033565a0
Revises: 073edf92279c
Create Date: 2026-11-22 02:07:24.424770+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '7fb5033565a0'
down_revision: str | None = '073edf92279c'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('refunds',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('order_id', sa.String(length=40), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('shipping_amount', sa.BigInteger(), nullable=False),
    sa.Column('goodwill_amount', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('method', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.String(length=20), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('notify_customer', sa.Boolean(), nullable=False),
    sa.Column('override_policy', sa.Boolean(), nullable=False),
    sa.Column('actor_id', sa.String(length=40), nullable=True),
    sa.Column('actor_name', sa.String(length=100), nullable=False),
    sa.Column('actor_role', sa.String(length=20), nullable=True),
    sa.Column('reference', sa.String(length=255), nullable=True),
    sa.Column('failure_reason', sa.String(length=1000), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('settled_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("method IN ('original_payment', 'store_credit', 'gift_card')", name=op.f('ck_refunds_method')),
    sa.CheckConstraint("reason IN ('customer_request', 'damaged', 'not_as_described', 'wrong_item', 'late_delivery', 'cancellation', 'other')", name=op.f('ck_refunds_reason')),
    sa.CheckConstraint("status IN ('pending', 'succeeded', 'failed')", name=op.f('ck_refunds_status')),
    sa.CheckConstraint('amount >= 0 AND shipping_amount >= 0 AND goodwill_amount >= 0', name=op.f('ck_refunds_money')),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_refunds_order_id_orders'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_refunds'))
    )
    op.create_index('ix_refunds_order_id_created_at', 'refunds', ['order_id', 'created_at'], unique=False)
    op.create_index('ix_refunds_status_created_at', 'refunds', ['status', 'created_at'], unique=False)
    op.create_index('uq_refunds_one_cancellation_per_order', 'refunds', ['order_id'], unique=True, postgresql_where=sa.text("reason = 'cancellation'"))
    op.create_table('refund_line_items',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('refund_id', sa.String(length=40), nullable=False),
    sa.Column('line_item_id', sa.String(length=40), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('restock', sa.Boolean(), nullable=False),
    sa.Column('restocked_quantity', sa.Integer(), nullable=False),
    sa.CheckConstraint('amount >= 0', name=op.f('ck_refund_line_items_amount_non_negative')),
    sa.CheckConstraint('quantity BETWEEN 1 AND 10000', name=op.f('ck_refund_line_items_quantity_range')),
    sa.CheckConstraint('restocked_quantity BETWEEN 0 AND quantity', name=op.f('ck_refund_line_items_restocked_range')),
    sa.ForeignKeyConstraint(['line_item_id'], ['line_items.id'], name=op.f('fk_refund_line_items_line_item_id_line_items'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['refund_id'], ['refunds.id'], name=op.f('fk_refund_line_items_refund_id_refunds'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_refund_line_items'))
    )
    op.create_index('ix_refund_line_items_line_item_id', 'refund_line_items', ['line_item_id'], unique=False)
    op.create_index('ix_refund_line_items_refund_id', 'refund_line_items', ['refund_id'], unique=False)
    op.add_column('line_items', sa.Column('refund_pending_quantity', sa.Integer(), server_default='0', nullable=False))
    op.add_column('orders', sa.Column('total_refund_pending', sa.BigInteger(), server_default='0', nullable=False))
    op.add_column('orders', sa.Column('shipping_refunded', sa.BigInteger(), server_default='0', nullable=False))
    op.add_column('orders', sa.Column('shipping_refund_pending', sa.BigInteger(), server_default='0', nullable=False))
    op.add_column('orders', sa.Column('cancelled_by', sa.String(length=20), nullable=True))
    op.add_column('orders', sa.Column('reordered_from_id', sa.String(length=40), nullable=True))
    op.add_column('orders', sa.Column('reorder_ids', postgresql.ARRAY(sa.String(length=40)), server_default='{}', nullable=False))
    op.drop_constraint(op.f('ck_orders_refunded_within_paid'), 'orders', type_='check')
    op.create_check_constraint(
        op.f('ck_orders_refunds_within_paid'), 'orders',
        'total_refunded + total_refund_pending <= total_paid')
    op.create_check_constraint(
        op.f('ck_orders_shipping_refunds_within_shipping'), 'orders',
        'shipping_refunded + shipping_refund_pending <= shipping_total + tax_total')
    op.create_check_constraint(
        op.f('ck_orders_refund_money_non_negative'), 'orders',
        'total_refund_pending >= 0 AND shipping_refunded >= 0 AND shipping_refund_pending >= 0')
    op.create_check_constraint(
        op.f('ck_orders_cancelled_by'), 'orders',
        "cancelled_by IS NULL OR cancelled_by IN ('customer', 'merchant')")
    op.drop_constraint(op.f('ck_line_items_refunded_within_quantity'), 'line_items', type_='check')
    op.create_check_constraint(
        op.f('ck_line_items_refunds_within_quantity'), 'line_items',
        'refunded_quantity >= 0 AND refund_pending_quantity >= 0 '
        'AND refunded_quantity + refund_pending_quantity <= quantity')


def downgrade() -> None:
    op.drop_constraint(op.f('ck_line_items_refunds_within_quantity'), 'line_items', type_='check')
    op.create_check_constraint(
        op.f('ck_line_items_refunded_within_quantity'), 'line_items',
        'refunded_quantity BETWEEN 0 AND quantity')
    for name in ('cancelled_by', 'refund_money_non_negative', 'shipping_refunds_within_shipping',
                 'refunds_within_paid'):
        op.drop_constraint(op.f(f'ck_orders_{name}'), 'orders', type_='check')
    op.create_check_constraint(
        op.f('ck_orders_refunded_within_paid'), 'orders', 'total_refunded <= total_paid')
    op.drop_column('orders', 'reorder_ids')
    op.drop_column('orders', 'reordered_from_id')
    op.drop_column('orders', 'cancelled_by')
    op.drop_column('orders', 'shipping_refund_pending')
    op.drop_column('orders', 'shipping_refunded')
    op.drop_column('orders', 'total_refund_pending')
    op.drop_column('line_items', 'refund_pending_quantity')
    op.drop_index('ix_refund_line_items_refund_id', table_name='refund_line_items')
    op.drop_index('ix_refund_line_items_line_item_id', table_name='refund_line_items')
    op.drop_table('refund_line_items')
    op.drop_index('uq_refunds_one_cancellation_per_order', table_name='refunds', postgresql_where=sa.text("reason = 'cancellation'"))
    op.drop_index('ix_refunds_status_created_at', table_name='refunds')
    op.drop_index('ix_refunds_order_id_created_at', table_name='refunds')
    op.drop_table('refunds')
