from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from order_service.kit.db import Base, one_of
from order_service.kit.timestamps import sane_times

RETURN_STATUSES = ("requested", "approved", "declined", "received", "closed", "cancelled")
OPEN_STATUSES = ("requested", "approved")
"""Returns whose units are still on their way back (`return_requested_quantity`)."""
RESOLUTIONS = ("refund", "store_credit", "exchange")
RETURN_REASONS = (
    "damaged",
    "defective",
    "not_as_described",
    "wrong_item",
    "size_or_fit",
    "changed_mind",
    "other",
)
DECLINE_REASONS = ("outside_policy", "not_eligible", "no_proof", "other")
DISPOSITIONS = ("restock", "not_restocked", "damaged", "missing")


class Return(Base):
    """A customer's request to send units of an order back, and what came of it."""

    __tablename__ = "returns"
    __table_args__ = (
        CheckConstraint(one_of("status", RETURN_STATUSES), name="status"),
        CheckConstraint(one_of("resolution", RESOLUTIONS), name="resolution"),
        CheckConstraint(
            "decline_reason IS NULL OR " + one_of("decline_reason", DECLINE_REASONS),
            name="decline_reason",
        ),
        CheckConstraint(
            "expected_refund >= 0 AND refund_amount >= 0 AND deducted_amount >= 0 "
            "AND exchange_credit >= 0",
            name="money",
        ),
        *sane_times("return_by"),
        Index("ix_returns_order_id_id", "order_id", "id"),
        Index("ix_returns_status_id", "status", "id"),
        # the returns report: returns by when they were requested
        Index("ix_returns_created_at", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(20))
    resolution: Mapped[str] = mapped_column(String(20))
    currency: Mapped[str] = mapped_column(String(3))
    customer_note: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    override_policy: Mapped[bool] = mapped_column(Boolean)
    notify_customer: Mapped[bool] = mapped_column(Boolean)
    exchange_line_items: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    """`orders.schemas.LineItemIn`s: the replacement items of an exchange."""
    items_required: Mapped[bool] = mapped_column(Boolean)
    """False for a claim (lost or damaged in transit): it closes without receipt."""
    ship_replacement_first: Mapped[bool] = mapped_column(Boolean)
    return_shipping: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    return_by: Mapped[datetime | None]
    decline_reason: Mapped[str | None] = mapped_column(String(20))
    expected_refund: Mapped[int] = mapped_column(BigInteger)
    """What the units were worth when asked for (their share of discounts and tax)."""
    refund_id: Mapped[str | None] = mapped_column(String(40))
    refund_amount: Mapped[int] = mapped_column(BigInteger)
    """What the refund of this return came to, after deductions (0 before, or without)."""
    deducted_amount: Mapped[int] = mapped_column(BigInteger)
    deductions: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    exchange_order_id: Mapped[str | None] = mapped_column(String(40))
    exchange_credit: Mapped[int] = mapped_column(BigInteger)
    """The returned units' value that paid for the exchange order."""
    actor_id: Mapped[str | None] = mapped_column(String(40))
    actor_name: Mapped[str] = mapped_column(String(100))
    actor_role: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())
    approved_at: Mapped[datetime | None]
    declined_at: Mapped[datetime | None]
    received_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]

    line_items: Mapped[list[ReturnLineItem]] = relationship(
        lazy="raise", cascade="all, delete-orphan", order_by="ReturnLineItem.position"
    )


class ReturnLineItem(Base):
    __tablename__ = "return_line_items"
    __table_args__ = (
        CheckConstraint("quantity BETWEEN 1 AND 10000", name="quantity_range"),
        CheckConstraint(one_of("reason", RETURN_REASONS), name="reason"),
        CheckConstraint(
            "disposition IS NULL OR " + one_of("disposition", DISPOSITIONS), name="disposition"
        ),
        CheckConstraint(
            "received_quantity BETWEEN 0 AND quantity "
            "AND restocked_quantity BETWEEN 0 AND received_quantity",
            name="received_within_quantity",
        ),
        Index("ix_return_line_items_return_id", "return_id"),
        Index("ix_return_line_items_line_item_id", "line_item_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    return_id: Mapped[str] = mapped_column(ForeignKey("returns.id", ondelete="CASCADE"))
    line_item_id: Mapped[str] = mapped_column(ForeignKey("line_items.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    quantity: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(Text)
    received_quantity: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    """Units that came back (dispositions `restock`, `not_restocked`, `damaged`)."""
    disposition: Mapped[str | None] = mapped_column(String(20))
    restocked_quantity: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    refunded_quantity: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    """Units the return's refund covered (fewer than received when some had been refunded
    already)."""
