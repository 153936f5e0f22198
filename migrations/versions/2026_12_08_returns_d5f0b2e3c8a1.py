"""returns: returns and their lines, returned units, exchange credit, refunds by return

Revision ID: d5f0b2e3c8a1
Revises: c4a1e9d2f310
Create Date: 2026-12-09 10:00:00+00:00

* `returns`, `return_line_items`: one row per return (its lifecycle, shipping details,
  refund and exchange) and per returned line (units asked, received, their disposition).
* `line_items`: `return_requested_quantity` (in open returns), `returned_quantity`
  (received), `exchanged_quantity` (returned units whose value paid an exchange order).
* `orders`: `return_status`, `exchanged_from_id` (an exchange order's original),
  `total_exchange_credit` (paid money moved to exchange orders: never refunded again, so
  it joins refunds in `refunds_within_paid`, as exchanged units join refunded units).
* `refunds.return_id`: the return a refund pays for.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = 'd5f0b2e3c8a1'
down_revision: str | None = 'c4a1e9d2f310'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('returns',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('order_id', sa.String(length=40), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('resolution', sa.String(length=20), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('customer_note', sa.Text(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('override_policy', sa.Boolean(), nullable=False),
    sa.Column('notify_customer', sa.Boolean(), nullable=False),
    sa.Column('exchange_line_items', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('items_required', sa.Boolean(), nullable=False),
    sa.Column('ship_replacement_first', sa.Boolean(), nullable=False),
    sa.Column('return_shipping', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('return_by', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decline_reason', sa.String(length=20), nullable=True),
    sa.Column('expected_refund', sa.BigInteger(), nullable=False),
    sa.Column('refund_id', sa.String(length=40), nullable=True),
    sa.Column('refund_amount', sa.BigInteger(), nullable=False),
    sa.Column('deducted_amount', sa.BigInteger(), nullable=False),
    sa.Column('deductions', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('exchange_order_id', sa.String(length=40), nullable=True),
    sa.Column('exchange_credit', sa.BigInteger(), nullable=False),
    sa.Column('actor_id', sa.String(length=40), nullable=True),
    sa.Column('actor_name', sa.String(length=100), nullable=False),
    sa.Column('actor_role', sa.String(length=20), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('approved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('declined_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("decline_reason IS NULL OR decline_reason IN ('outside_policy', 'not_eligible', 'no_proof', 'other')", name=op.f('ck_returns_decline_reason')),
    sa.CheckConstraint("resolution IN ('refund', 'store_credit', 'exchange')", name=op.f('ck_returns_resolution')),
    sa.CheckConstraint("return_by >= '2000-01-01 00:00:00+00' AND return_by < '10000-01-01 00:00:00+00'", name=op.f('ck_returns_return_by_range')),
    sa.CheckConstraint("status IN ('requested', 'approved', 'declined', 'received', 'closed', 'cancelled')", name=op.f('ck_returns_status')),
    sa.CheckConstraint('expected_refund >= 0 AND refund_amount >= 0 AND deducted_amount >= 0 AND exchange_credit >= 0', name=op.f('ck_returns_money')),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_returns_order_id_orders'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_returns'))
    )
    op.create_index('ix_returns_created_at', 'returns', ['created_at'], unique=False)
    op.create_index('ix_returns_order_id_id', 'returns', ['order_id', 'id'], unique=False)
    op.create_index('ix_returns_status_id', 'returns', ['status', 'id'], unique=False)
    op.create_table('return_line_items',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('return_id', sa.String(length=40), nullable=False),
    sa.Column('line_item_id', sa.String(length=40), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=20), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('received_quantity', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('disposition', sa.String(length=20), nullable=True),
    sa.Column('restocked_quantity', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('refunded_quantity', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.CheckConstraint("disposition IS NULL OR disposition IN ('restock', 'not_restocked', 'damaged', 'missing')", name=op.f('ck_return_line_items_disposition')),
    sa.CheckConstraint("reason IN ('damaged', 'defective', 'not_as_described', 'wrong_item', 'size_or_fit', 'changed_mind', 'other')", name=op.f('ck_return_line_items_reason')),
    sa.CheckConstraint('quantity BETWEEN 1 AND 10000', name=op.f('ck_return_line_items_quantity_range')),
    sa.CheckConstraint('received_quantity BETWEEN 0 AND quantity AND restocked_quantity BETWEEN 0 AND received_quantity', name=op.f('ck_return_line_items_received_within_quantity')),
    sa.ForeignKeyConstraint(['line_item_id'], ['line_items.id'], name=op.f('fk_return_line_items_line_item_id_line_items'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['return_id'], ['returns.id'], name=op.f('fk_return_line_items_return_id_returns'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_return_line_items'))
    )
    op.create_index('ix_return_line_items_line_item_id', 'return_line_items', ['line_item_id'], unique=False)
    op.create_index('ix_return_line_items_return_id', 'return_line_items', ['return_id'], unique=False)
    op.add_column('line_items', sa.Column('return_requested_quantity', sa.Integer(), server_default='0', nullable=False))
    op.add_column('line_items', sa.Column('returned_quantity', sa.Integer(), server_default='0', nullable=False))
    op.add_column('line_items', sa.Column('exchanged_quantity', sa.Integer(), server_default='0', nullable=False))
    op.add_column('orders', sa.Column('total_exchange_credit', sa.BigInteger(), server_default='0', nullable=False))
    op.add_column('orders', sa.Column('return_status', sa.String(length=20), server_default='none', nullable=False))
    op.add_column('orders', sa.Column('exchanged_from_id', sa.String(length=40), nullable=True))
    op.add_column('refunds', sa.Column('return_id', sa.String(length=40), nullable=True))
    op.create_index('ix_refunds_return_id', 'refunds', ['return_id'], unique=False, postgresql_where=sa.text('return_id IS NOT NULL'))
    _constraints(exchange=True)
    op.create_check_constraint(
        op.f('ck_orders_exchange_credit_non_negative'), 'orders', 'total_exchange_credit >= 0'
    )
    op.create_check_constraint(
        op.f('ck_orders_return_status'), 'orders',
        "return_status IN ('none', 'requested', 'in_progress', 'returned', 'partially_returned')",
    )
    op.create_check_constraint(
        op.f('ck_line_items_returns_within_quantity'), 'line_items',
        'return_requested_quantity >= 0 AND returned_quantity >= 0 '
        'AND return_requested_quantity + returned_quantity <= quantity',
    )


def _constraints(*, exchange: bool) -> None:
    op.drop_constraint(op.f('ck_orders_refunds_within_paid'), 'orders', type_='check')
    op.drop_constraint(op.f('ck_line_items_refunds_within_quantity'), 'line_items', type_='check')
    credit = ' + total_exchange_credit' if exchange else ''
    op.create_check_constraint(
        op.f('ck_orders_refunds_within_paid'), 'orders',
        f'total_refunded + total_refund_pending{credit} <= total_paid',
    )
    units = ' + exchanged_quantity' if exchange else ''
    op.create_check_constraint(
        op.f('ck_line_items_refunds_within_quantity'), 'line_items',
        'refunded_quantity >= 0 AND refund_pending_quantity >= 0'
        + (' AND exchanged_quantity >= 0' if exchange else '')
        + f' AND refunded_quantity + refund_pending_quantity{units} <= quantity',
    )


def downgrade() -> None:
    # Exchanged units and credit have no column to go to: the constraints forget them.
    op.drop_constraint(op.f('ck_line_items_returns_within_quantity'), 'line_items', type_='check')
    op.drop_constraint(op.f('ck_orders_return_status'), 'orders', type_='check')
    op.drop_constraint(op.f('ck_orders_exchange_credit_non_negative'), 'orders', type_='check')
    _constraints(exchange=False)
    op.drop_index('ix_refunds_return_id', table_name='refunds', postgresql_where=sa.text('return_id IS NOT NULL'))
    op.drop_column('refunds', 'return_id')
    op.drop_column('orders', 'exchanged_from_id')
    op.drop_column('orders', 'return_status')
    op.drop_column('orders', 'total_exchange_credit')
    op.drop_column('line_items', 'exchanged_quantity')
    op.drop_column('line_items', 'returned_quantity')
    op.drop_column('line_items', 'return_requested_quantity')
    op.drop_index('ix_return_line_items_return_id', table_name='return_line_items')
    op.drop_index('ix_return_line_items_line_item_id', table_name='return_line_items')
    op.drop_table('return_line_items')
    op.drop_index('ix_returns_status_id', table_name='returns')
    op.drop_index('ix_returns_order_id_id', table_name='returns')
    op.drop_index('ix_returns_created_at', table_name='returns')
    op.drop_table('returns')
