"""Refund pricing over generated orders: never more than paid, exact in total."""

from __future__ import annotations

import dataclasses
import itertools
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from order_service.refunds.policy import (
    Line,
    LineRequest,
    OrderMoney,
    PricedLine,
    Request,
    allocate,
    decide,
    decide_retry,
    nets,
    units_amount,
)

NOW = datetime(2026, 11, 22, tzinfo=UTC)
WINDOW = timedelta(days=30)


@given(
    total=st.integers(0, 10**12), weights=st.lists(st.integers(0, 10**9), min_size=1, max_size=250)
)
def test_allocation_is_exact_and_proportional(total: int, weights: list[int]) -> None:
    parts = allocate(total, weights)
    if sum(weights) == 0:
        assert parts == [0] * len(weights)
        return
    assert sum(parts) == total
    for part, weight in zip(parts, weights, strict=True):
        exact = total * weight / sum(weights)
        assert abs(part - exact) < 1 + 1e-6 * exact


@given(
    net=st.integers(0, 10**11),
    quantity=st.integers(1, 10_000),
    data=st.data(),
)
def test_any_split_of_units_sums_to_the_line_net(
    net: int, quantity: int, data: st.DataObject
) -> None:
    # Any split: cut points anywhere in 1..quantity-1. Drawing one part at a time made up to
    # 10,000 draws per example, which blew the deadline on a busy machine.
    cuts = sorted(data.draw(st.sets(st.integers(1, max(1, quantity - 1)), max_size=30)))
    bounds = [0, *(c for c in cuts if c < quantity), quantity]
    total = sum(
        units_amount(net, quantity, done, end - done) for done, end in itertools.pairwise(bounds)
    )
    assert total == net


orders = st.builds(
    lambda lines, shipping, tax, discount, included: (lines, shipping, tax, discount, included),
    st.lists(
        st.tuples(st.integers(1, 50), st.integers(0, 10**6), st.booleans()), min_size=1, max_size=6
    ),
    st.integers(0, 10**5),
    st.integers(0, 10**5),
    st.integers(0, 10**6),
    st.booleans(),
)


@given(spec=orders)
def test_refunding_everything_gives_back_exactly_the_total(spec: tuple) -> None:  # type: ignore[type-arg]
    raw_lines, shipping, tax, discount, included = spec
    lines = [Line(f"li{i}", q, p, refundable, 0) for i, (q, p, refundable) in enumerate(raw_lines)]
    subtotal = sum(line.quantity * line.unit_price for line in lines)
    discount = min(discount, subtotal + shipping)
    total = subtotal + shipping - discount + (0 if included else tax)
    money = OrderMoney(
        lines=lines,
        subtotal=subtotal,
        shipping_total=shipping,
        tax_total=tax,
        discount_total=discount,
        taxes_included=included,
        paid=total,
        refunded=0,
        shipping_refunded=0,
        processed_at=NOW,
        delivered_at=None,
        shipped=False,
    )
    split = nets(money)
    assert sum(split.lines.values()) + split.shipping == total
    decision = decide(
        money,
        Request(
            lines=[LineRequest(line.id, line.quantity) for line in lines],
            shipping_full=True,
            override=True,
        ),
        now=NOW,
        window=WINDOW,
    )
    assert decision.amount <= total
    if decision.allowed:
        assert decision.amount == sum(split.lines.values()) + split.shipping


@given(spec=orders, data=st.data())
def test_a_released_refund_can_be_retried_once_and_never_past_the_limits(
    spec: tuple,  # type: ignore[type-arg]
    data: st.DataObject,
) -> None:
    """A refund the limits allowed, released by its failure, is allowed again as it was,
    whenever (no window); and never twice over: with the same refund pending beside it, a
    retry is allowed only if both fit in what was bought and paid."""
    raw_lines, shipping, tax, discount, included = spec
    lines = [
        Line(f"li{i}", q, p, refundable, data.draw(st.integers(0, q)))
        for i, (q, p, refundable) in enumerate(raw_lines)
    ]
    subtotal = sum(line.quantity * line.unit_price for line in lines)
    discount = min(discount, subtotal + shipping)
    total = subtotal + shipping - discount + (0 if included else tax)
    money = OrderMoney(
        lines=lines,
        subtotal=subtotal,
        shipping_total=shipping,
        tax_total=tax,
        discount_total=discount,
        taxes_included=included,
        paid=total,
        refunded=data.draw(st.integers(0, total)),
        shipping_refunded=0,
        processed_at=NOW - 10 * WINDOW,
        delivered_at=None,
        shipped=data.draw(st.booleans()),
    )
    request = Request(
        lines=[
            LineRequest(line.id, data.draw(st.integers(0, line.quantity)))
            for line in lines
            if data.draw(st.booleans())
        ],
        shipping_amount=data.draw(st.integers(0, shipping)),
        goodwill=data.draw(st.integers(0, 1000)),
        override=True,
    )
    first = decide(money, request, now=NOW, window=WINDOW)
    if not first.allowed:
        return
    priced = [PricedLine(d.line_item_id, d.quantity, d.amount) for d in first.lines]

    def again(state: OrderMoney) -> bool:
        return decide_retry(
            state, priced, shipping=first.shipping, goodwill=first.goodwill, amount=first.amount
        ).allowed

    assert again(money)
    asked = {line.id: 0 for line in lines}
    for d in first.lines:
        asked[d.line_item_id] += d.quantity
    pending = dataclasses.replace(
        money,
        lines=[
            dataclasses.replace(line, refunded_quantity=line.refunded_quantity + asked[line.id])
            for line in lines
        ],
        refunded=money.refunded + first.amount,
        shipping_refunded=money.shipping_refunded + first.shipping,
    )
    fits_twice = (
        all(line.refunded_quantity + 2 * asked[line.id] <= line.quantity for line in lines)
        and money.refunded + 2 * first.amount <= total
        and 2 * first.shipping <= nets(money).shipping
    )
    assert again(pending) == fits_twice
