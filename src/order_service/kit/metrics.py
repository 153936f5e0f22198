"""Prometheus metrics shared by every process, and business counters applied on commit.

Each API process counts its own; `serve` points `PROMETHEUS_MULTIPROC_DIR` at a fresh folder
and then starts its API processes (one or many, each a fresh interpreter: `serving`), and
`/metrics` adds them all up, so a scrape of any process shows the whole service. A worker,
one process on its own, keeps its metrics in memory and serves them itself (`serve_http`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any
from wsgiref.simple_server import WSGIServer

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    generate_latest,
    multiprocess,
    start_http_server,
)
from prometheus_client.registry import Collector
from sqlalchemy import event
from sqlalchemy.orm import Session

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

EVENTS = Counter(
    "order_service_events",
    "Events committed, by type: order.created counts orders created, order.cancelled "
    "cancellations, refund.created refunds, refund.succeeded/failed settlements, and so on.",
    ["type"],
)
CANCELLATIONS = Counter(
    "order_service_cancellations", "Orders cancelled, by who cancelled.", ["by"]
)
REFUNDED_AMOUNT = Counter(
    "order_service_refunds_created_amount",
    "Sum of refund amounts created, in minor units, by currency.",
    ["currency"],
)

_PENDING = "order_service.kit.metrics"


def on_commit(session: Any, counter: Counter, amount: float = 1, **labels: str) -> None:
    """Count `amount` when (and only if) the session's transaction commits."""
    info = session.sync_session.info if hasattr(session, "sync_session") else session.info
    info.setdefault(_PENDING, []).append((counter, amount, labels))


_SERIES: dict[tuple[Any, tuple[str, ...], tuple[tuple[str, str], ...]], Any] = {}


def series(metric: Any, *values: str, **labels: str) -> Any:
    """`metric.labels(*values, **labels)`, looked up once per label set: `labels` takes a
    lock and converts its labels on every call, and the hot paths count on every request.
    Only for bounded label sets (routes, methods and statuses the app answers, event types,
    who cancelled, currencies)."""
    key = (metric, values, tuple(labels.items()))
    found = _SERIES.get(key)
    if found is None:
        found = _SERIES[key] = metric.labels(*values, **labels)
    return found


def committed(info: dict[Any, Any]) -> None:
    """Count what `on_commit` held in a transaction's `info`: it committed."""
    for counter, amount, labels in info.pop(_PENDING, []):
        (series(counter, **labels) if labels else counter).inc(amount)


def rolled_back(info: dict[Any, Any]) -> None:
    info.pop(_PENDING, None)


@event.listens_for(Session, "after_commit")
def _apply(session: Session) -> None:
    committed(session.info)


@event.listens_for(Session, "after_rollback")
def _discard(session: Session) -> None:
    rolled_back(session.info)


def exposition() -> tuple[bytes, str]:
    """The text format for `/metrics`: every process's metrics when running multi-process."""
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST


def serve_http(host: str, port: int, *, leaving_out: Iterable[Collector] = ()) -> WSGIServer:
    """Serve this process's own metrics, but `leaving_out`, at `http://host:port/metrics`
    from a thread of prometheus_client's. Raises OSError when the address cannot be bound."""
    for collector in leaving_out:
        REGISTRY.unregister(collector)
    server, _ = start_http_server(port, addr=host)
    return server
