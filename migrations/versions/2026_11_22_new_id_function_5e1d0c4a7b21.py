"""new_id(prefix): the service's identifiers generated in SQL

Revision ID: 5e1d0c4a7b21
Revises: 99333dc4241d
Create Date: 2026-11-22 08:10:00+00:00

The same format as `order_service.kit.ids.new_id`: the prefix, `_`, then 26 Crockford base32
characters of 48 bits of Unix milliseconds and 80 random bits (from gen_random_uuid, with its
fixed version and variant bits left out). Writing an event inserts its webhook deliveries in
the same statement, so their ids are made in the database.
"""

from collections.abc import Sequence

from alembic import op


revision: str = '5e1d0c4a7b21'
down_revision: str | None = '99333dc4241d'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
CREATE FUNCTION new_id(prefix text) RETURNS text LANGUAGE sql VOLATILE PARALLEL SAFE AS $$
SELECT prefix || '_' || string_agg(
         substr('0123456789abcdefghjkmnpqrstvwxyz',
                substring(bits FROM i * 5 + 1 FOR 5)::bit(5)::int + 1, 1), '' ORDER BY i)
  FROM (SELECT B'00'
               || (floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint)::bit(48)
               || ('x' || substr(hex, 1, 12) || substr(hex, 21, 8))::bit(80) AS bits
          FROM (SELECT encode(uuid_send(gen_random_uuid()), 'hex') AS hex) AS r) AS b,
       generate_series(0, 25) AS i
$$
"""
    )


def downgrade() -> None:
    op.execute("DROP FUNCTION new_id(text)")
