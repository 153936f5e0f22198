"""The cancellation policy: a pure function of (order state, who asks, now, window)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


@dataclass(frozen=True, slots=True)
class OrderState:
    status: str
    fulfillment_status: str
    processed_at: datetime
    shipped_units: int
    """Units that have left the warehouse (shipped fulfilments); picking does not count."""


class CancellationRefusal(StrEnum):
    """Why the caller may not cancel; each value is the `code` of the problem it becomes."""

    order_already_cancelled = "order_already_cancelled"
    order_already_fulfilled = "order_already_fulfilled"
    order_not_open = "order_not_open"
    order_in_fulfillment = "order_in_fulfillment"
    cancellation_window_expired = "cancellation_window_expired"


@dataclass(frozen=True, slots=True)
class Decision:
    cancellable: bool
    until: datetime | None
    code: CancellationRefusal | None

    @classmethod
    def refuse(cls, code: CancellationRefusal) -> Decision:
        return cls(cancellable=False, until=None, code=code)


def customer_deadline(processed_at: datetime, window: timedelta) -> datetime:
    return processed_at + window


def decide(state: OrderState, *, merchant: bool, now: datetime, window: timedelta) -> Decision:
    """May the caller cancel now? Customers: while open, unfulfilled and within `window` of
    `processed_at` (the deadline itself included). Merchants: while nothing has shipped."""
    if state.status == "cancelled":
        return Decision.refuse(CancellationRefusal.order_already_cancelled)
    if merchant:
        if state.shipped_units > 0:
            return Decision.refuse(CancellationRefusal.order_already_fulfilled)
        return Decision(cancellable=True, until=None, code=None)
    if state.status != "open":
        return Decision.refuse(CancellationRefusal.order_not_open)
    if state.fulfillment_status != "unfulfilled":
        return Decision.refuse(CancellationRefusal.order_in_fulfillment)
    deadline = customer_deadline(state.processed_at, window)
    if now > deadline:
        return Decision.refuse(CancellationRefusal.cancellation_window_expired)
    return Decision(cancellable=True, until=deadline, code=None)
