"""Inserts built by `order_service.kit.sql` run in the session's transaction through
`session.execute`, give absent columns the model's defaults, and compile once per shape."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any, cast

import httpx
from sqlalchemy import Table, func, select, text

from order_service.auth.models import ApiKey
from order_service.events.models import Event
from order_service.kit import db as database
from order_service.kit import sql
from order_service.kit.ids import new_id
from order_service.orders.models import TimelineEntry
from tests.factories import create_order

_INSERT_EVENT = sql.Insert(cast(Table, Event.__table__), returning=("sequence",))
_INSERT_ENTRY = sql.Insert(cast(Table, TimelineEntry.__table__))
NOW = datetime(2026, 11, 1, tzinfo=UTC)


def _event(event_id: str) -> dict[str, Any]:
    return {
        "id": event_id,
        "type": "order.created",
        "order_id": None,
        "data": {},
        "created_at": NOW,
    }


async def _events(db: Any) -> list[str]:
    async with db() as session:
        return list((await session.scalars(select(Event.id).order_by(Event.id))).all())


async def test_inserts_roll_back_and_commit_with_the_orm(db: Any) -> None:
    async with db() as session:
        async with session.begin():
            await _INSERT_EVENT.execute(session, _event("evt_first"))
            session.add(ApiKey(id="key_x", name="x", role="ops", key_hash="h" * 64, prefix="p"))
            await session.flush()
            await session.rollback()
        async with session.begin():
            sequence = await _INSERT_EVENT.execute(session, _event("evt_a"))
        assert isinstance(sequence, int)
    assert await _events(db) == ["evt_a"]
    async with db() as session:
        assert await session.scalar(select(func.count()).select_from(ApiKey)) == 0


async def test_absent_columns_get_the_models_defaults(
    db: Any, client: httpx.AsyncClient, storefront: dict[str, str]
) -> None:
    """`TimelineEntry.data` has `default=dict` and is NOT NULL: a row without it gets `{}`,
    alone and in a multi-row insert held for the request's last statement."""
    order = await create_order(client, storefront)
    entry = {
        "order_id": order["id"], "action": "order.note", "message": "m", "actor_type": "system",
        "actor_id": None, "actor_name": "order-service", "actor_role": None, "created_at": NOW,
    }  # fmt: skip
    async with db() as session, session.begin():
        await _INSERT_ENTRY.execute(session, entry)
        sql.defer(session)
        for message in ("a", "b"):
            assert sql.hold(session, "timeline", _INSERT_ENTRY, {**entry, "message": message})
        await sql.write_deferred(session)
        found = (
            await session.execute(
                select(TimelineEntry.message, TimelineEntry.data)
                .where(TimelineEntry.order_id == order["id"], TimelineEntry.action == "order.note")
                .order_by(TimelineEntry.id)
            )
        ).all()
        await session.rollback()
    assert [tuple(row) for row in found] == [("m", {}), ("a", {}), ("b", {})]


async def test_multi_row_inserts_are_cacheable_statements() -> None:
    """A multi-row VALUES has no cache key (SQLAlchemy compiles it on every execution)."""
    for rows in (1, 2, 5):
        statement = _INSERT_EVENT.statement(tuple(_event("e")), rows, "p_")
        assert statement._generate_cache_key() is not None
        assert statement is _INSERT_EVENT.statement(tuple(_event("e")), rows, "p_")


async def test_autocommit_statements_commit_by_themselves(app: Any, db: Any) -> None:
    async with database.autocommit(app.state.services.engine) as conn:
        await conn.execute(
            _INSERT_EVENT.statement(tuple(_event("e")), 1),
            {f"0_{k}": v for k, v in _event("evt_alone").items()},
        )
        # Seen from another connection while this one is still checked out: committed.
        assert await _events(db) == ["evt_alone"]


async def test_the_databases_new_id_makes_the_services_ids(db: Any) -> None:
    """Webhook deliveries get their ids in SQL (`new_id`, a migration); they must look like,
    and sort by time with, the ids Python makes."""
    before = new_id("whd")
    async with db() as session:
        made = list(
            await session.scalars(text("SELECT new_id('whd') FROM generate_series(1, 500)"))
        )
    after = new_id("whd")
    assert len(set(made)) == 500
    assert all(re.fullmatch(r"whd_[0-9a-hjkmnp-tv-z]{26}", i) for i in made), made[:3]
    assert all(before[:14] <= i[:14] <= after[:14] for i in made)
    assert set("".join(i[14:] for i in made)) == set("0123456789abcdefghjkmnpqrstvwxyz")


def test_jsonb_parameters_are_the_json_of_their_values() -> None:
    value = {"a": [1, "two", None], "b": {"c": 1.5}}
    assert json.loads(database._json(value)) == value
    assert database._json({"a": "\ud800"}) == '{"a": "\\ud800"}'
    when = datetime(2026, 12, 1, 8, tzinfo=UTC)
    assert json.loads(database._json({"at": when})) == {"at": "2026-12-01T08:00:00Z"}
