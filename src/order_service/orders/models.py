from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    Sequence,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from order_service.kit.db import Base, one_of
from order_service.kit.timestamps import sane_times

ORDER_NUMBER_SEQ = Sequence("order_number_seq", start=1001, metadata=Base.metadata)

ORDER_STATUSES = ("open", "cancelled", "closed")
FINANCIAL_STATUSES = (
    "pending",
    "authorized",
    "partially_paid",
    "paid",
    "partially_refunded",
    "refunded",
    "voided",
)
RETURN_STATUSES = ("none", "requested", "in_progress", "returned", "partially_returned")
FULFILLMENT_STATUSES = (
    "unfulfilled",
    "in_progress",
    "partially_fulfilled",
    "fulfilled",
    "delivered",
)


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint(one_of("status", ORDER_STATUSES), name="status"),
        CheckConstraint(one_of("financial_status", FINANCIAL_STATUSES), name="financial_status"),
        CheckConstraint(
            one_of("fulfillment_status", FULFILLMENT_STATUSES), name="fulfillment_status"
        ),
        CheckConstraint(
            "subtotal >= 0 AND shipping_total >= 0 AND tax_total >= 0 AND discount_total >= 0 "
            "AND total >= 0 AND total_refunded >= 0 AND total_paid >= 0 "
            "AND total_authorized >= 0 AND total_fees >= 0",
            name="money_non_negative",
        ),
        # Exchange credit is paid money moved to an exchange order: not refundable again.
        CheckConstraint(
            "total_refunded + total_refund_pending + total_exchange_credit <= total_paid",
            name="refunds_within_paid",
        ),
        CheckConstraint("total_exchange_credit >= 0", name="exchange_credit_non_negative"),
        CheckConstraint(one_of("return_status", RETURN_STATUSES), name="return_status"),
        # Refunded shipping includes the shipping's share of tax.
        CheckConstraint(
            "shipping_refunded + shipping_refund_pending <= shipping_total + tax_total",
            name="shipping_refunds_within_shipping",
        ),
        CheckConstraint(
            "total_refund_pending >= 0 AND shipping_refunded >= 0 AND shipping_refund_pending >= 0",
            name="refund_money_non_negative",
        ),
        CheckConstraint(
            "cancelled_by IS NULL OR cancelled_by IN ('customer', 'merchant')",
            name="cancelled_by",
        ),
        # An edit may lower the total below what was paid (refunded, or owed with
        # `refund: false`); captures are held to `outstanding` under the row lock.
        CheckConstraint("total_paid <= total_authorized", name="paid_within_authorized"),
        CheckConstraint(
            "total_edit_refunds >= 0 "
            "AND total_edit_refunds <= total_refunded + total_refund_pending",
            name="edit_refunds_within_refunds",
        ),
        CheckConstraint("version >= 1", name="version_positive"),
        CheckConstraint("char_length(currency) = 3", name="currency_code"),
        *sane_times("processed_at", "estimated_dispatch_date", "delivered_at"),
        Index("ix_orders_customer_email_lower", text("lower(customer_email)")),
        Index("ix_orders_created_at", "created_at"),
        # reports: orders by when they were placed, cancellations by when they happened
        Index("ix_orders_processed_at", "processed_at"),
        Index(
            "ix_orders_cancelled_at",
            "cancelled_at",
            postgresql_where=text("cancelled_at IS NOT NULL"),
        ),
        Index("ix_orders_status_number", "status", "number"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    number: Mapped[int] = mapped_column(
        BigInteger, ORDER_NUMBER_SEQ, server_default=ORDER_NUMBER_SEQ.next_value(), unique=True
    )
    status: Mapped[str] = mapped_column(String(20), default="open")
    financial_status: Mapped[str] = mapped_column(String(20), default="pending")
    fulfillment_status: Mapped[str] = mapped_column(String(20), default="unfulfilled")

    customer_id: Mapped[str | None] = mapped_column(String(255))
    customer_email: Mapped[str] = mapped_column(String(254))
    customer_name: Mapped[str | None] = mapped_column(String(255))
    shipping_address: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    billing_address: Mapped[dict[str, Any] | None] = mapped_column(JSONB)

    currency: Mapped[str] = mapped_column(String(3))
    taxes_included: Mapped[bool] = mapped_column(Boolean, default=False)
    shipping_lines: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    tax_lines: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    discounts: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)

    subtotal: Mapped[int] = mapped_column(BigInteger)
    shipping_total: Mapped[int] = mapped_column(BigInteger)
    tax_total: Mapped[int] = mapped_column(BigInteger)
    discount_total: Mapped[int] = mapped_column(BigInteger)
    total: Mapped[int] = mapped_column(BigInteger)
    total_authorized: Mapped[int] = mapped_column(BigInteger, default=0)
    total_paid: Mapped[int] = mapped_column(BigInteger, default=0)
    total_refunded: Mapped[int] = mapped_column(BigInteger, default=0)
    total_fees: Mapped[int] = mapped_column(BigInteger, default=0)
    total_refund_pending: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    shipping_refunded: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    shipping_refund_pending: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    total_edit_refunds: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    """Refunds made for edits, pending or succeeded: `outstanding` is
    `total - total_paid + total_edit_refunds`."""
    total_exchange_credit: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    """What returned units were worth toward exchange orders (paid money moved there)."""
    return_status: Mapped[str] = mapped_column(String(20), default="none", server_default="none")

    payment_gateway: Mapped[str | None] = mapped_column(String(100))
    payment_reference: Mapped[str | None] = mapped_column(String(255))

    note: Mapped[str | None] = mapped_column(Text)
    tags: Mapped[list[str]] = mapped_column(ARRAY(String(64)), default=list)
    source_name: Mapped[str | None] = mapped_column(String(100))

    processed_at: Mapped[datetime]
    estimated_dispatch_date: Mapped[date | None]
    delivered_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    cancel_reason: Mapped[str | None] = mapped_column(String(20))
    cancelled_by: Mapped[str | None] = mapped_column(String(20))
    reordered_from_id: Mapped[str | None] = mapped_column(String(40))
    reorder_ids: Mapped[list[str]] = mapped_column(
        ARRAY(String(40)), default=list, server_default="{}"
    )
    exchanged_from_id: Mapped[str | None] = mapped_column(String(40))
    """For an exchange order: the order whose return it replaces."""
    archived_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]

    version: Mapped[int] = mapped_column(Integer, default=1)
    # The `sequence` of the order's latest event (`events.order_sequence`): each event of the
    # order takes the next number under the order's row lock, so they run 1, 2, 3 … in
    # commit order, and a rolled-back change gives its numbers back.
    last_event_sequence: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())

    line_items: Mapped[list[LineItem]] = relationship(
        back_populates="order",
        lazy="raise",
        order_by="LineItem.position",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )


