"""The edit policy: who may edit an order, how far, and what the money does. Pure: a
function of (the order's state, the request, who asks, now, the window) — no session, no
clock read.

Money: `outstanding = total - paid + edit_refunds` (edit refunds pending or succeeded).
Only edits and payments move it. An edit that lowers the total below what was paid refunds
the difference at once when asked to (`refund`), at most what this edit took off and what
is still refundable, so `outstanding` stays 0; an edit that raises the total leaves the
difference outstanding for a capture or sale to cover.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from order_service.orders.policy import Totals, compute_totals


@dataclass(frozen=True, slots=True)
class Line:
    id: str
    quantity: int
    unit_price: int
    fulfilled_quantity: int
    """Units in live parcels: being picked (`pending`) or shipped."""
    shipped_quantity: int
    refunded_quantity: int
    """Settled and pending."""
    return_refunded_quantity: int
    """Of those, units refunded for returns: they had shipped."""
    restocked_quantity: int


@dataclass(frozen=True, slots=True)
class OrderState:
    status: str
    fulfillment_status: str
    processed_at: datetime
    lines: Sequence[Line]
    shipping: Sequence[int]
    taxes: Sequence[int]
    discounts: Sequence[int]
    taxes_included: bool
    total: int
    paid: int
    refunded: int
    """Settled and pending refunds, for every reason."""
    edit_refunds: int
    """Refunds made for edits, pending or succeeded."""


@dataclass(frozen=True, slots=True)
class Request:
    quantities: Mapping[str, int]
    """New quantity by line id (0 removes the line); ids must be the order's."""
    added: Sequence[tuple[int, int]] = ()
    """New lines: (quantity, unit_price)."""
    shipping: Sequence[int] | None = None
    taxes: Sequence[int] | None = None
    discounts: Sequence[int] | None = None
    """None: kept as they are."""
    refund: bool = True


class EditRefusal(StrEnum):
    """Why the order cannot be edited as asked; each value is the `code` of the problem it
    becomes."""

    order_not_open = "order_not_open"
    order_in_fulfillment = "order_in_fulfillment"
    edit_window_expired = "edit_window_expired"
    line_item_not_editable = "line_item_not_editable"
    edit_empties_order = "edit_empties_order"


@dataclass(frozen=True, slots=True)
class LineOutcome:
    line_item_id: str
    quantity_before: int
    quantity_after: int
    minimum: int
    """The fewest units the line may keep: those picked, shipped or refunded."""
    amount_delta: int
    """(after - before) x unit price; negative when the line's total falls."""


@dataclass(frozen=True, slots=True)
class Decision:
    code: EditRefusal | None
    until: datetime | None
    """For customers: the end of the edit window."""
    lines: list[LineOutcome]
    """The lines the request names whose quantity changes, in request order."""
    added_amount: int
    totals: Totals
    outstanding_before: int
    outstanding_after: int
    refund: int
    """What this edit refunds now (0 when nothing)."""

    @property
    def editable(self) -> bool:
        return self.code is None


def outstanding(*, total: int, paid: int, edit_refunds: int) -> int:
    """What the customer still owes for the order as it stands; negative when the shop owes
    the customer."""
    return total - paid + edit_refunds


def customer_deadline(processed_at: datetime, window: timedelta) -> datetime:
    return processed_at + window


def customer_until(
    status: str, fulfillment_status: str, processed_at: datetime, *, now: datetime,
    window: timedelta,
) -> datetime | None:  # fmt: skip
    """Until when the customer may edit the order; None once they cannot."""
    return _customer_refusal(status, fulfillment_status, processed_at, now, window)[1]


def _customer_refusal(
    status: str, fulfillment_status: str, processed_at: datetime, now: datetime,
    window: timedelta,
) -> tuple[EditRefusal | None, datetime | None]:  # fmt: skip
    if status != "open":
        return EditRefusal.order_not_open, None
    if fulfillment_status != "unfulfilled":
        return EditRefusal.order_in_fulfillment, None
    deadline = customer_deadline(processed_at, window)
    if now > deadline:
        return EditRefusal.edit_window_expired, None
    return None, deadline


def minimum_units(line: Line) -> int:
    """Units a line must keep: those picked or shipped, and those refunded that had not
    shipped (plain refunds cover unshipped units first, as fulfilment counts them; a return's
    refund is of shipped units), and never fewer than were restocked (by a refund)."""
    plain_refunded = line.refunded_quantity - line.return_refunded_quantity
    refunded_unshipped = min(plain_refunded, line.quantity - line.shipped_quantity)
    # Picked and refunded units may be the same ones; counted apart, a line keeps too many
    # rather than too few (never more than it has).
    return min(
        max(line.fulfilled_quantity + refunded_unshipped, line.restocked_quantity), line.quantity
    )


def decide(
    state: OrderState, request: Request, *, merchant: bool, now: datetime, window: timedelta
) -> Decision:
    """May the caller make this edit now, and what does it do to the lines and the money?
    Customers: while open, `unfulfilled` and within `window` of `processed_at` (the deadline
    itself included). Merchants: while open. Either way no line goes below the units picked,
    shipped or refunded, and at least one unit stays on the order."""
    code: EditRefusal | None = None
    until: datetime | None = None
    if merchant:
        if state.status != "open":
            code = EditRefusal.order_not_open
    else:
        code, until = _customer_refusal(
            state.status, state.fulfillment_status, state.processed_at, now, window
        )
    outcomes: list[LineOutcome] = []
    after: dict[str, int] = {line.id: line.quantity for line in state.lines}
    by_id = {line.id: line for line in state.lines}
    for line_id, quantity in request.quantities.items():
        line = by_id[line_id]
        after[line_id] = quantity
        minimum = minimum_units(line)
        if quantity < minimum and code is None:
            code = EditRefusal.line_item_not_editable
        if quantity != line.quantity:
            outcomes.append(
                LineOutcome(
                    line_id, line.quantity, quantity, minimum,
                    (quantity - line.quantity) * line.unit_price,
                )
            )  # fmt: skip
    if code is None and not any(after.values()) and not any(q for q, _ in request.added):
        code = EditRefusal.edit_empties_order
    totals = compute_totals(
        [*((after[line.id], line.unit_price) for line in state.lines), *request.added],
        state.shipping if request.shipping is None else request.shipping,
        state.taxes if request.taxes is None else request.taxes,
        state.discounts if request.discounts is None else request.discounts,
        taxes_included=state.taxes_included,
    )
    before = outstanding(total=state.total, paid=state.paid, edit_refunds=state.edit_refunds)
    owed = outstanding(total=totals.total, paid=state.paid, edit_refunds=state.edit_refunds)
    refund = 0
    if request.refund and owed < 0:
        refundable = max(state.paid - state.refunded, 0)
        refund = min(-owed, max(state.total - totals.total, 0), refundable)
    return Decision(
        code=code,
        until=until,
        lines=outcomes,
        added_amount=sum(q * p for q, p in request.added),
        totals=totals,
        outstanding_before=before,
        outstanding_after=owed + refund,
        refund=refund,
    )
