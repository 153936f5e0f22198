"""Retention: events, their webhook deliveries and attempts are deleted `EVENT_RETENTION`
after the event, once every delivery has succeeded (an event no endpoint wanted counts as
delivered). Events with a pending or failed delivery are kept, so they can still go out or
be redelivered. The order timeline is another table and stays with the order.

A worker task. Each batch is its own short transaction that locks its events with
`SKIP LOCKED`, so any number of workers prune side by side, each deleting different rows,
and none waits for a lock the API or another worker holds.
"""

from __future__ import annotations

from order_service.http.context import Services
from order_service.kit import metrics
from order_service.webhooks import repository
from order_service.webhooks.metrics import PRUNED

BATCH = 1000
BATCHES_PER_RUN = 50
"""At most this many batches per run, so a large first backlog does not hold a worker's
shutdown: the next run goes on where the rows remain."""


async def prune(services: Services, *, batch: int = BATCH) -> int:
    """Delete what retention allows; the number of events deleted."""
    before = services.clock() - services.settings.event_retention
    after = repository.EPOCH
    pruned = 0
    for _ in range(BATCHES_PER_RUN):
        async with services.sessionmaker() as session, session.begin():
            held = await repository.hold_old_events(
                session, before=before, after=after, limit=batch
            )
            done = await repository.delete_finished(session, held)
            metrics.on_commit(session, PRUNED, done.events, table="events")
            metrics.on_commit(session, PRUNED, done.deliveries, table="webhook_deliveries")
            metrics.on_commit(session, PRUNED, done.attempts, table="webhook_attempts")
        pruned += done.events
        if held.last is None or len(held.events) < batch:
            return pruned
        after = held.last
    return pruned
