"""asyncpg statements inside the request's SQLAlchemy transaction, for the statements every
write runs (API key, Idempotency-Key, order insert, outbox event, timeline entry) and the
order list's reads.

SQLAlchemy running a prebuilt Core statement over asyncpg costs about 0.3 ms of CPU (cache
key, parameter processing, the DBAPI cursor adapter, result wrapping, a greenlet switch each
way); asyncpg running its own cached prepared statement costs a tenth of that. On order
creation those statements were most of the API's CPU. They run on the session's own
connection and transaction, so they commit or roll back with everything else the request
did; the ORM is still used for everything that changes existing rows, and for reads other
than the order list (which built 50 ORM objects and their pydantic models a page).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import asyncpg
import pydantic_core
from sqlalchemy import JSON, Column, Select, Table
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.util import LRUCache

_CACHE = "order_service.sql.connection"
_DEFERRED = "order_service.sql.deferred"
_MISSING = object()


async def connection(session: AsyncSession) -> asyncpg.Connection:
    """The asyncpg connection under `session`'s transaction, which is begun if it was not."""
    transaction = session.sync_session.get_transaction()
    cached = session.info.get(_CACHE)
    if cached is not None and transaction is not None and cached[0] is transaction:
        return cached[1]
    sa_connection = await session.connection()
    fairy = await sa_connection.get_raw_connection()
    adapted: Any = fairy.dbapi_connection
    # SQLAlchemy's asyncpg adapter sends BEGIN lazily, before its own first statement; one
    # of ours may come first. (Private to SQLAlchemy 2.1, hence the version pin;
    # tests/test_sql.py fails if the transaction is not shared.)
    if adapted._transaction is None and adapted.isolation_level != "autocommit":
        await adapted._start_transaction()
    raw = fairy.driver_connection
    session.info[_CACHE] = (session.sync_session.get_transaction(), raw)
    return raw


@contextlib.asynccontextmanager
async def autocommit(engine: AsyncEngine) -> AsyncIterator[asyncpg.Connection]:
    """A pooled asyncpg connection outside any transaction: each statement commits by itself
    (no BEGIN or COMMIT round trip), for work that is one statement. Back to the pool on
    exit; with no transaction open, SQLAlchemy's reset-on-return sends nothing."""
    async with engine.connect() as sa_connection:
        fairy = await sa_connection.get_raw_connection()
        yield fairy.driver_connection


def _json(value: Any) -> str:
    """JSON text for a jsonb parameter: by pydantic's serialiser, several times faster than
    `json.dumps` on an event's order, and it takes values (datetimes) as the API shows them;
    by `json.dumps` for what it refuses (a lone surrogate, which PostgreSQL then refuses in
    turn, as it did before)."""
    try:
        return pydantic_core.to_json(value).decode()
    except pydantic_core.PydanticSerializationError:
        return json.dumps(pydantic_core.to_jsonable_python(value))


def _encoder(column: Column[Any]) -> Any:
    """How a value for `column` is sent: JSON columns as text (SQLAlchemy's asyncpg codec),
    with None as JSON `null` unless the column says otherwise, as SQLAlchemy does."""
    if isinstance(column.type, JSON):
        none_as_null = column.type.none_as_null
        return lambda v: None if v is None and none_as_null else _json(v)
    return None


class Insert:
    """`INSERT INTO table (columns) VALUES ($1, …) [RETURNING …]`, built from the model's
    table (`columns`, or all of them but `exclude`) so it cannot drift from the model. Each
    row is a mapping by column key; a key the row lacks is sent as NULL."""

    def __init__(
        self,
        table: Table,
        columns: Sequence[str] = (),
        *,
        exclude: Sequence[str] = (),
        returning: str = "",
    ) -> None:
        cols = (
            [table.c[name] for name in columns]
            if columns
            else [c for c in table.c if c.key not in exclude]
        )
        self.table = table.name
        self.names = ", ".join(c.name for c in cols)
        self.returning = returning
        # Few shapes recur (rows and where their parameters start): built once each.
        self._statements: LRUCache[tuple[int, int, bool], str] = LRUCache(256)
        self.sql = self.statement(1)
        self._keys = [c.key for c in cols]
        self._encoded = [
            (i, c.key, e) for i, c in enumerate(cols) if (e := _encoder(c)) is not None
        ]

    def statement(self, rows: int, first: int = 1, *, returning: bool = True) -> str:
        """The statement for `rows` rows, numbering parameters from `first`."""
        key = (rows, first, returning)
        text = self._statements.get(key)
        if text is None:
            text = self._statements[key] = self._statement(rows, first, returning)
        return text

    def _statement(self, rows: int, first: int, returning: bool) -> str:
        width = self.names.count(",") + 1
        values = ", ".join(
            "(" + ", ".join(f"${first + r * width + c}" for c in range(width)) + ")"
            for r in range(rows)
        )
        # Names from the model's metadata, values as parameters: nothing from a request.
        return f"INSERT INTO {self.table} ({self.names}) VALUES {values}" + (  # noqa: S608
            f" RETURNING {self.returning}" if returning and self.returning else ""
        )

    def args(self, row: Mapping[str, Any]) -> list[Any]:
        values = [row.get(key) for key in self._keys]
        for index, key, encode in self._encoded:
            value = row.get(key, _MISSING)
            if value is not _MISSING:
                values[index] = encode(value)
        return values

    async def execute(self, session: AsyncSession, row: Mapping[str, Any]) -> Any:
        """Insert one row; the first RETURNING value, if any."""
        conn = await connection(session)
        return await conn.fetchval(self.sql, *self.args(row))

    async def fetchrow(self, session: AsyncSession, row: Mapping[str, Any]) -> Any:
        """Insert one row; its RETURNING values."""
        conn = await connection(session)
        return await conn.fetchrow(self.sql, *self.args(row))


