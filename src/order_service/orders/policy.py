"""Pure rules about an order's money and dates: no session, no clock."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta


@dataclass(frozen=True, slots=True)
class Totals:
    subtotal: int
    shipping_total: int
    tax_total: int
    discount_total: int
    total: int


def compute_totals(
    lines: Iterable[tuple[int, int]],
    shipping: Iterable[int],
    taxes: Iterable[int],
    discounts: Iterable[int],
    *,
    taxes_included: bool,
) -> Totals:
    """`lines` are (quantity, unit_price). Tax is added unless prices already include it.
    The total may be negative here; the caller refuses such an order."""
    subtotal = sum(q * p for q, p in lines)
    shipping_total = sum(shipping)
    tax_total = sum(taxes)
    discount_total = sum(discounts)
    total = subtotal + shipping_total - discount_total + (0 if taxes_included else tax_total)
    return Totals(subtotal, shipping_total, tax_total, discount_total, total)


def add_business_days(start: date, days: int) -> date:
    """`days` working days after `start`, Saturdays and Sundays skipped. An order placed at
    the weekend counts from the next Monday."""
    current = start
    while current.weekday() >= 5:
        current += timedelta(days=1)
    remaining = days
    while remaining > 0:
        current += timedelta(days=1)
        if current.weekday() < 5:
            remaining -= 1
    return current


def estimated_dispatch_date(processed_at: datetime, handling_days: int) -> date:
    return add_business_days(processed_at.date(), handling_days)


def financial_status(
    *, total: int, authorized: int, paid: int, refunded: int, edit_refunds: int, current: str
) -> str:
    """The financial status that follows from the money columns. `current` breaks the ties
    the columns cannot: a voided authorisation, or a zero-total order marked paid.
    Something paid and something still outstanding (`total - paid + edit_refunds`, e.g.
    after an edit raised the total) is `partially_paid` until a capture or sale covers it,
    unless everything paid has been refunded."""
    if paid > 0 and total - paid + edit_refunds > 0 and refunded < paid:
        return "partially_paid"
    if refunded > 0:
        return "refunded" if refunded >= paid else "partially_refunded"
    if paid > 0 or (total == 0 and current == "paid"):
        return "paid"
    if authorized > 0:
        return "authorized"
    return "voided" if current == "voided" else "pending"
