"""orders api keys idempotency outbox

Revision ID: 073edf92279c
Revises: 
Create Date: 2026-11-22 01:56:40.793091+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '073edf92279c'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(sa.schema.CreateSequence(sa.Sequence('order_number_seq', start=1001)))
    op.create_table('api_keys',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("role IN ('storefront', 'ops', 'admin')", name=op.f('ck_api_keys_role')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_keys')),
    sa.UniqueConstraint('key_hash', name=op.f('uq_api_keys_key_hash'))
    )
    op.create_table('events',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('sequence', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('type', sa.String(length=64), nullable=False),
    sa.Column('order_id', sa.String(length=40), nullable=True),
    sa.Column('data', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_events')),
    sa.UniqueConstraint('sequence', name=op.f('uq_events_sequence'))
    )
    op.create_index('ix_events_order_id_sequence', 'events', ['order_id', 'sequence'], unique=False)
    op.create_index('ix_events_type_sequence', 'events', ['type', 'sequence'], unique=False)
    op.create_table('idempotency_keys',
    sa.Column('scope', sa.String(length=64), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('method', sa.String(length=10), nullable=False),
    sa.Column('path', sa.String(length=2048), nullable=False),
    sa.Column('response_status', sa.Integer(), nullable=False),
    sa.Column('response_headers', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('response_body', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('scope', 'key', name=op.f('pk_idempotency_keys'))
    )
    op.create_index(op.f('ix_idempotency_keys_expires_at'), 'idempotency_keys', ['expires_at'], unique=False)
    op.create_table('orders',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('number', sa.BigInteger(), server_default=sa.text("nextval('order_number_seq')"), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('financial_status', sa.String(length=20), nullable=False),
    sa.Column('fulfillment_status', sa.String(length=20), nullable=False),
    sa.Column('customer_id', sa.String(length=255), nullable=True),
    sa.Column('customer_email', sa.String(length=254), nullable=False),
    sa.Column('customer_name', sa.String(length=255), nullable=True),
    sa.Column('shipping_address', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('billing_address', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('taxes_included', sa.Boolean(), nullable=False),
    sa.Column('shipping_lines', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('tax_lines', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('discounts', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('subtotal', sa.BigInteger(), nullable=False),
    sa.Column('shipping_total', sa.BigInteger(), nullable=False),
    sa.Column('tax_total', sa.BigInteger(), nullable=False),
    sa.Column('discount_total', sa.BigInteger(), nullable=False),
    sa.Column('total', sa.BigInteger(), nullable=False),
    sa.Column('total_authorized', sa.BigInteger(), nullable=False),
    sa.Column('total_paid', sa.BigInteger(), nullable=False),
    sa.Column('total_refunded', sa.BigInteger(), nullable=False),
    sa.Column('total_fees', sa.BigInteger(), nullable=False),
    sa.Column('payment_gateway', sa.String(length=100), nullable=True),
    sa.Column('payment_reference', sa.String(length=255), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('tags', postgresql.ARRAY(sa.String(length=64)), nullable=False),
    sa.Column('source_name', sa.String(length=100), nullable=True),
    sa.Column('processed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('estimated_dispatch_date', sa.Date(), nullable=True),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancel_reason', sa.String(length=20), nullable=True),
    sa.Column('archived_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("financial_status IN ('pending', 'authorized', 'partially_paid', 'paid', 'partially_refunded', 'refunded', 'voided')", name=op.f('ck_orders_financial_status')),
    sa.CheckConstraint("fulfillment_status IN ('unfulfilled', 'in_progress', 'partially_fulfilled', 'fulfilled', 'delivered')", name=op.f('ck_orders_fulfillment_status')),
    sa.CheckConstraint("status IN ('open', 'cancelled', 'closed')", name=op.f('ck_orders_status')),
    sa.CheckConstraint('char_length(currency) = 3', name=op.f('ck_orders_currency_code')),
    sa.CheckConstraint('subtotal >= 0 AND shipping_total >= 0 AND tax_total >= 0 AND discount_total >= 0 AND total >= 0 AND total_refunded >= 0 AND total_paid >= 0 AND total_authorized >= 0 AND total_fees >= 0', name=op.f('ck_orders_money_non_negative')),
    sa.CheckConstraint('total_paid <= total', name=op.f('ck_orders_paid_within_total')),
    sa.CheckConstraint('total_refunded <= total_paid', name=op.f('ck_orders_refunded_within_paid')),
    sa.CheckConstraint('version >= 1', name=op.f('ck_orders_version_positive')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_orders')),
    sa.UniqueConstraint('number', name=op.f('uq_orders_number'))
    )
    op.create_index('ix_orders_created_at', 'orders', ['created_at'], unique=False)
    op.create_index('ix_orders_customer_email_lower', 'orders', [sa.text('lower(customer_email)')], unique=False)
    op.create_index('ix_orders_status_number', 'orders', ['status', 'number'], unique=False)
    op.create_table('line_items',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('order_id', sa.String(length=40), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('sku', sa.String(length=128), nullable=False),
    sa.Column('title', sa.String(length=255), nullable=False),
    sa.Column('variant_title', sa.String(length=255), nullable=True),
    sa.Column('product_id', sa.String(length=255), nullable=True),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('unit_price', sa.BigInteger(), nullable=False),
    sa.Column('refundable', sa.Boolean(), nullable=False),
    sa.Column('requires_shipping', sa.Boolean(), nullable=False),
    sa.Column('fulfilled_quantity', sa.Integer(), nullable=False),
    sa.Column('refunded_quantity', sa.Integer(), nullable=False),
    sa.Column('restocked_quantity', sa.Integer(), nullable=False),
    sa.CheckConstraint('fulfilled_quantity BETWEEN 0 AND quantity', name=op.f('ck_line_items_fulfilled_within_quantity')),
    sa.CheckConstraint('quantity BETWEEN 1 AND 10000', name=op.f('ck_line_items_quantity_range')),
    sa.CheckConstraint('refunded_quantity BETWEEN 0 AND quantity', name=op.f('ck_line_items_refunded_within_quantity')),
    sa.CheckConstraint('restocked_quantity BETWEEN 0 AND quantity', name=op.f('ck_line_items_restocked_within_quantity')),
    sa.CheckConstraint('unit_price >= 0', name=op.f('ck_line_items_unit_price_non_negative')),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_line_items_order_id_orders'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_line_items'))
    )
    op.create_index('ix_line_items_order_id_position', 'line_items', ['order_id', 'position'], unique=False)
    op.create_index('ix_line_items_sku', 'line_items', ['sku'], unique=False)
    op.create_table('order_timeline',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('order_id', sa.String(length=40), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('message', sa.String(length=1000), nullable=False),
    sa.Column('actor_type', sa.String(length=20), nullable=False),
    sa.Column('actor_id', sa.String(length=40), nullable=True),
    sa.Column('actor_name', sa.String(length=100), nullable=False),
    sa.Column('actor_role', sa.String(length=20), nullable=True),
    sa.Column('data', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_order_timeline_order_id_orders'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_order_timeline'))
    )
    op.create_index('ix_order_timeline_order_id_id', 'order_timeline', ['order_id', 'id'], unique=False)
    op.create_table('transactions',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('order_id', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('fee', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('gateway', sa.String(length=100), nullable=True),
    sa.Column('reference', sa.String(length=255), nullable=True),
    sa.Column('error_message', sa.String(length=1000), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("kind IN ('authorization', 'capture', 'sale', 'void', 'refund')", name=op.f('ck_transactions_kind')),
    sa.CheckConstraint("status IN ('success', 'failure')", name=op.f('ck_transactions_status')),
    sa.CheckConstraint('amount >= 0 AND fee >= 0', name=op.f('ck_transactions_money_non_negative')),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_transactions_order_id_orders'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_transactions'))
    )
    op.create_index('ix_transactions_order_id_created_at', 'transactions', ['order_id', 'created_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_transactions_order_id_created_at', table_name='transactions')
    op.drop_table('transactions')
    op.drop_index('ix_order_timeline_order_id_id', table_name='order_timeline')
    op.drop_table('order_timeline')
    op.drop_index('ix_line_items_sku', table_name='line_items')
    op.drop_index('ix_line_items_order_id_position', table_name='line_items')
    op.drop_table('line_items')
    op.drop_index('ix_orders_status_number', table_name='orders')
    op.drop_index('ix_orders_customer_email_lower', table_name='orders')
    op.drop_index('ix_orders_created_at', table_name='orders')
    op.drop_table('orders')
    op.drop_index(op.f('ix_idempotency_keys_expires_at'), table_name='idempotency_keys')
    op.drop_table('idempotency_keys')
    op.drop_index('ix_events_type_sequence', table_name='events')
    op.drop_index('ix_events_order_id_sequence', table_name='events')
    op.drop_table('events')
    op.drop_table('api_keys')
    op.execute(sa.schema.DropSequence(sa.Sequence('order_number_seq')))
