"""Real PostgreSQL for every test: embedded by default, `TEST_DATABASE_URL` to use a server.

A fresh database is created for the run and built by running the Alembic migrations; every
test starts from empty tables. Requests go through the ASGI app with httpx, so each test
talks to the service the way a client does.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from order_service.app import create_app
from order_service.auth import service as keys
from order_service.auth.schemas import Role
from order_service.kit import embedded, migrations
from order_service.models import metadata
from order_service.settings import Environment, Settings


def _asyncpg_dsn(url: str) -> tuple[str, dict[str, Any]]:
    parsed = make_url(url)
    kwargs: dict[str, Any] = {
        "user": parsed.username or "postgres",
        "password": parsed.password or None,
        "database": parsed.database,
        "port": parsed.port or 5432,
    }
    host = parsed.query.get("host") or parsed.host or "localhost"
    kwargs["host"] = host if isinstance(host, str) else host[0]
    return url, kwargs


async def _admin(url: str, sql: str) -> None:
    _, kwargs = _asyncpg_dsn(url)
    kwargs["database"] = "postgres"
    conn = await asyncpg.connect(**kwargs)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def server_url() -> str:
    """URL of a database on the server the tests use (any database; a new one is made)."""
    configured = os.environ.get("TEST_DATABASE_URL")
    if configured:
        return configured
    return embedded.start(os.environ.get("ORDER_SERVICE_TEST_DATA_DIR", ".data/test"), "postgres")


@pytest.fixture(scope="session")
async def database_url(server_url: str) -> AsyncIterator[str]:
    name = f"order_service_test_{uuid.uuid4().hex[:10]}"
    await _admin(server_url, f'CREATE DATABASE "{name}"')
    url = make_url(server_url).set(database=name, drivername="postgresql+asyncpg")
    rendered = url.render_as_string(hide_password=False)
    await asyncio.to_thread(migrations.upgrade, rendered)
    yield rendered
    await _admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Clock:
    """Real time plus an offset a test can move forward."""

    offset: timedelta = field(default_factory=timedelta)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, delta: timedelta) -> None:
        self.offset += delta


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        env=Environment.test,
        database_url=database_url,
        webhook_allow_private_targets=True,
        database_pool_size=20,
    )


_TABLES = ", ".join(t.name for t in reversed(metadata.sorted_tables))


@pytest.fixture
async def app(settings: Settings, clock: Clock) -> AsyncIterator[Any]:
    application = create_app(settings, clock=clock)
    engine = application.state.services.engine
    async with engine.begin() as conn:
        await conn.exec_driver_sql(f"TRUNCATE {_TABLES} RESTART IDENTITY CASCADE")
        await conn.exec_driver_sql("ALTER SEQUENCE order_number_seq RESTART")
    yield application
    await engine.dispose()


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@dataclass(frozen=True)
class Keys:
    admin: str
    ops: str
    storefront: str

    def headers(self, role: str = "admin", **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {getattr(self, role)}", **extra}


@pytest.fixture
async def api_keys(app: Any) -> Keys:
    sessionmaker = app.state.services.sessionmaker
    async with sessionmaker() as session, session.begin():
        issued = {}
        for role in Role:
            _, issued[role.value] = await keys.create_key(session, name=f"{role} key", role=role)
    return Keys(**issued)


@pytest.fixture
def admin(api_keys: Keys) -> dict[str, str]:
    return api_keys.headers("admin")


@pytest.fixture
def ops(api_keys: Keys) -> dict[str, str]:
    return api_keys.headers("ops")


@pytest.fixture
def storefront(api_keys: Keys) -> dict[str, str]:
    return api_keys.headers("storefront")


@pytest.fixture
def db(app: Any) -> Any:
    """The app's sessionmaker, for assertions a client cannot make (row counts, raw state)."""
    return app.state.services.sessionmaker
