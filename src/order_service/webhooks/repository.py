"""Every query on webhook endpoints, deliveries and attempts."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    CTE,
    JSON,
    String,
    Table,
    TextClause,
    bindparam,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import selectinload

from order_service.kit.pagination import Page, PageRequest
from order_service.webhooks import errors
from order_service.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

PENDING, SUCCEEDED, FAILED = "pending", "succeeded", "failed"


async def get_endpoint(
    session: AsyncSession, endpoint_id: str, *, lock: bool = False
) -> WebhookEndpoint:
    query = select(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    endpoint = await session.scalar(query)
    if endpoint is None:
        raise errors.WebhookEndpointNotFound(f"No webhook endpoint with id {endpoint_id}.")
    return endpoint


async def list_endpoints(session: AsyncSession, *, page: PageRequest) -> Page[WebhookEndpoint]:
    query = select(WebhookEndpoint).order_by(WebhookEndpoint.id.desc())
    if page.cursor:
        (before,) = page.position(str)
        query = query.where(WebhookEndpoint.id < before)
    return await page.fetch(session, query, lambda e: e.id)


def _subscribes(type_: str) -> Any:
    return or_(
        WebhookEndpoint.events.op("@>")(literal([type_], JSONB)),
        WebhookEndpoint.events.op("@>")(literal(["*"], JSONB)),
    )


NOTIFY_CHANNEL = "order_service_webhooks"
"""Dispatchers LISTEN here; a transaction that writes deliveries notifies it on commit."""


def fan_out(event: CTE) -> CTE:
    """The fan-out of new events, as a data-modifying CTE reading a CTE `event` (the
    inserted events' id, type, order_id, sequence, created_at): one `pending` delivery for
    each enabled endpoint that wants each, and a notification for the dispatchers that
    PostgreSQL sends only when the transaction commits (repeats within it are sent once)."""
    endpoints = cast(Table, WebhookEndpoint.__table__)
    deliveries = cast(Table, WebhookDelivery.__table__)
    wanted = or_(
        endpoints.c.events.op("@>")(func.jsonb_build_array(event.c.type)),
        endpoints.c.events.op("@>")(literal(["*"], JSONB)),
    )
    source = (
        select(
            func.new_id("whd"),
            endpoints.c.id,
            event.c.id,
            event.c.type,
            event.c.order_id,
            event.c.sequence,
            literal_column(f"'{PENDING}'"),
            literal_column("0"),
            event.c.created_at,
            event.c.created_at,
            event.c.created_at,
        )
        .select_from(endpoints.join(event, wanted))
        .where(endpoints.c.enabled)
    )
    columns = (
        "id", "endpoint_id", "event_id", "event_type", "order_id", "sequence", "status",
        "attempt_count", "next_attempt_at", "created_at", "updated_at",
    )  # fmt: skip
    return (
        insert(deliveries)
        .from_select([deliveries.c[name] for name in columns], source, include_defaults=False)
        .returning(func.pg_notify(NOTIFY_CHANNEL, ""))
        .cte("delivery")
    )


async def notify(session: AsyncSession) -> None:
    """Wake the dispatchers once this transaction commits (never if it rolls back)."""
    await session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": NOTIFY_CHANNEL})


async def list_deliveries(
    session: AsyncSession,
    endpoint_id: str,
    *,
    status: str | None,
    event_id: str | None,
    page: PageRequest,
) -> Page[WebhookDelivery]:
    query = (
        select(WebhookDelivery)
        .where(WebhookDelivery.endpoint_id == endpoint_id)
        .options(selectinload(WebhookDelivery.attempts))
        .order_by(WebhookDelivery.sequence.desc())
    )
    if status:
        query = query.where(WebhookDelivery.status == status)
    if event_id:
        query = query.where(WebhookDelivery.event_id == event_id)
    if page.cursor:
        (before,) = page.position(int)
        query = query.where(WebhookDelivery.sequence < before)
    return await page.fetch(session, query, lambda d: d.sequence)


async def deliveries_of_event(session: AsyncSession, event_id: str) -> list[WebhookDelivery]:
    query = (
        select(WebhookDelivery)
        .where(WebhookDelivery.event_id == event_id)
        .options(selectinload(WebhookDelivery.attempts))
        .order_by(WebhookDelivery.endpoint_id)
        .execution_options(populate_existing=True)
    )
    return list((await session.scalars(query)).all())


async def endpoints_for_redelivery(
    session: AsyncSession, type_: str, endpoint_id: str | None
) -> list[WebhookEndpoint]:
    if endpoint_id is not None:
        return [await get_endpoint(session, endpoint_id)]
    query = select(WebhookEndpoint).where(WebhookEndpoint.enabled, _subscribes(type_))
    return list((await session.scalars(query)).all())


# The dispatcher's queries ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Claim:
    """A delivery a worker holds until `locked_until`; `token` fences its result."""

    delivery_id: str
    token: str
    attempt_count: int
    endpoint_id: str
    url: str
    secret_ciphertext: str
    previous_secret_ciphertext: str | None
    previous_secret_expires_at: datetime | None
    event_id: str
    event_type: str
    event_created_at: datetime
    event_data: dict[str, Any]
    order_id: str | None = None
    event_sequence: int | None = None
    """The event's `sequence` among its order's events."""


# What a claim reads, from the deliveries it just locked (`claimed`): the same for the
# dispatcher's sweep and for the next events of orders whose previous event was acknowledged.
_CLAIMED = """claimed AS (
    UPDATE webhook_deliveries d SET locked_until = :locked_until, claim_token = :token
      FROM due WHERE d.id = due.id
    RETURNING d.id, d.attempt_count, d.endpoint_id, d.event_id, d.sequence),
found AS (
    SELECT c.id, c.attempt_count, e.id AS endpoint_id, e.url, e.secret_ciphertext,
           e.previous_secret_ciphertext, e.previous_secret_expires_at, ev.id AS event_id,
           ev.type, ev.created_at, ev.data, ev.order_id, ev.order_sequence, c.sequence
      FROM claimed c
      JOIN webhook_endpoints e ON e.id = c.endpoint_id
      JOIN events ev ON ev.id = c.event_id)"""

_CLAIM = text(f"""WITH due AS (
    SELECT d.id
      FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
     WHERE d.status = '{PENDING}' AND d.next_attempt_at <= :now
       AND (d.locked_until IS NULL OR d.locked_until < :now)
       AND e.enabled
       AND NOT EXISTS (
           SELECT 1 FROM webhook_deliveries earlier
            WHERE earlier.status = '{PENDING}' AND earlier.endpoint_id = d.endpoint_id
              AND earlier.order_id = d.order_id AND earlier.sequence < d.sequence)
     ORDER BY d.next_attempt_at, d.sequence
     LIMIT :limit
       FOR UPDATE OF d SKIP LOCKED),
{_CLAIMED}
SELECT * FROM found ORDER BY sequence""")  # noqa: S608 - constants only; values are parameters


def _claims(rows: Sequence[Any], token: str) -> list[Claim]:
    return [
        Claim(
            delivery_id=row[0],
            token=token,
            attempt_count=row[1],
            endpoint_id=row[2],
            url=row[3],
            secret_ciphertext=row[4],
            previous_secret_ciphertext=row[5],
            previous_secret_expires_at=row[6],
            event_id=row[7],
            event_type=row[8],
            event_created_at=row[9],
            event_data=row[10],
            order_id=row[11],
            event_sequence=row[12],
        )
        for row in rows
        if row[0] is not None
    ]


async def claim(
    conn: AsyncConnection, *, now: datetime, token: str, limit: int, lease: timedelta
) -> list[Claim]:
    """Take up to `limit` due deliveries of enabled endpoints, skipping rows other workers
    hold, and deliveries with an earlier undelivered event of the same order for the same
    endpoint (those go out first).

    One statement on a connection outside any transaction, so it commits by itself before
    anything is sent: the dispatcher runs it for every batch, and as three ORM statements in
    a transaction it cost five round trips."""
    params = {"now": now, "limit": limit, "locked_until": now + lease, "token": token}
    return _claims((await conn.execute(_CLAIM, params)).all(), token)


@dataclass(frozen=True, slots=True)
class Acknowledged:
    """A delivery the endpoint acknowledged (2xx), to record."""

    claim: Claim
    attempt_id: str
    attempted_at: datetime
    status_code: int | None
    duration_ms: int


_ACKNOWLEDGED = text(f"""WITH acked AS (
    SELECT * FROM json_to_recordset(CAST(:acked AS json)) AS a(
        delivery_id text, token text, attempt_count int, status_code int,
        attempt_id text, attempted_at timestamptz, duration_ms int)),
delivered AS (
    UPDATE webhook_deliveries d
       SET locked_until = NULL, claim_token = NULL, status = '{SUCCEEDED}',
           attempt_count = a.attempt_count, last_status_code = a.status_code,
           last_error = NULL, next_attempt_at = NULL, delivered_at = a.attempted_at,
           updated_at = a.attempted_at
      FROM acked a
     WHERE d.id = a.delivery_id AND d.claim_token = a.token
    RETURNING d.id, d.endpoint_id, d.order_id),
attempts AS (
    INSERT INTO webhook_attempts
           (id, delivery_id, attempted_at, status_code, duration_ms, error, next_retry_at)
    SELECT a.attempt_id, a.delivery_id, a.attempted_at, a.status_code, a.duration_ms, NULL, NULL
      FROM acked a JOIN delivered ON delivered.id = a.delivery_id),
recovered AS (
    UPDATE webhook_endpoints SET failing_since = NULL
     WHERE failing_since IS NOT NULL AND id IN (SELECT endpoint_id FROM delivered)),
following AS (
    -- Per endpoint and order just acknowledged, its earliest undelivered event: this
    -- statement's snapshot still sees the acknowledged deliveries as pending.
    SELECT next.id
      FROM delivered
     CROSS JOIN LATERAL (
           SELECT p.id, p.next_attempt_at, p.locked_until FROM webhook_deliveries p
            WHERE p.status = '{PENDING}' AND p.endpoint_id = delivered.endpoint_id
              AND p.order_id = delivered.order_id
              AND p.id NOT IN (SELECT delivery_id FROM acked)
            ORDER BY p.sequence
            LIMIT 1) next
     WHERE :chain AND delivered.order_id IS NOT NULL AND next.next_attempt_at <= :now
       AND (next.locked_until IS NULL OR next.locked_until < :now)),
due AS (
    SELECT d.id
      FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
     WHERE d.id IN (SELECT id FROM following) AND e.enabled
       FOR UPDATE OF d SKIP LOCKED),
{_CLAIMED}
SELECT found.*, (SELECT array_agg(id) FROM delivered)
  FROM (SELECT 1) AS one LEFT JOIN found ON true
 ORDER BY found.sequence""").bindparams(  # noqa: S608 - constants only; values are parameters
    bindparam("acked", type_=JSON)
)


async def acknowledge(
    conn: AsyncConnection,
    acked: list[Acknowledged],
    *,
    now: datetime,
    token: str,
    lease: timedelta,
    chain: bool = True,
) -> tuple[set[str], list[Claim]]:
    """Record acknowledged deliveries, all in one statement, and claim (with `token`) what
    each let go: for each endpoint and order, its next event if due. Returns the deliveries
    recorded (not one whose claim was lost: its lease ran out and another worker's result
    counts) and the new claims.

    On a connection outside a transaction, so it commits by itself: the next event of an
    order goes out as soon as the previous one is acknowledged, rather than on a sweep, and
    still in order; a worker killed before sending what it claimed lets the lease run out.
    Without `chain`, it claims nothing."""
    rows = [
        {
            "delivery_id": a.claim.delivery_id,
            "token": a.claim.token,
            "attempt_count": a.claim.attempt_count + 1,
            "status_code": a.status_code,
            "attempt_id": a.attempt_id,
            "attempted_at": a.attempted_at.isoformat(),
            "duration_ms": a.duration_ms,
        }
        for a in acked
    ]
    params = {
        "acked": rows,
        "now": now,
        "locked_until": now + lease,
        "token": token,
        "chain": chain,
    }
    rows_found = (await conn.execute(_ACKNOWLEDGED, params)).all()
    return set(rows_found[0][-1] or ()), _claims(rows_found, token)


async def record_attempt(
    conn: AsyncConnection | AsyncSession,
    claim: Claim,
    values: dict[str, Any],
    attempt: WebhookAttempt,
) -> bool:
    """Store a failed attempt's result, unless the claim was lost (lease expired and another
    worker took the delivery): then the other worker's result is the one that counts.
    One statement (an acknowledged delivery is recorded by `acknowledge`)."""
    columns = tuple(sorted(values))
    params = {f"set_{c}": values[c] for c in columns} | {
        "delivery_id": claim.delivery_id,
        "token": claim.token,
        "attempt_id": attempt.id,
        "attempted_at": attempt.attempted_at,
        "status_code": attempt.status_code,
        "duration_ms": attempt.duration_ms,
        "error": attempt.error,
        "next_retry_at": attempt.next_retry_at,
    }
    result = await conn.execute(_record_sql(columns), params)
    return result.first() is not None


@functools.cache
def _record_sql(columns: tuple[str, ...]) -> TextClause:
    """The statement for one shape of result (the columns a failure or a retry sets, all
    named by the dispatcher, each as the parameter `set_<column>`)."""
    sets = ", ".join(f"{column} = :set_{column}" for column in columns)
    return text(f"""WITH delivery AS (
        UPDATE webhook_deliveries SET locked_until = NULL, claim_token = NULL, {sets}
         WHERE id = :delivery_id AND claim_token = :token
     RETURNING id, endpoint_id)
    INSERT INTO webhook_attempts
           (id, delivery_id, attempted_at, status_code, duration_ms, error, next_retry_at)
    SELECT :attempt_id, id, :attempted_at, :status_code, :duration_ms, :error, :next_retry_at
      FROM delivery
    RETURNING 1""")  # noqa: S608 - column names from the dispatcher, values as parameters


async def release(session: AsyncSession, claims: list[Claim]) -> None:
    """Give claims back without an attempt (graceful shutdown)."""
    for claim in claims:
        await session.execute(
            update(WebhookDelivery)
            .where(
                WebhookDelivery.id == claim.delivery_id,
                WebhookDelivery.claim_token == claim.token,
            )
            .values(locked_until=None, claim_token=None)
        )


async def endpoint_failed(
    session: AsyncSession, endpoint_id: str, *, now: datetime, gone: bool, disable_after: timedelta
) -> tuple[WebhookEndpoint, str] | None:
    """Note a failure; disable the endpoint on 410 or after failing for `disable_after`.
    Returns the endpoint and the reason when this call disabled it."""
    endpoint = await session.scalar(
        select(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id).with_for_update()
    )
    if endpoint is None:
        return None
    if endpoint.failing_since is None:
        endpoint.failing_since = now
    reason = None
    if endpoint.enabled:
        if gone:
            reason = "gone"
        elif now - endpoint.failing_since >= disable_after:
            reason = "failing"
    if reason:
        endpoint.enabled = False
        endpoint.disabled_reason = reason
        endpoint.disabled_at = now
    endpoint.updated_at = now
    return (endpoint, reason) if reason else None


async def next_due(session: AsyncSession, now: datetime) -> datetime | None:
    """When the next scheduled retry falls due (what is due already is claimed, or waits
    for an earlier event, a lease or a disabled endpoint: the sweep covers those)."""
    query = select(func.min(WebhookDelivery.next_attempt_at)).where(
        WebhookDelivery.status == PENDING, WebhookDelivery.next_attempt_at > now
    )
    return await session.scalar(query)


@dataclass(frozen=True, slots=True)
class Backlog:
    pending: int
    oldest_created_at: datetime | None
    disabled_endpoints: int


async def backlog(session: AsyncSession) -> Backlog:
    pending, oldest = (
        await session.execute(
            select(func.count(), func.min(WebhookDelivery.created_at)).where(
                WebhookDelivery.status == PENDING
            )
        )
    ).one()
    disabled = await session.scalar(
        select(func.count()).select_from(WebhookEndpoint).where(~WebhookEndpoint.enabled)
    )
    return Backlog(int(pending), oldest, int(disabled or 0))


# Retention ---------------------------------------------------------------------------------

EPOCH = (datetime.min.replace(tzinfo=UTC), "")
"""Before every event: where a pruner's walk through the events starts."""

