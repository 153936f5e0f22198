"""The webhook dispatcher: claims due deliveries and sends them, in any number of processes.

Work is shared through PostgreSQL only. A claim (`FOR UPDATE SKIP LOCKED`, then a
`claim_token` and a lease `locked_until`) is committed before anything is sent, so two
dispatchers never hold the same delivery; the result is written only if the token still
matches, so a worker whose lease ran out cannot overwrite the attempt of the worker that
took over. A worker killed mid-delivery loses nothing: its lease expires and the delivery
is claimed again (at-least-once; receivers deduplicate on `webhook-id`).

Dispatchers wake on `NOTIFY order_service_webhooks`, sent by the transaction that wrote the
deliveries when it commits, listened for on a dedicated asyncpg connection; a sweep every
`WEBHOOK_SWEEP_INTERVAL` (and at the next scheduled retry) is the safety net for missed
notifications, expired leases and a listener that is reconnecting.

An acknowledged delivery is recorded together with every other acknowledged meanwhile, in
one statement (`repository.acknowledge`) that also claims, for each endpoint and order, the
order's next event if one is waiting: it is sent at once rather than on the next sweep,
still after the one before it. A failed attempt is recorded on its own (it may disable the
endpoint).

Up to `WEBHOOK_BATCH_SIZE` deliveries are in flight per dispatcher, so one slow endpoint
does not hold up the others. On shutdown the dispatcher stops claiming, gives in-flight
deliveries `WEBHOOK_SHUTDOWN_GRACE` to finish, then cancels the rest and releases their
claims for another worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import uuid
from datetime import timedelta
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from order_service.context import Context
from order_service.http.context import Services
from order_service.kit.db import autocommit
from order_service.kit.ids import new_id
from order_service.webhooks import metrics, repository, service
from order_service.webhooks.models import WebhookAttempt
from order_service.webhooks.repository import Claim
from order_service.webhooks.transports import Outcome

log = logging.getLogger("order_service.webhooks.dispatcher")


def asyncpg_connect_args(url: str) -> dict[str, Any]:
    """asyncpg.connect() arguments for a SQLAlchemy URL (a `host` query is a socket folder)."""
    parsed = make_url(url)
    args: dict[str, Any] = parsed.translate_connect_args(username="user")
    host = parsed.query.get("host")
    if host:
        args["host"] = host if isinstance(host, str) else host[0]
    return args


class Dispatcher:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.settings = services.settings
        self.wake = asyncio.Event()
        self.listening = asyncio.Event()
        self.inflight: dict[asyncio.Task[None], Claim] = {}
        self.name = f"dispatcher-{uuid.uuid4().hex[:8]}"
        self.running = False
        # Acknowledged deliveries waiting to be recorded, each with whom to tell it was.
        self.acknowledged: list[tuple[repository.Acknowledged, asyncio.Future[bool]]] = []
        self.recording = False

    # the loop ---------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        listener = asyncio.create_task(self._listen(stop))
        batch = self.settings.webhook_batch_size
        self.running = True
        try:
            while not stop.is_set():
                free = batch - len(self.inflight)
                timeout = self.settings.webhook_sweep_interval
                claiming = free >= max(1, batch // 4) or not self.inflight
                if claiming:
                    self.wake.clear()
                    if await self._claim_and_start(free) < free:
                        timeout = await self._idle_timeout()
                # Wakes on stop, when an in-flight delivery ends (it may have been holding up
                # the next event of its order) and, when there is room, on a notification.
                await self._wait(stop, timeout, notified=claiming)
        finally:
            self.running = False
            await self._shutdown()
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener

    async def _wait(self, stop: asyncio.Event, within: timedelta, *, notified: bool) -> None:
        waiters = {asyncio.ensure_future(stop.wait())}
        if notified:
            waiters.add(asyncio.ensure_future(self.wake.wait()))
        try:
            await asyncio.wait(
                waiters | set(self.inflight),
                timeout=max(0.0, within.total_seconds()),
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            for waiter in waiters:
                waiter.cancel()

    async def _idle_timeout(self) -> timedelta:
        now = self.services.clock()
        sweep = self.settings.webhook_sweep_interval
        try:
            async with self.services.sessionmaker() as session:
                due = await repository.next_due(session, now)
        except Exception:
            log.exception("webhook dispatcher: database unavailable; retrying")
            return sweep
        return min(sweep, due - now) if due else sweep

    async def _claim_and_start(self, limit: int) -> int:
        try:
            claims = await self.claim(limit)
        except Exception:
            log.exception("webhook dispatcher: claiming failed; retrying after the sweep")
            return 0
        self._start(claims)
        return len(claims)

    def _start(self, claims: list[Claim]) -> None:
        for claim in claims:
            task = asyncio.create_task(self.deliver(claim))
            self.inflight[task] = claim
            task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self.inflight.pop(task, None)
        if not task.cancelled() and task.exception() is not None:
            log.error("webhook delivery crashed", exc_info=task.exception())

    async def _shutdown(self) -> None:
        if not self.inflight:
            return
        tasks = dict(self.inflight)
        grace = self.settings.webhook_shutdown_grace.total_seconds()
        _, unfinished = await asyncio.wait(tasks, timeout=grace)
        for task in unfinished:
            task.cancel()
        await asyncio.gather(*unfinished, return_exceptions=True)
        if unfinished:
            async with self.services.sessionmaker() as session, session.begin():
                await repository.release(session, [tasks[t] for t in unfinished])
            log.info("released %d in-flight deliveries", len(unfinished))

    async def _listen(self, stop: asyncio.Event) -> None:
        assert self.settings.database_url
        args = asyncpg_connect_args(self.settings.database_url)
        backoff = 0.5
        while not stop.is_set():
            conn = None
            try:
                conn = await asyncpg.connect(**args)
                lost = asyncio.Event()
                conn.add_termination_listener(lambda _, lost=lost: lost.set())
                await conn.add_listener(service.NOTIFY_CHANNEL, lambda *_: self.wake.set())
                self.listening.set()
                self.wake.set()  # whatever committed while nobody listened
                backoff = 0.5
                await lost.wait()
                log.warning("webhook listener connection lost; reconnecting")
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("webhook listener cannot connect (%r); the sweep still runs", exc)
            finally:
                self.listening.clear()
                if conn is not None and not conn.is_closed():
                    with contextlib.suppress(Exception):
                        await conn.close(timeout=2)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), backoff)
            backoff = min(backoff * 2, 30)

    # one step each, also used directly by tests and the benchmark ------------------------

    async def claim(self, limit: int) -> list[Claim]:
        async with autocommit(self.services.engine) as conn:
            return await repository.claim(
                conn,
                now=self.services.clock(),
                token=uuid.uuid4().hex,
                limit=limit,
                lease=self.settings.webhook_lease,
            )

    async def deliver(self, claim: Claim) -> None:
        now = self.services.clock()
        started = time.perf_counter()
        outcome = await service.send_signed(
            self.services.transports,
            claim.url,
            msg_id=claim.event_id,
            type_=claim.event_type,
            body=service.payload(
                claim.event_type, claim.event_created_at, claim.event_data, claim.event_sequence
            ),
            sealed=claim.secret_ciphertext,
            previous=claim.previous_secret_ciphertext,
            expires=claim.previous_secret_expires_at,
            vault=self.services.vault,
            now=now,
        )
        duration = time.perf_counter() - started
        metrics.ATTEMPT_SECONDS.set(duration)
        await self.record(claim, outcome, now=now, duration_ms=round(duration * 1000))

    async def record(self, claim: Claim, outcome: Outcome, *, now: Any, duration_ms: int) -> str:
        """Write the attempt and schedule what follows; returns the outcome label."""
        if outcome.ok:
            acknowledged = repository.Acknowledged(
                claim, new_id("wha"), now, outcome.status_code, duration_ms
            )
            if not await self._acknowledge(acknowledged):
                return self._lost(claim)
            metrics.ATTEMPTS.labels("succeeded").inc()
            metrics.DELIVERY_LATENCY.inc(max(0.0, (now - claim.event_created_at).total_seconds()))
            if log.isEnabledFor(logging.INFO):
                self._log(claim, "succeeded", outcome, claim.attempt_count + 1)
            return "succeeded"
        return await self._record_failure(claim, outcome, now=now, duration_ms=duration_ms)

    async def _acknowledge(self, acknowledged: repository.Acknowledged) -> bool:
        """Record an acknowledged delivery with all the others acknowledged meanwhile (group
        commit: while one statement runs, the next batch gathers), and start the next event
        of each order they let go; whether this delivery's claim still held."""
        recorded: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.acknowledged.append((acknowledged, recorded))
        if not self.recording:
            self.recording = True
            batch: list[tuple[repository.Acknowledged, asyncio.Future[bool]]] = []
            try:
                while self.acknowledged:
                    batch, self.acknowledged = self.acknowledged, []
                    try:
                        async with autocommit(self.services.engine) as conn:
                            done, claims = await repository.acknowledge(
                                conn,
                                [a for a, _ in batch],
                                now=self.services.clock(),
                                token=uuid.uuid4().hex,
                                lease=self.settings.webhook_lease,
                                chain=self.running,
                            )
                    except Exception as exc:  # each delivery's lease runs out: sent again
                        for _, future in batch:
                            future.set_exception(exc)
                        continue
                    for a, future in batch:
                        future.set_result(a.claim.delivery_id in done)
                    self._start(claims)
            finally:
                self.recording = False
                # Cancelled (at shutdown): the others waiting on this write stop waiting.
                for _, future in batch + self.acknowledged:
                    if not future.done():
                        future.cancel()
                self.acknowledged = []
        return await recorded

    async def _record_failure(
        self, claim: Claim, outcome: Outcome, *, now: Any, duration_ms: int
    ) -> str:
        settings = self.settings
        attempts = claim.attempt_count + 1
        values: dict[str, Any] = {
            "attempt_count": attempts,
            "last_status_code": outcome.status_code,
            "last_error": outcome.error,
            "updated_at": now,
        }
        next_retry = None
        if outcome.gone:
            label = "gone"
            values |= {"status": repository.FAILED, "next_attempt_at": None}
        else:
            delay = service.retry_delay(
                settings, attempts, outcome.retry_after, random.uniform(-1, 1)
            )
            if delay is None:
                label = "failed"
                values |= {"status": repository.FAILED, "next_attempt_at": None}
            else:
                label = "retrying"
                # From when the attempt ended: a receiver that timed out gets its full pause
                # (and `Retry-After` counts from the response, as HTTP means it).
                next_retry = now + timedelta(milliseconds=duration_ms) + delay
                values |= {"next_attempt_at": next_retry}
        attempt = WebhookAttempt(
            id=new_id("wha"),
            delivery_id=claim.delivery_id,
            attempted_at=now,
            status_code=outcome.status_code,
            duration_ms=duration_ms,
            error=outcome.error,
            next_retry_at=next_retry,
        )
        async with self.services.sessionmaker() as session, session.begin():
            if not await repository.record_attempt(session, claim, values, attempt):
                return self._lost(claim)
            disabled = await service.endpoint_failed(
                Context.system(session, now, settings), claim.endpoint_id, gone=outcome.gone
            )
        if disabled:
            metrics.ENDPOINTS_DISABLED.labels(disabled.reason).inc()
            log.error(
                "webhook endpoint %s (%s) disabled: %s; its deliveries wait until it is "
                "enabled again (see docs/operations.md, 'A disabled webhook endpoint')",
                disabled.endpoint_id,
                disabled.url,
                disabled.reason,
                extra={"endpoint_id": disabled.endpoint_id, "event_id": disabled.event_id},
            )
        if label == "failed":
            self.wake.set()  # the order's next event, if any, can go now
        metrics.ATTEMPTS.labels(label).inc()
        self._log(claim, label, outcome, attempts)
        return label

    def _log(self, claim: Claim, label: str, outcome: Outcome, attempts: int) -> None:
        log.info(
            "webhook %s to %s: %s",
            claim.event_type,
            claim.endpoint_id,
            label,
            extra={
                "delivery_id": claim.delivery_id,
                "webhook_id": claim.event_id,
                "status_code": outcome.status_code,
                "error": outcome.error,
                "attempt": attempts,
            },
        )

    def _lost(self, claim: Claim) -> str:
        metrics.ATTEMPTS.labels("lost").inc()
        log.warning("claim on %s expired before its result came", claim.delivery_id)
        return "lost"


async def dispatch_webhooks(services: Services, stop: asyncio.Event) -> None:
    """The worker task: one dispatcher until `stop`."""
    await Dispatcher(services).run(stop)
