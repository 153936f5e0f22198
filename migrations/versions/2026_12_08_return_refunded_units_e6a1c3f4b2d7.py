"""return refunded units: the units of a line refunded for returns

Revision ID: e6a1c3f4b2d7
Revises: d5f0b2e3c8a1
Create Date: 2026-12-08 03:10:00+00:00

* `line_items.return_refunded_quantity`: of the line's refunded and pending units, those
  refunded for returns (received, or claimed lost). They had shipped, so, unlike a plain
  refund's units (taken to be unshipped ones first), they never stop another unit
  shipping. Backfilled from the pending and succeeded refunds that name a return; a CHECK
  keeps it within the line's refunded and pending units.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'e6a1c3f4b2d7'
down_revision: str | None = 'd5f0b2e3c8a1'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        'line_items',
        sa.Column('return_refunded_quantity', sa.Integer(), server_default='0', nullable=False),
    )
    op.execute(
        """
        UPDATE line_items AS li SET return_refunded_quantity = units.quantity
        FROM (
            SELECT rli.line_item_id, sum(rli.quantity) AS quantity
            FROM refund_line_items AS rli JOIN refunds AS r ON r.id = rli.refund_id
            WHERE r.return_id IS NOT NULL AND r.status IN ('pending', 'succeeded')
            GROUP BY rli.line_item_id
        ) AS units
        WHERE li.id = units.line_item_id
        """
    )
    op.create_check_constraint(
        op.f('ck_line_items_return_refunds_within_refunds'), 'line_items',
        'return_refunded_quantity BETWEEN 0 AND refunded_quantity + refund_pending_quantity',
    )


def downgrade() -> None:
    op.drop_constraint(
        op.f('ck_line_items_return_refunds_within_refunds'), 'line_items', type_='check'
    )
    op.drop_column('line_items', 'return_refunded_quantity')