_LOCK_OLD_EVENTS = text("""SELECT id, created_at FROM events
 WHERE created_at < :before AND (created_at, id) > (:after_created_at, :after_id)
 ORDER BY created_at, id
 LIMIT :limit
   FOR UPDATE SKIP LOCKED""")

_IDS = ARRAY(String)
_LOCK_SUCCEEDED = text(f"""SELECT id, event_id FROM webhook_deliveries
 WHERE event_id = ANY(:events) AND status = '{SUCCEEDED}'
   FOR UPDATE SKIP LOCKED""").bindparams(bindparam("events", type_=_IDS))  # noqa: S608

_COUNT_DELIVERIES = text("""SELECT event_id, count(*) FROM webhook_deliveries
 WHERE event_id = ANY(:events) GROUP BY event_id""").bindparams(bindparam("events", type_=_IDS))

_DELETE = text("""WITH attempts AS (
    DELETE FROM webhook_attempts WHERE delivery_id = ANY(:deliveries) RETURNING 1),
deliveries AS (
    DELETE FROM webhook_deliveries WHERE id = ANY(:deliveries) RETURNING 1),
events AS (
    DELETE FROM events WHERE id = ANY(:events) RETURNING 1)
SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM deliveries),
       (SELECT count(*) FROM attempts)""").bindparams(
    bindparam("events", type_=_IDS), bindparam("deliveries", type_=_IDS)
)


