"""Engine, sessions and the declarative base shared by every domain package."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import pydantic_core
from sqlalchemy import MetaData, event, func
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import DateTime

BIGINT_MAX = 2**63 - 1
"""The largest value a BIGINT column (order numbers, sequences) holds."""

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: DateTime(timezone=True)}


class Timestamps:
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())


def one_of(column: str, values: tuple[str, ...]) -> str:
    """SQL for a CHECK that `column` holds one of `values`."""
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def async_url(url: str) -> str:
    """Accept `postgresql://` and `postgres://` URLs and use the asyncpg driver for them."""
    parsed = make_url(url)
    if parsed.drivername in {"postgresql", "postgres", "postgresql+psycopg", "postgresql+psycopg2"}:
        parsed = parsed.set(drivername="postgresql+asyncpg")
    return parsed.render_as_string(hide_password=False)


def create_engine(url: str, *, pool_size: int = 10, **kwargs: Any) -> AsyncEngine:
    # A fixed pool: overflow connections opened in a burst and closed after it each cost a
    # backend start (and asyncpg's type introspection) when the database is busiest.
    engine = create_async_engine(
        async_url(url),
        pool_size=pool_size,
        max_overflow=0,
        pool_recycle=1800,
        connect_args={"server_settings": {"application_name": "order-service"}},
        json_serializer=_json,
        **kwargs,
    )
    event.listen(engine.sync_engine, "checkout", _check_alive)
    return engine


def _json(value: Any) -> str:
    """JSON text for a json(b) value: by pydantic's serialiser, several times faster than
    `json.dumps` on an event's order, and it takes values (datetimes) as the API shows them;
    by `json.dumps` for what it refuses (a lone surrogate, which PostgreSQL then refuses in
    turn)."""
    try:
        return pydantic_core.to_json(value).decode()
    except pydantic_core.PydanticSerializationError:
        return json.dumps(pydantic_core.to_jsonable_python(value))


@contextlib.asynccontextmanager
async def autocommit(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A pooled connection outside any transaction: each statement commits by itself (no
    BEGIN or COMMIT round trip), for work that is one statement."""
    async with engine.connect() as connection:
        yield await connection.execution_options(isolation_level="AUTOCOMMIT")


def _check_alive(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    """At checkout, drop a pooled connection whose socket has closed (the database restarted
    or failed over) and take another, instead of failing the request with it.

    SQLAlchemy's `pool_pre_ping` does the same with a round trip (BEGIN, a query, ROLLBACK
    with asyncpg) on every checkout, which cost about a tenth of an order creation; a
    restarting server closes its connections, and asyncpg knows at once."""
    if dbapi_connection.driver_connection.is_closed():
        raise DisconnectionError("the pooled connection was closed by the server")


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
