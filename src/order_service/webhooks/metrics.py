"""Prometheus metrics of webhook delivery: counted by the process that delivers (an API
process's `/metrics`, or a worker's own `--metrics-port`), and gauges read from the database
at each scrape of the API's `/metrics`."""

from __future__ import annotations

from datetime import datetime

from prometheus_client import Counter, Gauge
from sqlalchemy.ext.asyncio import AsyncSession

from order_service.webhooks import repository

ATTEMPTS = Counter(
    "order_service_webhook_attempts",
    "Delivery attempts by outcome: succeeded, retrying (failed, will retry), failed "
    "(retries exhausted), gone (410: endpoint disabled), lost (lease expired meanwhile).",
    ["outcome"],
)
ATTEMPT_SECONDS = Gauge(
    "order_service_webhook_last_attempt_seconds",
    "Duration of the last delivery attempt.",
    multiprocess_mode="mostrecent",
)
DELIVERY_LATENCY = Counter(
    "order_service_webhook_delivered_latency_seconds",
    "Sum of seconds from event commit to successful delivery (divide by succeeded attempts).",
)
ENDPOINTS_DISABLED = Counter(
    "order_service_webhook_endpoints_disabled",
    "Endpoints disabled by the dispatcher, by reason (gone: 410; failing: failing for days).",
    ["reason"],
)
PRUNED = Counter(
    "order_service_retention_pruned",
    "Rows deleted by retention, by table: events older than EVENT_RETENTION whose every "
    "delivery succeeded, with their webhook deliveries and attempts.",
    ["table"],
)
# Gauges read from the database: with several processes the most recent reading wins. They
# describe the whole service, not a process, so only the API's `/metrics` serves them.
BACKLOG = Gauge(
    "order_service_webhook_backlog",
    "Deliveries not yet succeeded or failed.",
    multiprocess_mode="mostrecent",
)
OLDEST_PENDING = Gauge(
    "order_service_webhook_oldest_pending_seconds",
    "Age of the oldest undelivered delivery (0 when there is none).",
    multiprocess_mode="mostrecent",
)
DISABLED_ENDPOINTS = Gauge(
    "order_service_webhook_disabled_endpoints",
    "Webhook endpoints currently disabled.",
    multiprocess_mode="mostrecent",
)

FROM_DATABASE = (BACKLOG, OLDEST_PENDING, DISABLED_ENDPOINTS)

for outcome in ("succeeded", "retrying", "failed", "gone", "lost"):
    ATTEMPTS.labels(outcome)
for reason in ("gone", "failing"):
    ENDPOINTS_DISABLED.labels(reason)
for table in ("events", "webhook_deliveries", "webhook_attempts"):
    PRUNED.labels(table)


async def refresh(session: AsyncSession, now: datetime) -> None:
    """Set the backlog gauges from the database (at every scrape of the API's `/metrics`)."""
    backlog = await repository.backlog(session)
    BACKLOG.set(backlog.pending)
    oldest = backlog.oldest_created_at
    OLDEST_PENDING.set(max(0.0, (now - oldest).total_seconds()) if oldest else 0.0)
    DISABLED_ENDPOINTS.set(backlog.disabled_endpoints)
