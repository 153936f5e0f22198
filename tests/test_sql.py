"""Inserts built by `order_service.kit.sql` run in the session's transaction through
`session.execute`, give absent columns the model's defaults, store every value as SQLAlchemy
would, and compile once per shape."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any, cast

import httpx
from sqlalchemy import Table, func, select, text

from order_service.auth.models import ApiKey
from order_service.events.models import Event
from order_service.http.idempotency import IdempotencyRecord
from order_service.kit import db as database
from order_service.kit import sql
from order_service.kit.ids import new_id
from order_service.orders.models import Order, TimelineEntry
from tests.factories import create_order

_INSERT_EVENT = sql.Insert(cast(Table, Event.__table__), returning=("sequence",))
_INSERT_ENTRY = sql.Insert(cast(Table, TimelineEntry.__table__))
_INSERT_ORDER = sql.Insert(cast(Table, Order.__table__))
_SAVE_RECORD = sql.Insert(cast(Table, IdempotencyRecord.__table__))
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
        outbox = sql.Outbox()
        for message in ("a", "b"):
            outbox.hold("timeline", _INSERT_ENTRY, {**entry, "message": message})
        await outbox.write(session)
        found = (
            await session.execute(
                select(TimelineEntry.message, TimelineEntry.data)
                .where(TimelineEntry.order_id == order["id"], TimelineEntry.action == "order.note")
                .order_by(TimelineEntry.id)
            )
        ).all()
        await session.rollback()
    assert [tuple(row) for row in found] == [("m", {}), ("a", {}), ("b", {})]


async def test_values_are_stored_as_sqlalchemy_stores_them(db: Any) -> None:
    """Rows travel as JSON: bytes (any, not only UTF-8), microseconds, 64-bit integers,
    arrays, text beyond the BMP and a JSON column's None (JSON `null`, as SQLAlchemy's
    JSON types store it) arrive unchanged."""
    when = datetime(2026, 11, 1, 8, 30, 15, 123456, tzinfo=UTC)
    record = {
        "scope": "s", "key": "k\u00e9\U0001f600", "fingerprint": "f", "method": "POST",
        "path": "/v1/x", "response_status": 201, "response_headers": {"etag": '"1"'},
        "response_body": bytes(range(256)), "expires_at": when,
    }  # fmt: skip
    order = {
        "id": "ord_x", "customer_email": "a@example.com", "currency": "EUR",
        "shipping_address": None, "subtotal": 2**63 - 1, "shipping_total": 0, "tax_total": 0,
        "discount_total": 0, "total": 0, "tags": ["a", "b,c", 'd"e'], "processed_at": when,
    }  # fmt: skip
    async with db() as session, session.begin():
        await _SAVE_RECORD.execute(session, record)
        await _INSERT_ORDER.execute(session, order)
        saved = (await session.execute(select(IdempotencyRecord.__table__))).one()
        stored = (
            await session.execute(
                select(
                    Order.subtotal,
                    Order.tags,
                    Order.processed_at,
                    func.jsonb_typeof(Order.shipping_address),
                    Order.total_paid,
                )
            )
        ).one()
        await session.rollback()
    assert saved._asdict() | {"created_at": None} == record | {"created_at": None}
    assert tuple(stored) == (2**63 - 1, ["a", "b,c", 'd"e'], when, "null", 0)


async def test_an_insert_compiles_once_whatever_its_number_of_rows(app: Any, db: Any) -> None:
    """One statement, and one compiled form, for one row or many (a multi-row VALUES would be
    compiled on every execution, as SQLAlchemy cannot cache it)."""
    cache: dict[Any, Any] = {}
    keys = tuple(_event("e"))
    async with database.autocommit(app.state.services.engine) as conn:
        conn = await conn.execution_options(compiled_cache=cache)
        for count in (1, 2, 5):
            rows = [_event(f"evt_{count}_{i}") for i in range(count)]
            statement = _INSERT_EVENT.statement(keys)
            assert statement is _INSERT_EVENT.statement(keys)
            result = await conn.execute(statement, {"rows": _INSERT_EVENT.rows(rows)})
            assert len(result.all()) == count
    assert len(cache) == 1
    assert len(await _events(db)) == 8


async def test_autocommit_statements_commit_by_themselves(app: Any, db: Any) -> None:
    async with database.autocommit(app.state.services.engine) as conn:
        await conn.execute(
            _INSERT_EVENT.statement(tuple(_event("e"))),
            {"rows": _INSERT_EVENT.rows([_event("evt_alone")])},
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
