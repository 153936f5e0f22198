"""The refund policy: what may be refunded, for how much. Pure: no session, no clock.

Amounts: order-level discounts and (tax-exclusive) taxes are allocated to lines in
proportion to their subtotals, so refunding every unit of every line plus the shipping
gives back exactly the order's total — never a cent more than was charged. Refunding `q`
units of a line after `r` were refunded costs `net*(r+q)//Q - net*r//Q`, which sums
exactly to the line's net over all its units whatever the order of partial refunds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum


def allocate(total: int, weights: Sequence[int]) -> list[int]:
    """Split `total` in proportion to `weights` (largest remainder); the parts sum to
    `total` exactly when any weight is positive, else all parts are 0."""
    weight_sum = sum(weights)
    if weight_sum <= 0 or total == 0:
        return [0] * len(weights)
    shares = [total * w // weight_sum for w in weights]
    remainders = sorted(range(len(weights)), key=lambda i: (-(total * weights[i] % weight_sum), i))
    for i in remainders[: total - sum(shares)]:
        shares[i] += 1
    return shares


@dataclass(frozen=True, slots=True)
class Line:
    id: str
    quantity: int
    unit_price: int
    refundable: bool
    refunded_quantity: int
    """Settled and pending, and units whose value paid an exchange: no longer available to
    refund (and the units the next refund's amount counts from)."""
    held_quantity: int = 0
    """Units in open returns: refunded when the return is received (or its claim closed),
    not before, so a returned unit is refunded once."""


@dataclass(frozen=True, slots=True)
class OrderMoney:
    lines: Sequence[Line]
    subtotal: int
    shipping_total: int
    tax_total: int
    discount_total: int
    taxes_included: bool
    paid: int
    refunded: int
    """Settled and pending refunds."""
    shipping_refunded: int
    """Settled and pending shipping refunds."""
    processed_at: datetime
    delivered_at: datetime | None
    shipped: bool


@dataclass(frozen=True, slots=True)
class Nets:
    lines: dict[str, int]
    shipping: int


def nets(order: OrderMoney) -> Nets:
    """What each line (all its units) and the shipping actually cost the customer. Tax
    (when prices exclude it) is spread over lines and shipping by their discounted amounts;
    when those are all zero it rides on the shipping, so it is still refundable."""
    subs = [line.quantity * line.unit_price for line in order.lines]
    item_discount = min(order.discount_total, order.subtotal)
    discounts = allocate(item_discount, subs)
    discounted = [s - d for s, d in zip(subs, discounts, strict=True)]
    shipping = max(order.shipping_total - (order.discount_total - item_discount), 0)
    tax = 0 if order.taxes_included else order.tax_total
    weights = [*discounted, shipping]
    shares = allocate(tax, weights) if sum(weights) else [0] * len(discounted) + [tax]
    return Nets(
        lines={line.id: d + t for line, d, t in zip(order.lines, discounted, shares, strict=False)},
        shipping=shipping + shares[-1],
    )


def units_amount(net: int, quantity: int, already: int, units: int) -> int:
    return net * (already + units) // quantity - net * already // quantity


@dataclass(frozen=True, slots=True)
class LineRequest:
    line_item_id: str
    quantity: int


@dataclass(frozen=True, slots=True)
class Request:
    lines: Sequence[LineRequest] = ()
    shipping_full: bool = False
    shipping_amount: int | None = None
    goodwill: int = 0
    override: bool = False


class RefundRefusal(StrEnum):
    """Why a refund cannot be made as asked, most important first; each value is the `code`
    of the problem it becomes."""

    order_not_paid = "order_not_paid"
    line_item_not_found = "line_item_not_found"
    refund_empty = "refund_empty"
    refund_exceeds_refundable = "refund_exceeds_refundable"
    item_not_refundable = "item_not_refundable"
    refund_window_expired = "refund_window_expired"
    shipping_not_refundable = "shipping_not_refundable"


@dataclass(frozen=True, slots=True)
class LineDecision:
    line_item_id: str
    quantity: int
    amount: int
    eligible: bool
    code: RefundRefusal | None


@dataclass(frozen=True, slots=True)
class Decision:
    lines: list[LineDecision]
    shipping: int
    shipping_eligible: bool
    shipping_code: RefundRefusal | None
    goodwill: int
    amount: int
    available: int
    """Paid minus refunded (pending included): the most any refund may be now."""
    codes: list[RefundRefusal] = field(default_factory=list)
    """Why the refund cannot be made as asked, most important first; empty when it can."""

    @property
    def allowed(self) -> bool:
        return not self.codes


_SEVERITY = list(RefundRefusal)
_WAIVABLE = {RefundRefusal.item_not_refundable, RefundRefusal.refund_window_expired}


def window_start(order: OrderMoney) -> datetime:
    """The refund window counts from delivery, or from processing if never delivered."""
    return order.delivered_at or order.processed_at


def window_ends(order: OrderMoney, window: timedelta) -> datetime:
    return window_start(order) + window


def decide(order: OrderMoney, request: Request, *, now: datetime, window: timedelta) -> Decision:
    """Price the request and list every reason it may not be made. A policy reason
    (window, final sale, shipped shipping) is waived by `override`; limits never are."""
    net = nets(order)
    by_id = {line.id: line for line in order.lines}
    codes: set[RefundRefusal] = set()
    expired = now > window_ends(order, window)
    decisions: list[LineDecision] = []
    asked: dict[str, int] = {}
    for req in request.lines:
        line = by_id.get(req.line_item_id)
        if line is None:
            decisions.append(
                LineDecision(
                    req.line_item_id, req.quantity, 0, False, RefundRefusal.line_item_not_found
                )
            )
            codes.add(RefundRefusal.line_item_not_found)
            continue
        already = line.refunded_quantity + asked.get(line.id, 0)
        asked[line.id] = asked.get(line.id, 0) + req.quantity
        code: RefundRefusal | None = None
        if already + line.held_quantity + req.quantity > line.quantity:
            code = RefundRefusal.refund_exceeds_refundable
            amount = 0
        else:
            amount = units_amount(net.lines[line.id], line.quantity, already, req.quantity)
            if not line.refundable:
                code = RefundRefusal.item_not_refundable
            elif expired:
                code = RefundRefusal.refund_window_expired
        if code in _WAIVABLE and request.override:
            code = None
        if code:
            codes.add(code)
        decisions.append(LineDecision(line.id, req.quantity, amount, code is None, code))

    shipping_left = net.shipping - order.shipping_refunded
    shipping = shipping_left if request.shipping_full else (request.shipping_amount or 0)
    shipping_code: RefundRefusal | None = None
    if shipping:
        if shipping > shipping_left:
            shipping_code = RefundRefusal.refund_exceeds_refundable
        elif order.shipped and not request.override:
            shipping_code = RefundRefusal.shipping_not_refundable
    if shipping_code:
        codes.add(shipping_code)

    available = max(order.paid - order.refunded, 0)
    amount = sum(d.amount for d in decisions) + shipping + request.goodwill
    if order.paid == 0:
        codes.add(RefundRefusal.order_not_paid)
    elif amount > available:
        codes.add(RefundRefusal.refund_exceeds_refundable)
    if amount == 0 and not request.lines and not codes:
        codes.add(RefundRefusal.refund_empty)
    return Decision(
        lines=decisions,
        shipping=shipping,
        shipping_eligible=shipping_code is None,
        shipping_code=shipping_code,
        goodwill=request.goodwill,
        amount=amount,
        available=available,
        codes=sorted(codes, key=_SEVERITY.index),
    )


@dataclass(frozen=True, slots=True)
class PricedLine:
    line_item_id: str
    quantity: int
    amount: int


def decide_retry(
    order: OrderMoney,
    lines: Sequence[PricedLine],
    *,
    shipping: int,
    goodwill: int,
    amount: int,
    owed: int | None = None,
) -> Decision:
    """May a failed refund be made again as it was: the same units, shipping and `amount`
    (its lines, shipping and goodwill, or less where what was paid capped it, or an amount
    with no lines: an edit's, an exchange's difference)?
    Only the limits apply — a unit is refunded once, shipping and the whole never beyond
    what was paid and is not refunded or pending — not the policy (the window, final sale,
    shipped shipping): the customer was owed the refund when it was first made. `owed`: for
    a refund an edit made, what the shop still owes for edits (minus `outstanding`): an edit
    since that raised the total took the rest, so no more is refunded for them (and the
    decision's `available` says so)."""
    net = nets(order)
    by_id = {line.id: line for line in order.lines}
    codes: set[RefundRefusal] = set()
    decisions: list[LineDecision] = []
    asked: dict[str, int] = {}
    for item in lines:
        line = by_id[item.line_item_id]
        asked[line.id] = asked.get(line.id, 0) + item.quantity
        fits = line.refunded_quantity + line.held_quantity + asked[line.id] <= line.quantity
        code = None if fits else RefundRefusal.refund_exceeds_refundable
        if code:
            codes.add(code)
        decisions.append(LineDecision(line.id, item.quantity, item.amount, fits, code))
    shipping_code = None
    if shipping > net.shipping - order.shipping_refunded:
        shipping_code = RefundRefusal.refund_exceeds_refundable
        codes.add(shipping_code)
    available = max(order.paid - order.refunded, 0)
    if owed is not None:
        available = min(available, max(owed, 0))
    if amount > available:
        codes.add(RefundRefusal.refund_exceeds_refundable)
    return Decision(
        lines=decisions,
        shipping=shipping,
        shipping_eligible=shipping_code is None,
        shipping_code=shipping_code,
        goodwill=goodwill,
        amount=amount,
        available=available,
        codes=sorted(codes, key=_SEVERITY.index),
    )


PROCESSING_TIME: dict[str, tuple[str, int]] = {
    "original_payment": ("5-10 business days", 10),
    "store_credit": ("immediately", 0),
    "gift_card": ("immediately", 0),
}
"""What a customer is told about when the money arrives, by refund method."""
