"""Core statements for rows a write inserts, run by `session.execute` in the session's
transaction: an insert of one or many rows, several inserts as one statement, and the rows a
request holds back to write with its last statement.

An insert takes its rows as one JSON parameter, a list of objects that PostgreSQL unpacks
with `json_to_recordset` into the columns the rows name. So its shape (table, columns) does
not change with the number of rows, SQLAlchemy compiles it once and keeps it, and a creation's
rows are four parameters rather than one for each of their hundred-odd values (SQLAlchemy
and asyncpg processing each one cost more than the statement's own execution). A column
the rows do not name gets the model's default, its Python `default=` or the server's.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import (
    CTE,
    JSON,
    ColumnElement,
    Executable,
    LargeBinary,
    Table,
    bindparam,
    cast,
    column,
    func,
    insert,
    literal_column,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import Insert as InsertStatement
from sqlalchemy.sql.dml import Update as UpdateStatement

Then = Callable[[CTE], CTE]
"""A CTE built on another (an insert's fan-out reading what it inserted)."""


class Insert:
    """Inserts into `table`, of rows given as mappings by column key. The columns are the
    keys the rows name (every row of one statement names the same ones); a column they do
    not name gets the model's default, its Python `default=` or the server's."""

    def __init__(self, table: Table, *, returning: Sequence[str] = ()) -> None:
        self.table = table
        self.returning = tuple(returning)
        # JSON has no bytes: bytea's input format takes them as `\x` and hex digits.
        self._binary = frozenset(c.key for c in table.c if isinstance(c.type, LargeBinary))

    @functools.lru_cache(maxsize=256)  # noqa: B019 - module-level instances, never freed
    def statement(self, keys: tuple[str, ...], parameter: str = "rows") -> InsertStatement:
        """The insert of the rows naming `keys` that the parameter `parameter` holds (as
        `rows` makes them)."""
        columns = [self.table.c[key] for key in keys]
        rows = (
            func.json_to_recordset(bindparam(parameter, type_=JSON))
            # Named by the rows' keys (the objects' names), inserted into the columns.
            .table_valued(*(column(c.key, c.type) for c in columns))
            .render_derived(name="rows", with_types=True)
        )
        values = [_stored(rows.c[c.key], c.type) for c in columns]
        statement = insert(self.table).from_select(columns, select(*values))
        if self.returning:
            statement = statement.returning(*(self.table.c[name] for name in self.returning))
        return statement

    def rows(self, rows: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
        """The value of `statement`'s parameter for `rows`."""
        if not self._binary:
            return list(rows)
        return [
            {
                k: "\\x" + v.hex() if k in self._binary and v is not None else v
                for k, v in row.items()
            }
            for row in rows
        ]

    async def execute(self, session: AsyncSession, row: Mapping[str, Any]) -> Any:
        """Insert one row; the first RETURNING value, if any."""
        result = await session.execute(self.statement(tuple(row)), {"rows": self.rows([row])})
        return result.scalar() if self.returning else None


class Update:
    """Sets columns of rows of `table` found by their primary key `key`, from rows given as
    mappings by column key (the key's column among them). Of several rows for one key in
    one statement, the last one counts: PostgreSQL would update the row with any one."""

    def __init__(self, table: Table, *, key: str = "id") -> None:
        self.table = table
        self.key = key

    @functools.lru_cache(maxsize=64)  # noqa: B019 - module-level instances, never freed
    def statement(self, keys: tuple[str, ...], parameter: str = "rows") -> UpdateStatement:
        rows = (
            func.json_to_recordset(bindparam(parameter, type_=JSON))
            .table_valued(*(column(key, self.table.c[key].type) for key in keys))
            .render_derived(name="rows", with_types=True)
        )
        return (
            update(self.table)
            .where(self.table.c[self.key] == rows.c[self.key])
            .values({key: rows.c[key] for key in keys if key != self.key})
        )

    def rows(self, rows: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
        return list({row[self.key]: row for row in rows}.values())


def _stored(value: ColumnElement[Any], type_: Any) -> ColumnElement[Any]:
    """`value` as SQLAlchemy would store it: None in a JSON column is JSON `null` unless the
    column says otherwise (json_to_recordset makes it SQL NULL)."""
    if isinstance(type_, JSON) and not type_.none_as_null:
        return func.coalesce(value, cast(literal_column("'null'"), type_))
    return value


def keys_of(rows: Sequence[Mapping[str, Any]]) -> tuple[str, ...]:
    keys = tuple(rows[0])
    if any(tuple(row) != keys for row in rows):
        raise ValueError("every row of one insert must name the same columns, in one order")
    return keys


Part = tuple[str, "Insert | Update", tuple[str, ...], Then | None]
"""A CTE: its name, its insert, the columns its rows name, what follows it."""


@functools.lru_cache(maxsize=512)
def _composed(main: tuple[Insert, tuple[str, ...]] | None, parts: tuple[Part, ...]) -> Executable:
    ctes: list[CTE] = []
    for name, part, keys, then in parts:
        cte = part.statement(keys, f"{name}_rows").cte(name)
        ctes.append(cte)
        if then is not None:
            ctes.append(then(cte))
    if main is None:
        return select(literal_column("1")).add_cte(*ctes)
    return main[0].statement(main[1]).add_cte(*ctes)


async def _run(
    session: AsyncSession,
    main: tuple[Insert, Mapping[str, Any]] | None,
    parts: Sequence[tuple[str, Insert | Update, Sequence[Mapping[str, Any]], Then | None]],
) -> Any:
    """One statement: `main`'s row (if any) inserted with each part's rows as CTEs, which
    may reference each other (foreign keys are checked at the statement's end); `main`'s
    first RETURNING value."""
    values: dict[str, Any] = {}
    shape: list[Part] = []
    for name, part, rows, then in parts:
        if rows:
            shape.append((name, part, keys_of(rows), then))
            values[f"{name}_rows"] = part.rows(rows)
    if main is not None:
        values["rows"] = main[0].rows([main[1]])
    statement = _composed((main[0], tuple(main[1])) if main is not None else None, tuple(shape))
    result = await session.execute(statement, values)
    return result.scalar() if main is not None and main[0].returning else None


Rows = tuple[Insert, Sequence[Mapping[str, Any]]]


async def insert_together(
    session: AsyncSession, first: tuple[Insert, Mapping[str, Any]], *rest: Rows
) -> Any:
    """Insert one row with `first` and any number with each of `rest`, in one statement
    (one round trip); returns `first`'s first RETURNING value."""
    return await _run(
        session, first, [(f"i{i}", insert, rows, None) for i, (insert, rows) in enumerate(rest)]
    )


async def insert_with(
    session: AsyncSession, insert: Insert, row: Mapping[str, Any], then: Then
) -> None:
    """Insert one row and what `then` builds on it, in one statement."""
    await _run(session, None, [("i0", insert, [row], then)])


class Outbox:
    """Rows a request holds back to write with the statement that ends it (`write`): each
    change writes an outbox event and a timeline entry, and a round trip each was a good part
    of a write's cost. Only where nothing reads them back before then: the API's request
    transaction (`order_service.context.Context.outbox`)."""

    __slots__ = ("held",)

    def __init__(self) -> None:
        self.held: dict[str, tuple[Insert | Update, list[Mapping[str, Any]], Then | None]] = {}

    def hold(
        self,
        name: str,
        insert: Insert | Update,
        row: Mapping[str, Any],
        then: Then | None = None,
    ) -> None:
        """Hold `row` for `insert`. Rows of one `name` become one insert, a CTE of that name,
        so they keep the order they were held in; `then` builds a CTE to follow it (one that
        reads it, say). An `Update` sets columns of rows already written (the last row held
        for a key counts)."""
        self.held.setdefault(name, (insert, [], then))[1].append(row)

    async def write(
        self, session: AsyncSession, last: tuple[Insert, Mapping[str, Any]] | None = None
    ) -> None:
        """Write the rows held (and `last`'s row, if given) in one statement, and forget them."""
        held, self.held = self.held, {}
        if held or last is not None:
            parts = [(name, insert, rows, then) for name, (insert, rows, then) in held.items()]
            await _run(session, last, parts)
