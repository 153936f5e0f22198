"""The range a timestamp a client sends must lie in (DESIGN, "Bad input never poisons data").

* A fact (`processed_at`, `occurred_at`): from EARLIEST to a minute from now.
* A promise (`estimated_dispatch_date`, `estimated_delivery_at`): from EARLIEST to a year
  from now.
* A filter (`created_after`, `created_before`, `from`, `to`): from EARLIEST.

The lower bound needs no clock and is the request schema's (`schema_types.UtcDatetime`,
`IsoDate`); the upper bounds are relative to the request's clock and checked by the services
with the functions below. CHECK constraints (`sane_times`) hold every stored copy to EARLIEST
and to years PostgreSQL and Python share, whatever path writes it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import CheckConstraint

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
CLOCK_SKEW = timedelta(minutes=1)
"""How far ahead of our clock a client's fact may be and still count as now."""
PROMISE_HORIZON = timedelta(days=365)

OUT_OF_RANGE = "timestamp_out_of_range"
"""The `type` of an `errors` entry for a timestamp outside its range."""

_END = "10000-01-01 00:00:00+00"
"""Past the last instant Python's datetime holds: a later stored time could not be read."""


def sane_times(*columns: str) -> list[CheckConstraint]:
    """A CHECK per column (timestamptz or date), named `<column>_range`: neither before
    EARLIEST nor past year 9999, nor `-infinity`/`infinity`. NULL passes, as in any CHECK."""
    return [
        CheckConstraint(
            f"{column} >= '2000-01-01 00:00:00+00' AND {column} < '{_END}'", name=f"{column}_range"
        )
        for column in columns
    ]


def out_of_range(field: str, message: str) -> dict[str, str]:
    """An `errors` entry of a 422 problem."""
    return {"field": field, "message": message, "type": OUT_OF_RANGE}


def future_fact(field: str, value: datetime | None, now: datetime) -> dict[str, str] | None:
    """The error for a fact later than a minute from `now`, or None."""
    if value is not None and value > now + CLOCK_SKEW:
        return out_of_range(field, "must not be in the future")
    return None


def distant_promise(
    field: str, value: datetime | date | None, now: datetime
) -> dict[str, str] | None:
    """The error for a promise more than a year after `now`, or None."""
    latest = now + PROMISE_HORIZON
    if value is not None and value > (latest if isinstance(value, datetime) else latest.date()):
        return out_of_range(field, "must not be more than a year ahead")
    return None


def summary(found: list[dict[str, str]]) -> str:
    """A problem's `detail` for the `errors` in `found`."""
    return "; ".join(f"{error['field']}: {error['message']}" for error in found) + "."
