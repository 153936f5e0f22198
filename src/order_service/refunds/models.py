from __future__ import annotations

from datetime import datetime

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
from sqlalchemy.orm import Mapped, mapped_column, relationship

from order_service.kit.db import Base, one_of

REFUND_STATUSES = ("pending", "succeeded", "failed")
REFUND_METHODS = ("original_payment", "store_credit", "gift_card")
REFUND_REASONS = (
    "customer_request",
    "damaged",
    "not_as_described",
    "wrong_item",
    "late_delivery",
    "cancellation",
    "other",
    "order_edited",
)


class Refund(Base):
    __tablename__ = "refunds"
    __table_args__ = (
        CheckConstraint(one_of("status", REFUND_STATUSES), name="status"),
        CheckConstraint(one_of("method", REFUND_METHODS), name="method"),
        CheckConstraint(one_of("reason", REFUND_REASONS), name="reason"),
        CheckConstraint(
            "amount >= 0 AND shipping_amount >= 0 AND goodwill_amount >= 0", name="money"
        ),
        Index("ix_refunds_order_id_created_at", "order_id", "created_at"),
        Index("ix_refunds_status_created_at", "status", "created_at"),
        Index("ix_refunds_return_id", "return_id", postgresql_where=text("return_id IS NOT NULL")),
        # A cancellation refunds at most once, whatever races happen around it (a retry of
        # its failed refund replaces it rather than refunding again).
        Index(
            "uq_refunds_one_cancellation_per_order",
            "order_id",
            unique=True,
            postgresql_where=text("reason = 'cancellation' AND retry_of IS NULL"),
        ),
        # A failed refund is retried at most once, whatever retries run at the same time.
        Index(
            "uq_refunds_retry_of",
            "retry_of",
            unique=True,
            postgresql_where=text("retry_of IS NOT NULL"),
        ),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(20))
    amount: Mapped[int] = mapped_column(BigInteger)
    shipping_amount: Mapped[int] = mapped_column(BigInteger)
    goodwill_amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    method: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(Text)
    notify_customer: Mapped[bool] = mapped_column(Boolean)
    override_policy: Mapped[bool] = mapped_column(Boolean)
    actor_id: Mapped[str | None] = mapped_column(String(40))
    actor_name: Mapped[str] = mapped_column(String(100))
    actor_role: Mapped[str | None] = mapped_column(String(20))
    reference: Mapped[str | None] = mapped_column(String(255))
    failure_reason: Mapped[str | None] = mapped_column(String(1000))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    settled_at: Mapped[datetime | None]
    return_id: Mapped[str | None] = mapped_column(String(40))
    """The return whose received units (or exchange difference) this refunds."""
    retry_of: Mapped[str | None] = mapped_column(ForeignKey("refunds.id", ondelete="CASCADE"))
    """The failed refund this one replaces (`POST /v1/refunds/{id}/retry`)."""

    line_items: Mapped[list[RefundLineItem]] = relationship(
        lazy="raise", cascade="all, delete-orphan", order_by="RefundLineItem.position"
    )


class RefundLineItem(Base):
    __tablename__ = "refund_line_items"
    __table_args__ = (
        CheckConstraint("quantity BETWEEN 1 AND 10000", name="quantity_range"),
        CheckConstraint("amount >= 0", name="amount_non_negative"),
        CheckConstraint("restocked_quantity BETWEEN 0 AND quantity", name="restocked_range"),
        Index("ix_refund_line_items_refund_id", "refund_id"),
        Index("ix_refund_line_items_line_item_id", "line_item_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    refund_id: Mapped[str] = mapped_column(ForeignKey("refunds.id", ondelete="CASCADE"))
    line_item_id: Mapped[str] = mapped_column(ForeignKey("line_items.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    quantity: Mapped[int] = mapped_column(Integer)
    amount: Mapped[int] = mapped_column(BigInteger)
    restock: Mapped[bool] = mapped_column(Boolean)
    restocked_quantity: Mapped[int] = mapped_column(Integer)
