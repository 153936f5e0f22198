"""Times and durations in text for people."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from order_service.kit import times


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (datetime(2026, 12, 7, 20, 32, 51, 178228, tzinfo=UTC), "2026-12-07T20:32:51Z"),
        (
            datetime(2026, 12, 8, 1, 2, 3, tzinfo=timezone(timedelta(hours=5, minutes=30))),
            "2026-12-07T19:32:03Z",
        ),
        (datetime(2000, 1, 1, tzinfo=UTC), "2000-01-01T00:00:00Z"),
    ],
)
def test_rfc3339_is_utc_to_the_second(moment: datetime, text: str) -> None:
    assert times.rfc3339(moment) == text
    assert datetime.fromisoformat(text) == moment.replace(microsecond=0)


@pytest.mark.parametrize(
    ("span", "text"),
    [
        (timedelta(hours=1), "1 hour"),
        (timedelta(days=30), "30 days"),
        (timedelta(minutes=90), "90 minutes"),
        (timedelta(seconds=45), "45 seconds"),
    ],
)
def test_duration_in_the_largest_exact_unit(span: timedelta, text: str) -> None:
    assert times.duration(span) == text
