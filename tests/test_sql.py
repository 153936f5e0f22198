"""asyncpg statements (`order_service.sql`) share the session's transaction: they commit and
roll back with the ORM's changes, whichever runs first."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any, cast

import pytest
from sqlalchemy import String, Table, any_, bindparam, func, select, text
from sqlalchemy.dialects.postgresql import ARRAY

from order_service import sql
from order_service.auth.models import ApiKey
from order_service.events.models import Event
from order_service.ids import new_id

_INSERT_EVENT = sql.Insert(
    cast(Table, Event.__table__),
    ("id", "type", "order_id", "data", "created_at"),
    returning="sequence",
)
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


async def test_a_rollback_undoes_statements_sent_before_the_orm_began(db: Any) -> None:
    async with db() as session, session.begin():
        # First statement of the transaction: BEGIN has to be sent by `sql.connection`.
        await _INSERT_EVENT.execute(session, _event("evt_first"))
        session.add(ApiKey(id="key_x", name="x", role="ops", key_hash="h" * 64, prefix="p"))
        await session.flush()
        await session.rollback()
    assert await _events(db) == []
    async with db() as session:
        assert await session.scalar(select(func.count()).select_from(ApiKey)) == 0


async def test_statements_commit_with_the_orm_and_a_new_transaction_gets_a_fresh_connection(
    db: Any,
) -> None:
    async with db() as session:
        async with session.begin():
            session.add(ApiKey(id="key_x", name="x", role="ops", key_hash="h" * 64, prefix="p"))
            await session.flush()
            sequence = await _INSERT_EVENT.execute(session, _event("evt_a"))
        assert isinstance(sequence, int)
        # The same session, a second transaction: the cached connection must not be reused
        # outside its transaction.
        async with session.begin():
            await _INSERT_EVENT.execute(session, _event("evt_b"))
            await session.rollback()
    assert await _events(db) == ["evt_a"]


async def test_json_columns_are_sent_as_json_and_absent_keys_as_null(db: Any) -> None:
    async with db() as session, session.begin():
        await _INSERT_EVENT.execute(
            session, {**_event("evt_json"), "data": {"a": [1, "two", None]}, "order_id": None}
        )
    async with db() as session:
        event = await session.get(Event, "evt_json")
    assert event is not None
    assert event.data == {"a": [1, "two", None]}
    assert event.order_id is None


async def test_autocommit_statements_commit_by_themselves(app: Any, db: Any) -> None:
    async with sql.autocommit(app.state.services.engine) as conn:
        await conn.fetchval(_INSERT_EVENT.sql, *_INSERT_EVENT.args(_event("evt_alone")))
        # Seen from another connection while this one is still checked out: committed.
        assert await _events(db) == ["evt_alone"]
        assert not conn.is_in_transaction()


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
    # The first 10 characters after the prefix are the milliseconds.
    assert all(before[:14] <= i[:14] <= after[:14] for i in made)
    # And the other 16 are random: every character of the alphabet turns up in them.
    assert set("".join(i[14:] for i in made)) == set("0123456789abcdefghjkmnpqrstvwxyz")


async def test_fetch_compiles_each_shape_once_and_sends_each_querys_values(
    db: Any, monkeypatch: Any
) -> None:
    async with db() as session, session.begin():
        for i, type_ in enumerate(["order.created", "order.updated", "order.created"]):
            await _INSERT_EVENT.execute(session, {**_event(f"evt_{i}"), "type": type_})
    compiled: list[str] = []
    compile_ = sql._compile

    def counting(query: Any, key: Any) -> Any:
        compiled.append(str(query))
        return compile_(query, key)

    monkeypatch.setattr(sql, "_compile", counting)
    events = cast(Table, Event.__table__)

    def of(*ids: str, type_: str) -> Any:
        return (
            select(events.c.id, events.c.data)
            .where(events.c.id == any_(bindparam("ids", list(ids), type_=ARRAY(String))))
            .where(events.c.type == type_)
            .order_by(events.c.id)
        )

    async with db() as session, session.begin():
        created = await sql.fetch(session, of("evt_0", "evt_1", "evt_2", type_="order.created"))
        updated = await sql.fetch(session, of("evt_1", "evt_2", type_="order.updated"))
        none = await sql.fetch(await sql.connection(session), of("evt_0", type_="order.updated"))
    assert [(r["id"], r["data"]) for r in created] == [("evt_0", {}), ("evt_2", {})]
    assert [r["id"] for r in updated] == ["evt_1"]
    assert none == []
    assert len(compiled) == 1


async def test_fetch_refuses_values_rendered_into_the_sql(db: Any) -> None:
    async with db() as session:
        with pytest.raises(ValueError, match="ANY"):
            await sql.fetch(session, select(Event.id).where(Event.id.in_(["evt_a", "evt_b"])))


def test_jsonb_parameters_are_the_json_of_their_values() -> None:
    value = {"title": "Tee — «blå» ☕", "rate": 0.25, "lines": [1, None, True], "n": 2**60}
    assert json.loads(sql._json(value)) == value
    # pydantic's serialiser refuses a lone surrogate; json.dumps writes it as an escape,
    # which PostgreSQL then refuses, as it always did
    assert sql._json({"a": "\ud800"}) == '{"a": "\\ud800"}'
    when = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    assert json.loads(sql._json({"at": when})) == {"at": "2026-12-01T08:00:00Z"}
    assert json.loads(sql._json({"at": when, "a": "\ud800"})) == {
        "at": "2026-12-01T08:00:00Z",
        "a": "\ud800",
    }
