"""Field types shared by every domain's request schemas."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, Field, StringConstraints

from order_service import money

Amount = Annotated[int, Field(ge=0, le=money.MAX_UNIT_AMOUNT, strict=True)]
"""Money in minor units of the order's currency: a non-negative integer, never a float."""

ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
OptionalText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=255)] | None
Note = Annotated[str, StringConstraints(max_length=5000)]


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]
"""An RFC 3339 timestamp with an offset; stored and shown in UTC."""
