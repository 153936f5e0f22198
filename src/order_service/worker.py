"""Background work: the `order-service worker` process, and the same tasks in-process in
`serve` unless `--without-worker`. Any number of workers may run: every task coordinates
through the database (row locks with SKIP LOCKED), never through process-local state.

A task is a coroutine `task(services, stop)` that runs until `stop` is set. Add new ones
to `TASKS`.

With `--metrics-port`, a worker serves its own Prometheus metrics (`serve_metrics`): the
delivery attempts, latency, disabled endpoints and pruned rows it counts, which no API
process sees.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable
from datetime import timedelta
from wsgiref.simple_server import WSGIServer

from order_service.fulfillments import followups
from order_service.http import idempotency, serving
from order_service.http.context import Services
from order_service.kit import metrics
from order_service.kit.db import create_engine, create_sessionmaker
from order_service.settings import Settings
from order_service.webhooks import metrics as webhook_metrics
from order_service.webhooks import retention
from order_service.webhooks.dispatcher import dispatch_webhooks

log = logging.getLogger("order_service.worker")

Task = Callable[[Services, asyncio.Event], Awaitable[None]]


def periodic(name: str, every: timedelta, step: Callable[[Services], Awaitable[int]]) -> Task:
    """A task that calls `step` every `every` until stopped; errors are logged, not fatal."""

    async def task(services: Services, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                done = await step(services)
                if done:
                    log.info("%s: %d done", name, done, extra={"task": name, "count": done})
            except Exception:
                log.exception("%s failed; retrying in %s", name, every, extra={"task": name})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every.total_seconds())

    task.__name__ = name
    return task


async def purge_idempotency_keys(services: Services) -> int:
    async with services.sessionmaker() as session, session.begin():
        return await idempotency.purge_expired(session, services.clock())


TASKS: list[Task] = [
    dispatch_webhooks,
    periodic("purge-idempotency-keys", timedelta(minutes=10), purge_idempotency_keys),
    periodic("follow-ups", timedelta(seconds=30), followups.fire_due),
    periodic("event-retention", timedelta(minutes=5), retention.prune),
]


async def run_tasks(services: Services, stop: asyncio.Event) -> None:
    """Run every task until `stop` is set, then let each finish its current step."""
    await asyncio.gather(*(task(services, stop) for task in TASKS))


def serve_metrics(host: str, port: int) -> WSGIServer:
    """This worker's metrics at `http://host:port/metrics`. Not the gauges read from the
    database: they describe the whole service, every API process's `/metrics` reads them
    afresh, and a copy per worker would only repeat them (or, unread here, show zeros)."""
    return metrics.serve_http(host, port, leaving_out=webhook_metrics.FROM_DATABASE)


async def run_worker(settings: Settings) -> None:
    """The `order-service worker` process: tasks until SIGTERM or SIGINT."""
    assert settings.database_url
    engine = create_engine(settings.database_url, pool_size=8)
    services = Services(settings=settings, engine=engine, sessionmaker=create_sessionmaker(engine))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    serving.freeze_heap()
    log.info("worker started", extra={"tasks": [t.__name__ for t in TASKS]})
    try:
        await run_tasks(services, stop)
    finally:
        await services.transports.aclose()
        await engine.dispose()
        log.info("worker stopped")
