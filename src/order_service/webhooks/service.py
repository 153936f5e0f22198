"""Webhook endpoints and deliveries: what the API and the event outbox ask of this package.

Fan-out happens in the statement `events.service.emit` writes an event with
(`repository.fan_out`), in the transaction that records the event: one `pending` delivery
row per subscribed endpoint, and a `pg_notify` that PostgreSQL sends only if that
transaction commits. Fanning out in the writing
transaction, rather than having workers scan the events table by sequence number, means
no event can be skipped: sequence numbers are handed out before commit, so a scanner that
has seen event 11 may not yet see a slower transaction's event 10 commit. The cost is one
indexed query on the (small) endpoints table per event.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from order_service.context import Context
from order_service.events import repository as events
from order_service.events import service as outbox
from order_service.events.models import Event
from order_service.kit.ids import new_id
from order_service.kit.pagination import Page, PageRequest
from order_service.kit.secrecy import SecretUnreadable, Vault
from order_service.settings import Settings
from order_service.webhooks import errors, repository, signing
from order_service.webhooks.models import WebhookDelivery, WebhookEndpoint
from order_service.webhooks.schemas import (
    WebhookEndpointCreate,
    WebhookEndpointOut,
    WebhookEndpointUpdate,
)
from order_service.webhooks.transports import Message, Outcome, Transports

NOTIFY_CHANNEL = repository.NOTIFY_CHANNEL


def payload(
    type_: str, timestamp: datetime, data: dict[str, Any], sequence: int | None = None
) -> bytes:
    """The body every transport sends: `{"type", "timestamp", "sequence", "data"}`, where
    `sequence` (only in an order's events) numbers the order's events 1, 2, 3 … in commit
    order."""
    body: dict[str, Any] = {
        "type": type_,
        "timestamp": timestamp.isoformat().replace("+00:00", "Z"),
    }
    if sequence is not None:
        body["sequence"] = sequence
    body["data"] = data
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def signed_message(
    *, msg_id: str, type_: str, body: bytes, secrets: tuple[str, ...], now: datetime
) -> Message:
    return Message(
        id=msg_id,
        type=type_,
        body=body,
        headers=signing.headers(secrets, msg_id, int(now.timestamp()), body),
    )


def new_delivery(endpoint_id: str, event: Event, now: datetime) -> WebhookDelivery:
    return WebhookDelivery(
        id=new_id("whd"),
        endpoint_id=endpoint_id,
        event_id=event.id,
        event_type=event.type,
        order_id=event.order_id,
        sequence=event.sequence,
        status=repository.PENDING,
        attempt_count=0,
        next_attempt_at=now,
        created_at=now,
        updated_at=now,
    )


async def get_endpoint(session: AsyncSession, endpoint_id: str) -> WebhookEndpoint:
    return await repository.get_endpoint(session, endpoint_id)


async def list_endpoints(session: AsyncSession, *, page: PageRequest) -> Page[WebhookEndpoint]:
    return await repository.list_endpoints(session, page=page)


async def create_endpoint(
    ctx: Context, body: WebhookEndpointCreate, transports: Transports, vault: Vault
) -> tuple[WebhookEndpoint, str]:
    """The new endpoint and its signing secret, which is stored only encrypted."""
    await transports.validate(body.url)
    secret = signing.generate_secret()
    endpoint = WebhookEndpoint(
        id=new_id("whe"),
        url=body.url,
        events=body.events,
        description=body.description,
        enabled=body.enabled,
        disabled_reason=None if body.enabled else "manual",
        disabled_at=None if body.enabled else ctx.now,
        secret_ciphertext=vault.seal(secret),
        created_at=ctx.now,
        updated_at=ctx.now,
    )
    ctx.session.add(endpoint)
    await ctx.session.flush()
    return endpoint, secret


async def update_endpoint(
    ctx: Context, endpoint_id: str, body: WebhookEndpointUpdate, transports: Transports
) -> WebhookEndpoint:
    endpoint = await repository.get_endpoint(ctx.session, endpoint_id, lock=True)
    changes = body.model_dump(exclude_unset=True)
    if changes.get("url") is not None:
        await transports.validate(changes["url"])
        endpoint.url = changes["url"]
    if changes.get("events") is not None:
        endpoint.events = changes["events"]
    if "description" in changes:
        endpoint.description = changes["description"]
    if changes.get("enabled") is not None and changes["enabled"] != endpoint.enabled:
        endpoint.enabled = changes["enabled"]
        endpoint.disabled_reason = None if endpoint.enabled else "manual"
        endpoint.disabled_at = None if endpoint.enabled else ctx.now
        endpoint.failing_since = None
        if endpoint.enabled:
            await repository.notify(ctx.session)  # its pending deliveries can go now
    endpoint.updated_at = ctx.now
    await ctx.session.flush()
    return endpoint


async def delete_endpoint(session: AsyncSession, endpoint_id: str) -> None:
    endpoint = await repository.get_endpoint(session, endpoint_id, lock=True)
    await session.delete(endpoint)
    await session.flush()


async def rotate_secret(
    ctx: Context, endpoint_id: str, vault: Vault
) -> tuple[WebhookEndpoint, str]:
    endpoint = await repository.get_endpoint(ctx.session, endpoint_id, lock=True)
    secret = signing.generate_secret()
    endpoint.previous_secret_ciphertext = endpoint.secret_ciphertext
    endpoint.previous_secret_expires_at = ctx.now + ctx.settings.webhook_secret_overlap
    endpoint.secret_ciphertext = vault.seal(secret)
    endpoint.updated_at = ctx.now
    await ctx.session.flush()
    return endpoint, secret


def active_secrets(
    sealed: str, previous: str | None, expires: datetime | None, vault: Vault, now: datetime
) -> tuple[str, ...]:
    """The secrets that sign a message sent now: the current one, and the previous one during
    the overlap after a rotation."""
    if previous and expires and expires > now:
        return (vault.open(sealed), vault.open(previous))
    return (vault.open(sealed),)


async def send_signed(
    transports: Transports,
    url: str,
    *,
    msg_id: str,
    type_: str,
    body: bytes,
    sealed: str,
    previous: str | None,
    expires: datetime | None,
    vault: Vault,
    now: datetime,
) -> Outcome:
    """Sign `body` with the endpoint's active secrets and send it once. A secret that does not
    decrypt (the encryption key was changed) is a failed attempt saying so, which the
    endpoint's deliveries show, rather than an error that would hide it in the log."""
    try:
        secrets = active_secrets(sealed, previous, expires, vault, now)
    except SecretUnreadable as exc:
        return Outcome(ok=False, error=str(exc))
    message = signed_message(msg_id=msg_id, type_=type_, body=body, secrets=secrets, now=now)
    return await transports.send(url, message)


@dataclass(frozen=True, slots=True)
class PingOutcome:
    webhook_id: str
    outcome: Outcome
    duration_ms: int


async def ping(ctx: Context, endpoint_id: str, transports: Transports, vault: Vault) -> PingOutcome:
    """Send a signed `webhook.ping` now and report how the endpoint answered."""
    endpoint = await repository.get_endpoint(ctx.session, endpoint_id)
    if not endpoint.enabled:
        raise errors.WebhookEndpointDisabled(
            f"Endpoint {endpoint_id} is disabled ({endpoint.disabled_reason}); "
            "enable it with PATCH first."
        )
    msg_id = new_id("ping")
    started = time.perf_counter()
    outcome = await send_signed(
        transports,
        endpoint.url,
        msg_id=msg_id,
        type_="webhook.ping",
        body=payload("webhook.ping", ctx.now, {"endpoint_id": endpoint.id}),
        sealed=endpoint.secret_ciphertext,
        previous=endpoint.previous_secret_ciphertext,
        expires=endpoint.previous_secret_expires_at,
        vault=vault,
        now=ctx.now,
    )
    return PingOutcome(msg_id, outcome, round((time.perf_counter() - started) * 1000))


async def list_deliveries(
    session: AsyncSession,
    endpoint_id: str,
    *,
    status: str | None,
    event_id: str | None,
    page: PageRequest,
) -> Page[WebhookDelivery]:
    await repository.get_endpoint(session, endpoint_id)
    return await repository.list_deliveries(
        session, endpoint_id, status=status, event_id=event_id, page=page
    )


async def redeliver(ctx: Context, event_id: str, endpoint_id: str | None) -> list[WebhookDelivery]:
    """Queue the event again (same `webhook-id`) for one endpoint or every enabled subscriber,
    whatever happened to earlier deliveries. Attempts already made stay listed."""
    event = await events.get(ctx.session, event_id, lock=True)
    targets = await repository.endpoints_for_redelivery(ctx.session, event.type, endpoint_id)
    if endpoint_id is not None and not targets[0].enabled:
        raise errors.WebhookEndpointDisabled(
            f"Endpoint {endpoint_id} is disabled ({targets[0].disabled_reason}); "
            "enable it with PATCH first."
        )
    if not targets:
        raise errors.NoSubscribedEndpoints(
            f"No enabled endpoint subscribes to {event.type}; name one with `endpoint_id`."
        )
    existing = {
        d.endpoint_id: d for d in await repository.deliveries_of_event(ctx.session, event.id)
    }
    for endpoint in targets:
        delivery = existing.get(endpoint.id)
        if delivery is None:
            ctx.session.add(new_delivery(endpoint.id, event, ctx.now))
        else:
            delivery.status = repository.PENDING
            delivery.attempt_count = 0
            delivery.next_attempt_at = ctx.now
            delivery.delivered_at = None
            delivery.updated_at = ctx.now
    await ctx.session.flush()
    await repository.notify(ctx.session)
    wanted = {e.id for e in targets}
    return [
        d
        for d in await repository.deliveries_of_event(ctx.session, event.id)
        if d.endpoint_id in wanted
    ]


@dataclass(frozen=True, slots=True)
class Disabled:
    """An endpoint the dispatcher just disabled, and the event saying so."""

    endpoint_id: str
    url: str
    reason: str
    event_id: str


async def endpoint_failed(ctx: Context, endpoint_id: str, *, gone: bool) -> Disabled | None:
    """Note a failed delivery; disable the endpoint on 410 or after failing for
    `WEBHOOK_DISABLE_AFTER`. Disabling it emits `webhook_endpoint.disabled` to the other
    endpoints subscribed to that topic, in the same transaction, so it is never silent."""
    found = await repository.endpoint_failed(
        ctx.session,
        endpoint_id,
        now=ctx.now,
        gone=gone,
        disable_after=ctx.settings.webhook_disable_after,
    )
    if found is None:
        return None
    endpoint, reason = found
    await ctx.session.flush()  # disabled before the event fans out: it does not go to itself
    endpoint_json = WebhookEndpointOut.model_validate(endpoint).model_dump(mode="json")
    event_id = await outbox.emit(
        ctx, "webhook_endpoint.disabled", order_id=None, data={"webhook_endpoint": endpoint_json}
    )
    return Disabled(endpoint.id, endpoint.url, reason, event_id)


def retry_delay(
    settings: Settings, attempt_count: int, retry_after: float | None, jitter: float
) -> timedelta | None:
    """Wait before attempt `attempt_count + 1`, or None when the schedule is exhausted.
    `jitter` in [-1, 1] spreads retries by up to ±WEBHOOK_RETRY_JITTER of the delay;
    `Retry-After` from the receiver is honoured when it asks for longer (up to a day)."""
    schedule = settings.webhook_retry_schedule
    if attempt_count > len(schedule):
        return None
    delay = schedule[attempt_count - 1] * (1 + settings.webhook_retry_jitter * jitter)
    if retry_after is not None:
        delay = max(delay, timedelta(seconds=min(retry_after, 86400)))
    return delay
