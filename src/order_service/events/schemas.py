from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class EventOut(BaseModel):
    id: str = Field(examples=["evt_01jd2m3n4p5q6r7s8t9v0w1x2y"])
    type: str = Field(examples=["order.created"])
    order_id: str | None
    timestamp: datetime
    sequence: int | None = Field(
        description="For an event of an order, its number among the order's events: 1, 2, "
        "3 … without gaps, in the order the changes committed (the webhook payload's "
        "`sequence`). A receiver that has seen 4 and gets 6 knows 5 is still coming or was "
        "missed. null for events not about an order.",
        examples=[3],
    )
    data: dict[str, Any] = Field(
        description="The whole order (with `version`) and what the event is about."
    )


class EventList(BaseModel):
    data: list[EventOut]
    next_cursor: str | None
