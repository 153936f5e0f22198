"""secrets at rest: webhook signing secrets encrypted, replay records without secrets

Revision ID: b7e1c2d3a402
Revises: 5e1d0c4a7b21
Create Date: 2026-12-07 21:00:00+00:00

Webhook signing secrets were kept in plain text; they are encrypted with the key from
ORDER_SERVICE_ENCRYPTION_KEY (`order_service.kit.secrecy.Vault`; the public development key when
it is unset outside production), so this migration needs the same setting as the service.

The records of replayable responses (`idempotency_keys`) of the requests that create an API
key or a webhook secret held the secret; it is set to null in them, as the service now
records them. Old row versions stay on disk until PostgreSQL vacuums them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from order_service.kit import secrecy
from order_service.settings import get_settings

revision: str = 'b7e1c2d3a402'
down_revision: str | None = '5e1d0c4a7b21'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SCRUB = """
UPDATE idempotency_keys
   SET response_body = convert_to(jsonb_set(
         convert_from(response_body, 'UTF8')::jsonb, ARRAY[CAST(:field AS text)], 'null'
       )::text, 'UTF8')
 WHERE method = 'POST' AND response_status BETWEEN 200 AND 299
   AND response_headers->>'content-type' LIKE 'application/json%'
   AND ({paths})
"""


def _recrypt(old: tuple[str, str], new: tuple[str, str], change: str) -> None:
    """Write `old` columns' values, run through `change` (`seal` or `open`), into `new`, and
    empty `old` so the row versions written from here on hold no copy of them."""
    bind = op.get_bind()
    rows = bind.execute(sa.text(f"SELECT id, {old[0]}, {old[1]} FROM webhook_endpoints")).all()
    if not rows:
        return
    convert = getattr(secrecy.vault(get_settings()), change)
    update = sa.text(
        f"UPDATE webhook_endpoints SET {new[0]} = :current, {new[1]} = :previous, "
        f"{old[0]} = NULL, {old[1]} = NULL WHERE id = :id"
    )
    for id_, current, previous in rows:
        bind.execute(
            update,
            {
                "id": id_,
                "current": convert(current),
                "previous": convert(previous) if previous else None,
            },
        )


def upgrade() -> None:
    op.add_column('webhook_endpoints', sa.Column('secret_ciphertext', sa.Text(), nullable=True))
    op.add_column(
        'webhook_endpoints', sa.Column('previous_secret_ciphertext', sa.Text(), nullable=True)
    )
    op.alter_column('webhook_endpoints', 'secret', nullable=True)
    _recrypt(
        ('secret', 'previous_secret'), ('secret_ciphertext', 'previous_secret_ciphertext'), 'seal'
    )
    op.alter_column('webhook_endpoints', 'secret_ciphertext', nullable=False)
    op.drop_column('webhook_endpoints', 'previous_secret')
    op.drop_column('webhook_endpoints', 'secret')

    bind = op.get_bind()
    bind.execute(sa.text(_SCRUB.format(paths="path = '/v1/api-keys'")), {"field": "key"})
    bind.execute(
        sa.text(
            _SCRUB.format(
                paths="path = '/v1/webhook-endpoints' "
                "OR path LIKE '/v1/webhook-endpoints/%/rotate-secret'"
            )
        ),
        {"field": "secret"},
    )


def downgrade() -> None:
    # The secrets taken out of replay records are gone: nothing brings them back.
    op.add_column('webhook_endpoints', sa.Column('secret', sa.String(length=100), nullable=True))
    op.add_column(
        'webhook_endpoints', sa.Column('previous_secret', sa.String(length=100), nullable=True)
    )
    op.alter_column('webhook_endpoints', 'secret_ciphertext', nullable=True)
    _recrypt(
        ('secret_ciphertext', 'previous_secret_ciphertext'), ('secret', 'previous_secret'), 'open'
    )
    op.alter_column('webhook_endpoints', 'secret', nullable=False)
    op.drop_column('webhook_endpoints', 'previous_secret_ciphertext')
    op.drop_column('webhook_endpoints', 'secret_ciphertext')
