from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Identity, Index, Integer, String, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from order_service.kit.db import Base


class Event(Base):
    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_order_id_sequence", "order_id", "sequence"),
        Index("ix_events_type_sequence", "type", "sequence"),
        Index("ix_events_created_at_id", "created_at", "id"),  # retention, oldest first
        # The last guard of the per-order numbering: two events of an order never share one.
        Index("uq_events_order_id_order_sequence", "order_id", "order_sequence", unique=True),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    # Global, in insertion order (not commit order): the API pages by it.
    sequence: Mapped[int] = mapped_column(BigInteger, Identity(), unique=True)
    # 1, 2, 3 … per order in commit order (`orders.last_event_sequence`); the payload's
    # `sequence`. None for events not about an order.
    order_sequence: Mapped[int | None] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(64))
    order_id: Mapped[str | None] = mapped_column(String(40))
    data: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