Rows = tuple[Insert, Sequence[Mapping[str, Any]]]


async def insert_together(
    session: AsyncSession, first: tuple[Insert, Mapping[str, Any]], *rest: Rows
) -> Any:
    """Insert one row with `first` and any number with each of `rest`, in one statement (one
    round trip: on the write paths the round trips were most of the API's CPU); returns
    `first`'s RETURNING value. Rows of one statement may reference each other: foreign keys
    are checked at its end."""
    insert, row = first
    args = insert.args(row)
    parts = []
    for i, (other, rows) in enumerate(part for part in rest if part[1]):
        parts.append(f"i{i} AS ({other.statement(len(rows), len(args) + 1, returning=False)})")
        for other_row in rows:
            args += other.args(other_row)
    query = insert.statement(1)
    if parts:
        query = f"WITH {', '.join(parts)} {query}"
    conn = await connection(session)
    return await conn.fetchval(query, *args)


def defer(session: AsyncSession) -> None:
    """Hold the rows `hold` is given in `session` from now on, to be written with the
    statement that ends the request (`take_deferred`, or `write_deferred`): each change
    writes an outbox event and a timeline entry, and a round trip each was a good part of
    a write's cost. Only where nothing reads them back before then: the API's request
    transaction."""
    session.info[_DEFERRED] = {}


def hold(
    session: AsyncSession, name: str, insert: Insert, row: Mapping[str, Any], then: str = ""
) -> bool:
    """Hold `row` for `insert` if `session` defers (False if not: write it now). Rows of one
    `name` become one multi-row INSERT, a CTE of that name, so they keep the order they
    were held in; `then` is a CTE to follow it (one that reads it, say)."""
    held = session.info.get(_DEFERRED)
    if held is None:
        return False
    held.setdefault(name, (insert, [], then))[1].append(row)
    return True


def take_deferred(session: AsyncSession, first: int) -> tuple[str, list[Any]] | None:
    """The held rows as CTEs to put before another statement, parameters numbered from
    `first`, and their values; None when none are held. Stops holding."""
    held = session.info.pop(_DEFERRED, None)
    if not held:
        return None
    ctes: list[str] = []
    args: list[Any] = []
    for name, (insert, rows, then) in held.items():
        ctes.append(f"{name} AS ({insert.statement(len(rows), first + len(args))})")
        if then:
            ctes.append(then)
        args += [value for row in rows for value in insert.args(row)]
    return ", ".join(ctes), args


async def write_deferred(session: AsyncSession) -> None:
    """Write whatever rows are held, in one statement. Stops holding."""
    held = take_deferred(session, 1)
    if held is not None:
        conn = await connection(session)
        await conn.execute(f"WITH {held[0]} SELECT 1", *held[1])


_DIALECT = PGDialect_asyncpg(dbapi=PGDialect_asyncpg.import_dbapi())  # type: ignore[no-untyped-call]
_COMPILED: LRUCache[Any, SQLCompiler] = LRUCache(100)
"""Compiled statements by cache key. The cache key, its values and the bind processors are
SQLAlchemy's own machinery for its compiled cache (partly private: the version is pinned, and
tests/test_sql.py runs `fetch`)."""


async def fetch(target: AsyncSession | asyncpg.Connection, query: Select[Any]) -> list[Any]:
    """Run a Core `query` on asyncpg (on `target`, or the connection under a session's
    transaction) and return asyncpg's records, with asyncpg's values: PostgreSQL's own types
    need none of SQLAlchemy's result processing, and JSON comes decoded by the codecs
    SQLAlchemy installs on its connections.

    The statement is compiled once per shape, as SQLAlchemy's own cache does: queries built
    the same way with other values share a cache key, and only the values are read from each
    (a compilation costs more than running the statement on asyncpg)."""
    key = query._generate_cache_key()
    compiled = _COMPILED.get(key.key) if key is not None else None
    if compiled is None:
        compiled = _compile(query, key)
        if key is not None:
            _COMPILED[key.key] = compiled
    values = compiled.construct_params(
        extracted_parameters=key.bindparams if key is not None else None, escape_names=False
    )
    processors = compiled._bind_processors
    args = [
        processors[name](values[name]) if name in processors else values[name]  # type: ignore[operator]
        for name in compiled.positiontup or ()
    ]
    conn = target if isinstance(target, asyncpg.Connection) else await connection(target)
    return await conn.fetch(compiled.string, *args)  # type: ignore[no-any-return]


def _compile(query: Select[Any], key: Any) -> SQLCompiler:
    compiled = query.compile(dialect=_DIALECT, cache_key=key)
    assert isinstance(compiled, SQLCompiler)
    # Values rendered into the SQL (IN lists, literal_execute) would be frozen into the cache.
    if compiled.post_compile_params or compiled.literal_execute_params:
        raise ValueError("sql.fetch takes bound values only: use = ANY(array) rather than IN")
    return compiled
