"""The cancellation window, across its edges."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from order_service.cancellations.policy import OrderState, decide

WINDOW = timedelta(hours=1)
PLACED = datetime(2026, 11, 20, 10, tzinfo=UTC)


def state(**overrides: object) -> OrderState:
    values: dict[str, object] = {
        "status": "open",
        "fulfillment_status": "unfulfilled",
        "processed_at": PLACED,
        "shipped_units": 0,
    }
    values.update(overrides)
    return OrderState(**values)  # type: ignore[arg-type]


def test_deadline_itself_is_inside_and_one_microsecond_after_is_not() -> None:
    at = decide(state(), merchant=False, now=PLACED + WINDOW, window=WINDOW)
    assert at.cancellable and at.until == PLACED + WINDOW
    after = decide(
        state(), merchant=False, now=PLACED + WINDOW + timedelta(microseconds=1), window=WINDOW
    )
    assert not after.cancellable and after.code == "cancellation_window_expired"
    assert after.until is None


@given(
    offset=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3)),
    window=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=2)),
    tz_hours=st.integers(-12, 14),
)
def test_customer_window_in_any_time_zone(
    offset: timedelta, window: timedelta, tz_hours: int
) -> None:
    placed = PLACED.astimezone(timezone(timedelta(hours=tz_hours)))
    now = (PLACED + offset).astimezone(UTC)
    decision = decide(state(processed_at=placed), merchant=False, now=now, window=window)
    assert decision.cancellable == (offset <= window)
    if decision.cancellable:
        assert decision.until == PLACED + window
    else:
        assert decision.code == "cancellation_window_expired"


@given(
    status=st.sampled_from(["open", "cancelled", "closed"]),
    fulfillment=st.sampled_from(
        ["unfulfilled", "in_progress", "partially_fulfilled", "fulfilled", "delivered"]
    ),
    shipped=st.integers(0, 5),
    offset=st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=3)),
    merchant=st.booleans(),
)
def test_decision_always_has_a_reason_when_refused(
    status: str, fulfillment: str, shipped: int, offset: timedelta, merchant: bool
) -> None:
    decision = decide(
        state(status=status, fulfillment_status=fulfillment, shipped_units=shipped),
        merchant=merchant,
        now=PLACED + offset,
        window=WINDOW,
    )
    assert decision.cancellable == (decision.code is None)
    if status == "cancelled":
        assert decision.code == "order_already_cancelled"
    elif merchant:
        assert decision.cancellable == (shipped == 0)
        assert decision.until is None
    elif decision.cancellable:
        assert status == "open" and fulfillment == "unfulfilled" and offset <= WINDOW