class LineItem(Base):
    __tablename__ = "line_items"
    __table_args__ = (
        # 0: an edit removed the line (it stays, for the history and what names it).
        CheckConstraint("quantity BETWEEN 0 AND 10000", name="quantity_range"),
        CheckConstraint("removed_quantity >= 0", name="removed_non_negative"),
        CheckConstraint("unit_price >= 0", name="unit_price_non_negative"),
        CheckConstraint(
            "fulfilled_quantity BETWEEN 0 AND quantity", name="fulfilled_within_quantity"
        ),
        CheckConstraint(
            "shipped_quantity BETWEEN 0 AND fulfilled_quantity", name="shipped_within_fulfilled"
        ),
        CheckConstraint(
            "refunded_quantity >= 0 AND refund_pending_quantity >= 0 AND exchanged_quantity >= 0 "
            "AND refunded_quantity + refund_pending_quantity + exchanged_quantity <= quantity",
            name="refunds_within_quantity",
        ),
        CheckConstraint(
            "return_refunded_quantity BETWEEN 0 AND refunded_quantity + refund_pending_quantity",
            name="return_refunds_within_refunds",
        ),
        CheckConstraint(
            "return_requested_quantity >= 0 AND returned_quantity >= 0 "
            "AND return_requested_quantity + returned_quantity <= quantity",
            name="returns_within_quantity",
        ),
        CheckConstraint(
            "restocked_quantity BETWEEN 0 AND quantity", name="restocked_within_quantity"
        ),
        *sane_times("processed_at"),
        Index("ix_line_items_order_id_position", "order_id", "position"),
        Index("ix_line_items_sku", "sku"),
        Index("ix_line_items_processed_at", "processed_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    sku: Mapped[str] = mapped_column(String(128))
    title: Mapped[str] = mapped_column(String(255))
    variant_title: Mapped[str | None] = mapped_column(String(255))
    product_id: Mapped[str | None] = mapped_column(String(255))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[int] = mapped_column(BigInteger)
    refundable: Mapped[bool] = mapped_column(Boolean, default=True)
    requires_shipping: Mapped[bool] = mapped_column(Boolean, default=True)
    fulfilled_quantity: Mapped[int] = mapped_column(Integer, default=0)
    """Units in fulfilments that are not cancelled: being picked (`pending`) or shipped."""
    shipped_quantity: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    """Units in shipped fulfilments: what has left the warehouse."""
    refunded_quantity: Mapped[int] = mapped_column(Integer, default=0)
    refund_pending_quantity: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    return_refunded_quantity: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """Of `refunded_quantity` and `refund_pending_quantity`: units refunded for returns (received,
    or claimed lost on the way). They had shipped, so unlike a plain refund's units (taken to be
    unshipped ones first) their refund never stops another unit shipping."""
    restocked_quantity: Mapped[int] = mapped_column(Integer, default=0)
    removed_quantity: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """Units edits took off the line (no longer part of `quantity`)."""
    return_requested_quantity: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """Units in returns requested or approved, not yet received."""
    returned_quantity: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """Units received back by returns."""
    exchanged_quantity: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """Returned units whose value paid for an exchange order (not refundable again)."""
    processed_at: Mapped[datetime | None]
    """The order's `processed_at`, copied (it never changes) so reports over a period can
    range-scan line items instead of joining every order."""

    order: Mapped[Order] = relationship(back_populates="line_items", lazy="raise")


class PaymentTransaction(Base):
    __tablename__ = "transactions"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('authorization', 'capture', 'sale', 'void', 'refund')", name="kind"
        ),
        CheckConstraint("status IN ('success', 'failure')", name="status"),
        CheckConstraint("amount >= 0 AND fee >= 0", name="money_non_negative"),
        Index("ix_transactions_order_id_created_at", "order_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(10))
    amount: Mapped[int] = mapped_column(BigInteger)
    fee: Mapped[int] = mapped_column(BigInteger, default=0)
    currency: Mapped[str] = mapped_column(String(3))
    gateway: Mapped[str | None] = mapped_column(String(100))
    reference: Mapped[str | None] = mapped_column(String(255))
    error_message: Mapped[str | None] = mapped_column(String(1000))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class TimelineEntry(Base):
    """One line of an order's history: what changed, who did it, when."""

    __tablename__ = "order_timeline"
    __table_args__ = (Index("ix_order_timeline_order_id_id", "order_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(String(1000))
    actor_type: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[str | None] = mapped_column(String(40))
    actor_name: Mapped[str] = mapped_column(String(100))
    actor_role: Mapped[str | None] = mapped_column(String(20))
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
