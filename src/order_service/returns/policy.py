"""The return policy: which units of an order a customer may send back, until when. Pure: a
function of (the lines, their parcels, the request, now, the window) — no session, no clock
read.

A unit may be returned once it has shipped (delivered, or shipped when no delivery was
reported), within the window of its parcel's delivery (or shipping), and only once: never
more than shipped minus returned, in open returns, or refunded. Refunds are taken to cover
unshipped units first (as fulfilment counts them), then returned units (a return's refund),
and only then units the customer kept.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from order_service.refunds import policy as refund_policy


@dataclass(frozen=True, slots=True)
class Line:
    id: str
    quantity: int
    refundable: bool
    """False for final-sale lines."""
    shipped_quantity: int
    returned_quantity: int
    requested_quantity: int
    """In returns requested or approved, not yet received."""
    refunded_quantity: int
    """Settled and pending refunds, and units whose value paid an exchange."""


@dataclass(frozen=True, slots=True)
class Parcel:
    """A shipped fulfilment: when its window starts (delivery, else shipping) and its units
    by line id."""

    start: datetime
    units: Mapping[str, int]


class ReturnRefusal(StrEnum):
    """Why units cannot be returned as asked, most important first; each value is the `code`
    of the problem it becomes."""

    line_item_not_returnable = "line_item_not_returnable"
    quantity_exceeds_returnable = "quantity_exceeds_returnable"
    return_window_expired = "return_window_expired"


_SEVERITY = list(ReturnRefusal)


@dataclass(frozen=True, slots=True)
class LineDecision:
    line_item_id: str
    quantity: int
    """Asked for (0 in a preview of a line not asked for)."""
    returnable_quantity: int
    """Units the caller may return now (within the window, unless overridden)."""
    returnable_until: datetime | None
    """The end of the window of the line's latest parcel; None when nothing shipped."""
    code: ReturnRefusal | None

    @property
    def eligible(self) -> bool:
        return self.code is None


@dataclass(frozen=True, slots=True)
class Decision:
    lines: list[LineDecision]
    codes: list[ReturnRefusal] = field(default_factory=list)

    @property
    def allowed(self) -> bool:
        return not self.codes


def kept_refunded(line: Line) -> int:
    """Refunded units that are neither unshipped nor returned: units the customer kept."""
    left = line.refunded_quantity - (line.quantity - line.shipped_quantity)
    return max(left - line.returned_quantity, 0)


def available(line: Line) -> int:
    """Shipped units not yet returned, in a return, or refunded: the most any return takes."""
    taken = line.returned_quantity + line.requested_quantity + kept_refunded(line)
    return max(line.shipped_quantity - taken, 0)


def _in_window(line: Line, parcels: Sequence[Parcel], now: datetime, window: timedelta) -> int:
    """Available units whose parcel's window is still open: units already taken are counted
    against the earliest parcels first."""
    open_units = sum(p.units.get(line.id, 0) for p in parcels if now <= p.start + window)
    return min(available(line), open_units)


def decide(
    lines: Sequence[Line],
    parcels: Sequence[Parcel],
    asked: Mapping[str, int],
    *,
    override: bool,
    now: datetime,
    window: timedelta,
) -> Decision:
    """May these units (`asked`: quantity by line id, every id one of `lines`) be returned
    now? Every line is decided: those not asked for with quantity 0 (the preview shows
        them, with the reason a line cannot be returned at all). `override` (ops, with a note)
    waives final sale and the window, never the units' limit nor that they shipped."""
    decisions = []
    codes: set[ReturnRefusal] = set()
    for line in lines:
        quantity = asked.get(line.id, 0)
        ends = [p.start + window for p in parcels if p.units.get(line.id)]
        until = max(ends) if ends else None
        code: ReturnRefusal | None = None
        returnable = 0
        if line.shipped_quantity == 0 or not (line.refundable or override):
            code = ReturnRefusal.line_item_not_returnable
        else:
            most = available(line)
            returnable = most if override else _in_window(line, parcels, now, window)
            if quantity > most or most == 0:
                code = ReturnRefusal.quantity_exceeds_returnable
            elif quantity > returnable or returnable == 0:
                code = ReturnRefusal.return_window_expired
        decisions.append(LineDecision(line.id, quantity, returnable, until, code))
        if quantity and code is not None:
            codes.add(code)
    return Decision(decisions, sorted(codes, key=_SEVERITY.index))


@dataclass(frozen=True, slots=True)
class Priced:
    """Units of one line the return pays for now, and what they are worth."""

    line_item_id: str
    quantity: int
    amount: int


def price(
    order: refund_policy.OrderMoney,
    units: Mapping[str, int],
    *,
    held: Mapping[str, int],
) -> list[Priced]:
    """What `units` (by line id) are worth, as a refund of them would pay: each line's share
    of discounts and tax included, never for units already refunded or exchanged, nor units
    `held` by other open returns, and never more than is still refundable on the order."""
    net = refund_policy.nets(order)
    by_id = {line.id: line for line in order.lines}
    priced = []
    for line_id, asked in units.items():
        line = by_id[line_id]
        room = line.quantity - line.refunded_quantity - held.get(line_id, 0)
        quantity = max(min(asked, room), 0)
        if quantity:
            amount = refund_policy.units_amount(
                net.lines[line_id], line.quantity, line.refunded_quantity, quantity
            )
            priced.append(Priced(line_id, quantity, amount))
    available = max(order.paid - order.refunded, 0)
    total = sum(p.amount for p in priced)
    if total > available:
        shares = refund_policy.allocate(available, [p.amount for p in priced])
        priced = [
            Priced(p.line_item_id, p.quantity, s) for p, s in zip(priced, shares, strict=True)
        ]
    return priced


def deduct(priced: Sequence[Priced], deducted: int) -> list[Priced] | None:
    """`priced` with `deducted` taken off in proportion to each line's amount; None when it
    is more than they are worth (a deduction never takes a refund below zero)."""
    total = sum(p.amount for p in priced)
    if deducted > total:
        return None
    shares = refund_policy.allocate(total - deducted, [p.amount for p in priced])
    return [Priced(p.line_item_id, p.quantity, s) for p, s in zip(priced, shares, strict=True)]


def settled_status(lines: Iterable[tuple[int, int]]) -> str:
    """The order's `return_status` while none of its returns is open, from each line's
    shipped and returned units: `none`, `returned` (every shipped unit came back) or
    `partially_returned`. Shipping more units moves it as much as receiving them does."""
    shipped = [(units, returned) for units, returned in lines if units]
    if not any(returned for _, returned in shipped):
        return "none"
    if all(returned >= units for units, returned in shipped):
        return "returned"
    return "partially_returned"
