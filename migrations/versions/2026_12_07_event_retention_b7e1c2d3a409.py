"""event retention: events by age

Revision ID: b7e1c2d3a409
Revises: 5e1d0c4a7b21
Create Date: 2026-12-07 21:00:00+00:00

Workers delete events older than EVENT_RETENTION oldest first; without this index each run
would read the whole table. Built CONCURRENTLY, outside the migration's transaction, so
orders keep being written (every write inserts an event) while a large table is indexed.
A build that failed leaves an invalid index behind: it is dropped first, so running the
migration again finishes the job.
"""

from collections.abc import Sequence

from alembic import op


revision: str = 'b7e1c2d3a409'
down_revision: str | None = 'b7e1c2d3a402'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.get_context().autocommit_block():
        op.drop_index('ix_events_created_at_id', table_name='events', if_exists=True, postgresql_concurrently=True)
        op.create_index('ix_events_created_at_id', 'events', ['created_at', 'id'], unique=False, postgresql_concurrently=True)


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.drop_index('ix_events_created_at_id', table_name='events', postgresql_concurrently=True)
