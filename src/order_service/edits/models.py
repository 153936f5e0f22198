from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, CheckConstraint, ForeignKey, Index, String, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from order_service.kit.db import Base, one_of

EDIT_REASONS = ("customer_request", "out_of_stock", "price_correction", "other")


class OrderEdit(Base):
    """One committed edit of an order: what changed and what it did to the money."""

    __tablename__ = "order_edits"
    __table_args__ = (
        CheckConstraint(one_of("reason", EDIT_REASONS), name="reason"),
        Index("ix_order_edits_order_id_id", "order_id", "id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(Text)
    changes: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    """`schemas.LineChange`s."""
    field_changes: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    """`schemas.FieldChange`s."""
    total_before: Mapped[int] = mapped_column(BigInteger)
    total_after: Mapped[int] = mapped_column(BigInteger)
    outstanding_before: Mapped[int] = mapped_column(BigInteger)
    outstanding_after: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    refund_id: Mapped[str | None] = mapped_column(String(40))
    restock: Mapped[bool] = mapped_column(Boolean)
    refund: Mapped[bool] = mapped_column(Boolean)
    notify_customer: Mapped[bool] = mapped_column(Boolean)
    actor_id: Mapped[str | None] = mapped_column(String(40))
    actor_name: Mapped[str] = mapped_column(String(100))
    actor_role: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
