"""Recording events in the outbox, in the caller's transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncSession

from order_service import errors, metrics, sql
from order_service.events.models import Event
from order_service.ids import new_id
from order_service.pagination import Page, decode_cursor, fetch_page
from order_service.webhooks.repository import FAN_OUT

TOPICS = (
    "order.created",
    "order.updated",
    "order.cancelled",
    "order.archived",
    "order.deleted",
    "order.restock",
    "fulfillment.created",
    "fulfillment.updated",
    "order.fulfilled",
    "order.delivered",
    "order.follow_up_due",
    "refund.created",
    "refund.succeeded",
    "refund.failed",
)

_INSERT = sql.Insert(
    cast(Table, Event.__table__),
    ("id", "type", "order_id", "data", "created_at"),
    returning="id, type, order_id, sequence, created_at",
)
_DEFERRED = "order_service.events.deferred"


def _ctes(events: int, first: int) -> str:
    """`event` inserting `events` events (parameters from `first`) and `delivery` fanning them
    out: one INSERT for all, so their sequence numbers follow the order they were emitted
    in (separate data-modifying CTEs would run in no set order)."""
    return f"event AS ({_INSERT.statement(events, first)}), delivery AS ({FAN_OUT})"


_WRITE = f"WITH {_ctes(1, 1)} SELECT sequence FROM event"  # noqa: S608 - no input


async def emit(
    session: AsyncSession,
    type_: str,
    *,
    order_id: str | None,
    data: dict[str, Any],
    now: datetime,
) -> Event:
    """Write one event and its webhook deliveries, in one statement (as an insert, a lookup
    of the subscribed endpoints, an ORM flush of the deliveries and a notify it was four
    round trips). They commit or roll back with the change they describe. In a session
    that `defer`s, the event is held and written with the request's last statement; its
    `sequence` is then not known here."""
    assert type_ in TOPICS, type_
    event = Event(id=new_id("evt"), type=type_, order_id=order_id, data=data, created_at=now)
    row = {"id": event.id, "type": type_, "order_id": order_id, "data": data, "created_at": now}
    metrics.on_commit(session, metrics.EVENTS, type=type_)
    held = session.info.get(_DEFERRED)
    if held is not None:
        held.append(row)
        return event
    conn = await sql.connection(session)
    event.sequence = await conn.fetchval(_WRITE, *_INSERT.args(row))
    return event


def defer(session: AsyncSession) -> None:
    """Hold the events `session` emits from now on for `take_deferred`/`write_deferred`:
    every change emits one, and writing it with the statement that ends the request (the
    Idempotency-Key record, when there is one) saves a round trip. Only where nothing reads
    the events back before then: the API's request transaction."""
    session.info[_DEFERRED] = []


def take_deferred(session: AsyncSession, first: int) -> tuple[str, list[Any]] | None:
    """The held events as CTEs to put before another statement, with parameters numbered
    from `first`, and their values; None when none are held. Stops holding."""
    rows = session.info.pop(_DEFERRED, None)
    if not rows:
        return None
    return _ctes(len(rows), first), [value for row in rows for value in _INSERT.args(row)]


async def write_deferred(session: AsyncSession) -> None:
    """Write whatever events are held, in one statement. Stops holding."""
    held = take_deferred(session, 1)
    if held is not None:
        conn = await sql.connection(session)
        await conn.execute(f"WITH {held[0]} SELECT 1", *held[1])


async def list_events(
    session: AsyncSession,
    *,
    type_: str | None,
    order_id: str | None,
    limit: int,
    cursor: str | None,
) -> Page[Event]:
    query = select(Event).order_by(Event.sequence.desc())
    if type_:
        query = query.where(Event.type == type_)
    if order_id:
        query = query.where(Event.order_id == order_id)
    if cursor:
        (before,) = decode_cursor(cursor, int)
        query = query.where(Event.sequence < before)
    return await fetch_page(session, query, limit, lambda e: e.sequence)


async def get_event(session: AsyncSession, event_id: str) -> Event:
    event = await session.get(Event, event_id)
    if event is None:
        raise errors.NotFound(f"No event with id {event_id}")
    return event
