"""Settings as an operator writes them: environment variables with the service's prefix."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from order_service.settings import Settings


@pytest.mark.parametrize(
    ("text", "span"),
    [("3600", timedelta(hours=1)), ("PT30M", timedelta(minutes=30)), ("P2W", timedelta(14))],
)
def test_durations_read_seconds_or_iso_8601(
    monkeypatch: pytest.MonkeyPatch, text: str, span: timedelta
) -> None:
    monkeypatch.setenv("ORDER_SERVICE_RETURN_WINDOW", text)
    assert Settings().return_window == span


@pytest.mark.parametrize("text", ["P1M", "P1Y", "P1Y2D"])
def test_months_and_years_are_refused_by_name(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setenv("ORDER_SERVICE_RETURN_WINDOW", text)
    with pytest.raises(ValidationError, match="months and years are not accepted"):
        Settings()
