"""The schema is built by the migrations; they must also go down and up again cleanly."""

from __future__ import annotations

import asyncio
import uuid

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from order_service import migrations
from order_service.models import metadata
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
