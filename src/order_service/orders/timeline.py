"""The order timeline: every change, who made it, when and what."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from order_service.auth.actor import SYSTEM, Actor
from order_service.context import Context
from order_service.orders import repository
from order_service.orders.models import TimelineEntry
from order_service.orders.schemas import ActorOut, TimelineEntryOut


async def record(
    ctx: Context, order_id: str, action: str, message: str, data: dict[str, Any] | None = None
) -> None:
    """Add an entry by `ctx.actor` at `ctx.now`, in its unit of work (`Context.insert`)."""
    await ctx.insert(
        "timeline",
        repository.INSERT_TIMELINE,
        entry(order_id, action, message, ctx.actor, ctx.now, data),
    )


def entry(
    order_id: str,
    action: str,
    message: str,
    actor: Actor,
    now: datetime,
    data: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The row `record` inserts, for a caller that inserts it together with others."""
    system = actor is SYSTEM
    return {
        "order_id": order_id,
        "action": action,
        "message": message,
        "actor_type": "system" if system else "api_key",
        "actor_id": None if system else actor.id,
        "actor_name": actor.name,
        "actor_role": None if system else actor.role.value,
        "data": data or {},
        "created_at": now,
    }


def entry_out(entry: TimelineEntry) -> TimelineEntryOut:
    return TimelineEntryOut(
        id=entry.id,
        order_id=entry.order_id,
        action=entry.action,
        message=entry.message,
        actor=ActorOut(
            type=entry.actor_type,
            id=entry.actor_id,
            name=entry.actor_name,
            role=entry.actor_role,
        ),
        data=entry.data,
        created_at=entry.created_at,
    )
