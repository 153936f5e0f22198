"""Tracking merges and the order's fulfillment status, over many cases."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from order_service.fulfillments.policy import (
    SHIPMENT_STATUSES,
    Report,
    Units,
    latest,
    merge,
    order_fulfillment_status,
    precedence,
    tracking_url,
)

T0 = datetime(2026, 11, 20, tzinfo=UTC)

reports = st.builds(
    Report,
    status=st.sampled_from(SHIPMENT_STATUSES),
    occurred_at=st.integers(0, 50).map(lambda h: T0 + timedelta(hours=h)),
)


@given(st.lists(reports, min_size=1, max_size=12), st.randoms())
def test_merge_depends_on_the_reports_not_their_arrival(
    events: list[Report], rnd: random.Random
) -> None:
    shuffled = list(events) + list(events[:3])  # with repeats
    rnd.shuffle(shuffled)
    assert latest(shuffled) == latest(events)


@given(st.lists(reports, min_size=1, max_size=12))
def test_merge_never_moves_backwards(events: list[Report]) -> None:
    current = None
    for event in events:
        merged = merge(current, event)
        if current is not None:
            assert precedence(merged) >= precedence(current)
            if current.status == "delivered":
                assert merged.status == "delivered"
            if event.occurred_at < current.occurred_at and event.status != "delivered":
                assert merged == current
        current = merged
    delivered = [e for e in events if e.status == "delivered"]
    assert current is not None
    if delivered:
        assert current.status == "delivered"
    else:
        assert current.occurred_at == max(e.occurred_at for e in events)


@st.composite
def units(draw: st.DrawFn) -> Units:
    ordered = draw(st.integers(0, 50))
    allocated = draw(st.integers(0, ordered))
    shipped = draw(st.integers(0, allocated))
    delivered = draw(st.integers(0, shipped))
    return Units(ordered, allocated, shipped, delivered)


@given(units())
def test_order_fulfillment_status(u: Units) -> None:
    status = order_fulfillment_status(u)
    if u.ordered and u.shipped == u.ordered:
        assert status == ("delivered" if u.delivered == u.ordered else "fulfilled")
    elif u.shipped:
        assert status == "partially_fulfilled"
    elif u.allocated:
        assert status == "in_progress"
    else:
        assert status == "unfulfilled"
    # Customer cancellation hinges on this: any allocated unit means fulfilment started.
    assert (status == "unfulfilled") == (u.allocated == 0)


def test_partial_delivery_is_not_delivery() -> None:
    assert order_fulfillment_status(Units(3, 3, 2, 2)) == "partially_fulfilled"
    assert order_fulfillment_status(Units(3, 3, 3, 2)) == "fulfilled"
    assert order_fulfillment_status(Units(3, 3, 3, 3)) == "delivered"


@given(st.text(min_size=1, max_size=30))
def test_tracking_urls_escape_the_number(number: str) -> None:
    url = tracking_url("UPS", number)
    assert url is not None and url.startswith("https://www.ups.com/track?tracknum=")
    tail = url.removeprefix("https://www.ups.com/track?tracknum=")
    assert all(c not in tail for c in "&?#/ ")
    assert tracking_url("Unknown Carrier", number) is None
    assert tracking_url(None, number) is None
