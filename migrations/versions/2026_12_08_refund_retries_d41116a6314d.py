"""refund retries: a refund records the failed refund it replaces

Revision ID: d41116a6314d
Revises: e6a1c3f4b2d7
Create Date: 2026-12-08 03:00:00+00:00

* `refunds.retry_of`: the failed refund a refund replaces (`POST /v1/refunds/{id}/retry`),
  unique, so a failed refund is retried at most once whatever runs at the same time.
* `uq_refunds_one_cancellation_per_order` counts only a cancellation's first refund: the
  retry of its failed refund has the reason `cancellation` too.

Downgrading refuses (a unique violation) while an order has a retried cancellation refund:
the schema before could not hold two cancellation refunds of one order.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'd41116a6314d'
down_revision: str | None = 'e6a1c3f4b2d7'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ONE_CANCELLATION = 'uq_refunds_one_cancellation_per_order'


def upgrade() -> None:
    op.add_column('refunds', sa.Column('retry_of', sa.String(length=40), nullable=True))
    op.create_foreign_key(
        op.f('fk_refunds_retry_of_refunds'), 'refunds', 'refunds', ['retry_of'], ['id'],
        ondelete='CASCADE',
    )
    op.create_index(
        'uq_refunds_retry_of', 'refunds', ['retry_of'], unique=True,
        postgresql_where=sa.text('retry_of IS NOT NULL'),
    )
    op.drop_index(ONE_CANCELLATION, table_name='refunds')
    op.create_index(
        ONE_CANCELLATION, 'refunds', ['order_id'], unique=True,
        postgresql_where=sa.text("reason = 'cancellation' AND retry_of IS NULL"),
    )


def downgrade() -> None:
    op.drop_index(ONE_CANCELLATION, table_name='refunds')
    op.create_index(
        ONE_CANCELLATION, 'refunds', ['order_id'], unique=True,
        postgresql_where=sa.text("reason = 'cancellation'"),
    )
    op.drop_index('uq_refunds_retry_of', table_name='refunds')
    op.drop_constraint(op.f('fk_refunds_retry_of_refunds'), 'refunds', type_='foreignkey')
    op.drop_column('refunds', 'retry_of')
