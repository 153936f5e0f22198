"""The post-delivery follow-up: `order.follow_up_due` FOLLOW_UP_DELAY after delivery, once.

Delivery schedules one `follow_ups` row per order (unique on `order_id`). A worker step
claims due rows with `FOR UPDATE SKIP LOCKED`, so concurrent workers never take the same
row, and marks each `sent` in the transaction that writes the event to the outbox: the
event exists exactly when the row says so, across crashes and restarts. Whether to send is
decided at fire time: a cancelled or fully refunded order gets none (`skipped`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from order_service.context import Context
from order_service.events import service as events
from order_service.fulfillments import repository
from order_service.fulfillments.models import FollowUp
from order_service.http.context import Services
from order_service.orders import repository as orders
from order_service.orders import timeline
from order_service.orders.models import Order
from order_service.orders.service import event_data, next_sequence
from order_service.settings import Settings

BATCH = 100


def skip_reason(order: Order) -> str | None:
    """Why an order gets no follow-up at fire time, or None when it does."""
    if order.status == "cancelled":
        return "order_cancelled"
    if order.financial_status == "refunded":
        return "order_refunded"
    return None


def review_url(template: str | None, order: Order) -> str | None:
    """`ORDER_SERVICE_REVIEW_URL` may contain `{order_id}` and `{order_number}`."""
    if template is None:
        return None
    return template.replace("{order_id}", order.id).replace("{order_number}", str(order.number))


def _payload(
    follow_up: FollowUp, order: Order, now: datetime, settings: Settings
) -> dict[str, Any]:
    return event_data(
        order,
        now,
        settings,
        follow_up={
            "delivered_at": order.delivered_at.isoformat() if order.delivered_at else None,
            "due_at": follow_up.due_at.isoformat(),
            "review_url": review_url(settings.review_url, order),
            "discount_code": settings.follow_up_discount_code,
        },
    )


async def _fire(ctx: Context, follow_up: FollowUp) -> bool:
    # The order lock makes the cancelled/refunded check hold until this commits.
    order = await orders.get(ctx.session, follow_up.order_id, lock=True)
    follow_up.done_at = ctx.now
    reason = skip_reason(order)
    if reason is not None:
        follow_up.status = "skipped"
        follow_up.skip_reason = reason
        await timeline.record(
            ctx,
            order.id,
            "order.follow_up_skipped",
            f"Post-delivery follow-up not sent: {reason.replace('_', ' ')}.",
            {"reason": reason},
        )
        return False
    event_id = await events.emit(
        ctx,
        "order.follow_up_due",
        order_id=order.id,
        data=_payload(follow_up, order, ctx.now, ctx.settings),
        sequence=next_sequence(ctx, order),
    )
    follow_up.status = "sent"
    follow_up.event_id = event_id
    await timeline.record(
        ctx,
        order.id,
        "order.follow_up_due",
        "Post-delivery follow-up due: feedback, review and discount email requested.",
        {"event_id": event_id},
    )
    return True


async def fire_due(services: Services) -> int:
    """One scheduler step: fire every follow-up now due. Returns how many were sent."""
    sent = 0
    while True:
        async with services.sessionmaker() as session, session.begin():
            now = services.clock()
            due = await repository.claim_due_follow_ups(session, now, BATCH)
            ctx = Context.system(session, now, services.settings)
            for follow_up in due:
                sent += await _fire(ctx, follow_up)
        if len(due) < BATCH:
            return sent
