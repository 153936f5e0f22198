"""The return policy over generated lines and parcels: never more units than shipped and not
yet returned, requested or refunded; the window and final sale only waived by override."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from order_service.refunds import policy as refund_policy
from order_service.returns.policy import (
    Line,
    Parcel,
    ReturnRefusal,
    available,
    decide,
    deduct,
    price,
)

NOW = datetime(2026, 12, 9, tzinfo=UTC)
WINDOW = timedelta(days=30)


@st.composite
def lines_and_parcels(draw: st.DrawFn) -> tuple[Line, list[Parcel]]:
    quantity = draw(st.integers(1, 20))
    shipped = draw(st.integers(0, quantity))
    returned = draw(st.integers(0, shipped))
    requested = draw(st.integers(0, shipped - returned))
    refunded = draw(st.integers(0, quantity - requested))
    # refunded by returns: received or claimed units, never in an open return
    by_returns = draw(st.integers(0, min(refunded, shipped - requested)))
    line = Line(
        id="li_1",
        quantity=quantity,
        refundable=draw(st.booleans()),
        shipped_quantity=shipped,
        returned_quantity=returned,
        requested_quantity=requested,
        refunded_quantity=refunded,
        return_refunded_quantity=by_returns,
    )
    parcels = []
    left = shipped
    while left:
        units = draw(st.integers(1, left))
        age = timedelta(days=draw(st.integers(0, 60)))
        parcels.append(Parcel(start=NOW - age, units={"li_1": units}))
        left -= units
    return line, parcels


@given(case=lines_and_parcels(), asked=st.integers(0, 25), override=st.booleans())
def test_never_more_than_available_and_codes_say_why(
    case: tuple[Line, list[Parcel]], asked: int, override: bool
) -> None:
    line, parcels = case
    decision = decide([line], parcels, {"li_1": asked}, override=override, now=NOW, window=WINDOW)
    (d,) = decision.lines
    most = available(line)
    assert 0 <= d.returnable_quantity <= most <= line.shipped_quantity
    # a unit a return refunded, received or claimed, is never returned again
    taken = max(line.returned_quantity, line.return_refunded_quantity)
    assert most <= line.shipped_quantity - line.requested_quantity - taken
    if decision.allowed and asked:
        assert asked <= d.returnable_quantity
        assert line.shipped_quantity and (line.refundable or override)
    if asked > most:
        assert not decision.allowed
    if not line.refundable and line.shipped_quantity and asked and not override:
        assert decision.codes == [ReturnRefusal.line_item_not_returnable]
    fresh = all(p.start + WINDOW >= NOW for p in parcels)
    if line.refundable and fresh and 0 < asked <= most:
        assert decision.allowed
    if line.refundable and asked and not decision.allowed and asked <= most:
        assert decision.codes == [ReturnRefusal.return_window_expired]
        again = decide([line], parcels, {"li_1": asked}, override=True, now=NOW, window=WINDOW)
        assert again.allowed


@given(
    quantity=st.integers(1, 50),
    price_=st.integers(0, 10**6),
    refunded=st.integers(0, 50),
    asked=st.integers(1, 50),
    deducted=st.integers(0, 10**7),
    paid_off=st.integers(0, 10**6),
)
def test_returned_units_are_priced_within_what_is_refundable(
    quantity: int, price_: int, refunded: int, asked: int, deducted: int, paid_off: int
) -> None:
    refunded = min(refunded, quantity)
    total = quantity * price_
    order = refund_policy.OrderMoney(
        lines=[refund_policy.Line("li_1", quantity, price_, True, refunded)],
        subtotal=total,
        shipping_total=0,
        tax_total=0,
        discount_total=0,
        taxes_included=False,
        paid=total,
        refunded=min(refunded * price_ + paid_off, total),
        shipping_refunded=0,
        processed_at=NOW,
        delivered_at=NOW,
        shipped=True,
    )
    priced = price(order, {"li_1": asked}, held={})
    assert sum(p.quantity for p in priced) <= min(asked, quantity - refunded)
    assert sum(p.amount for p in priced) <= order.paid - order.refunded
    net = deduct(priced, deducted)
    worth = sum(p.amount for p in priced)
    if deducted > worth:
        assert net is None
    else:
        assert net is not None and sum(p.amount for p in net) == worth - deducted
        assert all(p.amount >= 0 for p in net)