@dataclass(frozen=True, slots=True)
class Held:
    """One pruner's batch: old events it locked (with where the walk goes on) and, per
    event, the succeeded deliveries it locked."""

    events: list[str]
    last: tuple[datetime, str] | None
    succeeded: dict[str, list[str]]


@dataclass(frozen=True, slots=True)
class Pruned:
    events: int = 0
    deliveries: int = 0
    attempts: int = 0


async def hold_old_events(
    session: AsyncSession, *, before: datetime, after: tuple[datetime, str], limit: int
) -> Held:
    """Lock up to `limit` events created before `before`, oldest first from `after`, and
    their succeeded deliveries. Rows another transaction holds (another pruner's batch, a
    redelivery, an endpoint being deleted) are skipped, never waited for: pruners cannot
    deadlock with each other or with the API, and never take the same event."""
    params = {"before": before, "after_created_at": after[0], "after_id": after[1], "limit": limit}
    rows = (await session.execute(_LOCK_OLD_EVENTS, params)).all()
    events = [row[0] for row in rows]
    succeeded: dict[str, list[str]] = {}
    if events:
        for delivery_id, event_id in await session.execute(_LOCK_SUCCEEDED, {"events": events}):
            succeeded.setdefault(event_id, []).append(delivery_id)
    last = (rows[-1][1], rows[-1][0]) if rows else None
    return Held(events, last, succeeded)


async def delete_finished(session: AsyncSession, held: Held) -> Pruned:
    """Delete the held events whose every delivery succeeded (or that have none), with their
    deliveries and attempts. Runs after `hold_old_events` in the same transaction: its own
    snapshot, taken once the events were locked, sees every delivery a redelivery committed
    before, and no redelivery can start on a locked event."""
    if not held.events:
        return Pruned()
    counts: dict[str, int] = dict(
        (await session.execute(_COUNT_DELIVERIES, {"events": held.events})).all()
    )
    finished = [e for e in held.events if counts.get(e, 0) == len(held.succeeded.get(e, ()))]
    if not finished:
        return Pruned()
    deliveries = [d for e in finished for d in held.succeeded.get(e, ())]
    found = await session.execute(_DELETE, {"events": finished, "deliveries": deliveries})
    events, deleted, attempts = found.one()
    return Pruned(events, deleted, attempts)
