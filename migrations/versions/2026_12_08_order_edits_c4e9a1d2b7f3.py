"""order edits: the edits table, outstanding money and removed units

Revision ID: c4e9a1d2b7f3
Revises: b7e1c2d3a401
Create Date: 2026-12-08 10:00:00+00:00

* `order_edits`: one row per committed edit (its line changes, field changes, totals,
  outstanding and refund), read oldest first by `GET /v1/orders/{id}/edits`.
* `orders.total_edit_refunds`: refunds made for edits, pending or succeeded (a failed one
  gives its amount back), so `outstanding = total - total_paid + total_edit_refunds` is a
  function of the row. It never exceeds the order's refunds.
* `orders`: `total_paid <= total` no longer holds once an edit lowers the total of a paid
  order (the difference is refunded, or with `refund: false` owed); captures are held to
  what is outstanding by the service under the order's row lock, and the schema keeps
  `total_paid <= total_authorized` (a capture takes authorised money, a sale authorises
  what it takes).
* `line_items.quantity` may be 0 (a line an edit removed stays, for the history and the
  refunds and parcels that name it); `removed_quantity` counts units edits removed.
* `refunds.reason` gains `order_edited`.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql


revision: str = 'c4e9a1d2b7f3'
down_revision: str | None = 'b7e1c2d3a401'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REASONS = ('customer_request', 'damaged', 'not_as_described', 'wrong_item', 'late_delivery', 'cancellation', 'other')


def _reasons(values: Sequence[str]) -> str:
    return f"reason IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    op.create_table('order_edits',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('order_id', sa.String(length=40), nullable=False),
    sa.Column('reason', sa.String(length=20), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('changes', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('field_changes', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('total_before', sa.BigInteger(), nullable=False),
    sa.Column('total_after', sa.BigInteger(), nullable=False),
    sa.Column('outstanding_before', sa.BigInteger(), nullable=False),
    sa.Column('outstanding_after', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('refund_id', sa.String(length=40), nullable=True),
    sa.Column('restock', sa.Boolean(), nullable=False),
    sa.Column('refund', sa.Boolean(), nullable=False),
    sa.Column('notify_customer', sa.Boolean(), nullable=False),
    sa.Column('actor_id', sa.String(length=40), nullable=True),
    sa.Column('actor_name', sa.String(length=100), nullable=False),
    sa.Column('actor_role', sa.String(length=20), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("reason IN ('customer_request', 'out_of_stock', 'price_correction', 'other')", name=op.f('ck_order_edits_reason')),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_order_edits_order_id_orders'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_order_edits'))
    )
    op.create_index('ix_order_edits_order_id_id', 'order_edits', ['order_id', 'id'], unique=False)

    op.add_column('orders', sa.Column('total_edit_refunds', sa.BigInteger(), server_default='0', nullable=False))
    op.create_check_constraint(
        op.f('ck_orders_edit_refunds_within_refunds'), 'orders',
        'total_edit_refunds >= 0 AND total_edit_refunds <= total_refunded + total_refund_pending',
    )
    op.drop_constraint(op.f('ck_orders_paid_within_total'), 'orders', type_='check')
    op.create_check_constraint(
        op.f('ck_orders_paid_within_authorized'), 'orders', 'total_paid <= total_authorized'
    )

    op.add_column('line_items', sa.Column('removed_quantity', sa.Integer(), server_default='0', nullable=False))
    op.drop_constraint(op.f('ck_line_items_quantity_range'), 'line_items', type_='check')
    op.create_check_constraint(
        op.f('ck_line_items_quantity_range'), 'line_items', 'quantity BETWEEN 0 AND 10000'
    )
    op.create_check_constraint(
        op.f('ck_line_items_removed_non_negative'), 'line_items', 'removed_quantity >= 0'
    )

    op.drop_constraint(op.f('ck_refunds_reason'), 'refunds', type_='check')
    op.create_check_constraint(
        op.f('ck_refunds_reason'), 'refunds', _reasons((*REASONS, 'order_edited'))
    )


def downgrade() -> None:
    # Edit refunds keep their money; they become `other` refunds.
    op.execute("UPDATE refunds SET reason = 'other' WHERE reason = 'order_edited'")
    op.drop_constraint(op.f('ck_refunds_reason'), 'refunds', type_='check')
    op.create_check_constraint(op.f('ck_refunds_reason'), 'refunds', _reasons(REASONS))

    # Lines an edit emptied cannot exist before it: they go, with what names them.
    op.execute('DELETE FROM line_items WHERE quantity = 0')
    op.drop_constraint(op.f('ck_line_items_removed_non_negative'), 'line_items', type_='check')
    op.drop_constraint(op.f('ck_line_items_quantity_range'), 'line_items', type_='check')
    op.create_check_constraint(
        op.f('ck_line_items_quantity_range'), 'line_items', 'quantity BETWEEN 1 AND 10000'
    )
    op.drop_column('line_items', 'removed_quantity')

    op.drop_constraint(op.f('ck_orders_paid_within_authorized'), 'orders', type_='check')
    # An order an edit left paid above its total keeps its money: its total is not lowered,
    # so the old constraint holds again.
    op.execute('UPDATE orders SET total = total_paid WHERE total_paid > total')
    op.create_check_constraint(op.f('ck_orders_paid_within_total'), 'orders', 'total_paid <= total')
    op.drop_constraint(op.f('ck_orders_edit_refunds_within_refunds'), 'orders', type_='check')
    op.drop_column('orders', 'total_edit_refunds')

    op.drop_index('ix_order_edits_order_id_id', table_name='order_edits')
    op.drop_table('order_edits')
