"""Times and durations in text for people (timeline messages, problem details)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def rfc3339(moment: datetime) -> str:
    """`2026-12-07T20:32:51Z`: UTC to the second, as the API's timestamps read less the
    fraction, which no person reading a sentence needs."""
    utc = moment.astimezone(UTC).replace(microsecond=0, tzinfo=None)
    return utc.isoformat() + "Z"


def duration(span: timedelta) -> str:
    """`1 hour`, `30 days`, `90 minutes`: the largest unit that divides it exactly."""
    seconds = int(span.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            n = seconds // size
            return f"{n} {unit}{'s' if n != 1 else ''}"
    return f"{seconds} seconds"
