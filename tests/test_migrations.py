"""The schema is built by the migrations; they must also go down and up again cleanly."""

from __future__ import annotations

import asyncio
import json
import uuid

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from order_service import migrations, secrecy
from order_service.models import metadata
from order_service.settings import get_settings
from order_service.webhooks import signing
from tests.conftest import _admin


async def test_migrations_down_to_base_and_up_match_the_models(server_url: str) -> None:
    name = f"order_service_migrations_{uuid.uuid4().hex[:8]}"
    await _admin(server_url, f'CREATE DATABASE "{name}"')
    url = make_url(server_url).set(database=name, drivername="postgresql+asyncpg")
    rendered = url.render_as_string(hide_password=False)
    try:
        await asyncio.to_thread(migrations.upgrade, rendered)
        await asyncio.to_thread(migrations.downgrade, rendered, "base")
        await asyncio.to_thread(migrations.upgrade, rendered)
        engine = create_async_engine(rendered)
        async with engine.connect() as conn:
            diff = await conn.run_sync(
                lambda sync: compare_metadata(
                    MigrationContext.configure(sync, opts={"compare_type": True}), metadata
                )
            )
            tables = await conn.exec_driver_sql(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
            )
            assert tables.scalar() == len(metadata.tables) + 1  # + alembic_version
        await engine.dispose()
        assert diff == [], diff
    finally:
        await _admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_single_head() -> None:
    assert migrations.head() is not None


SECRETS_AT_REST = "b7e1c2d3a402"


async def test_secrets_at_rest_encrypts_webhook_secrets_and_clears_replayed_ones(
    server_url: str,
) -> None:
    name = f"order_service_migrations_{uuid.uuid4().hex[:8]}"
    await _admin(server_url, f'CREATE DATABASE "{name}"')
    url = make_url(server_url).set(database=name, drivername="postgresql+asyncpg")
    rendered = url.render_as_string(hide_password=False)
    scripts = ScriptDirectory.from_config(migrations.alembic_config(rendered))
    before = scripts.get_revision(SECRETS_AT_REST).down_revision
    assert isinstance(before, str)
    current, previous = signing.generate_secret(), signing.generate_secret()
    api_key = "osk_" + "k" * 43
    replays = {
        "/v1/api-keys": {"id": "key_1", "key": api_key},
        "/v1/webhook-endpoints": {"id": "whe_1", "secret": previous},
        "/v1/webhook-endpoints/whe_1/rotate-secret": {"id": "whe_1", "secret": current},
        "/v1/orders": {"id": "ord_1", "key": "not a secret"},
    }
    engine = create_async_engine(rendered)
    try:
        await asyncio.to_thread(migrations.upgrade, rendered, before)
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO webhook_endpoints (id, url, events, enabled, secret, "
                    "previous_secret, previous_secret_expires_at, created_at, updated_at) "
                    "VALUES ('whe_1', 'log://x', '[\"*\"]', true, :current, :previous, "
                    "now() + interval '1 hour', now(), now())"
                ),
                {"current": current, "previous": previous},
            )
            for path, body in replays.items():
                await conn.execute(
                    text(
                        "INSERT INTO idempotency_keys (scope, key, fingerprint, method, path, "
                        "response_status, response_headers, response_body, expires_at) "
                        "VALUES ('s', :path, 'f', 'POST', :path, 201, "
                        '\'{"content-type": "application/json"}\', :body, '
                        "now() + interval '1 day')"
                    ),
                    {"path": path, "body": json.dumps(body).encode()},
                )

        await asyncio.to_thread(migrations.upgrade, rendered)
        vault = secrecy.vault(get_settings())
        async with engine.connect() as conn:
            sealed = (
                await conn.execute(
                    text(
                        "SELECT secret_ciphertext, previous_secret_ciphertext "
                        "FROM webhook_endpoints"
                    )
                )
            ).one()
            bodies = dict(
                (await conn.execute(text("SELECT path, response_body FROM idempotency_keys"))).all()
            )
        assert (vault.open(sealed[0]), vault.open(sealed[1])) == (current, previous)
        assert {path: json.loads(body) for path, body in bodies.items()} == {
            "/v1/api-keys": {"id": "key_1", "key": None},
            "/v1/webhook-endpoints": {"id": "whe_1", "secret": None},
            "/v1/webhook-endpoints/whe_1/rotate-secret": {"id": "whe_1", "secret": None},
            "/v1/orders": {"id": "ord_1", "key": "not a secret"},
        }

        await asyncio.to_thread(migrations.downgrade, rendered, before)
        async with engine.connect() as conn:
            plain = (
                await conn.execute(text("SELECT secret, previous_secret FROM webhook_endpoints"))
            ).one()
        assert tuple(plain) == (current, previous)
    finally:
        await engine.dispose()
        await _admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
