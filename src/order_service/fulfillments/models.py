from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from order_service.fulfillments.policy import FULFILLMENT_STATUSES, SHIPMENT_STATUSES
from order_service.kit.db import Base, one_of
from order_service.kit.timestamps import sane_times
from order_service.orders.models import LineItem


class Fulfillment(Base):
    """A parcel: some units of an order's line items, picked (`pending`) or `shipped`."""

    __tablename__ = "fulfillments"
    __table_args__ = (
        CheckConstraint(one_of("status", FULFILLMENT_STATUSES), name="status"),
        CheckConstraint(one_of("shipment_status", SHIPMENT_STATUSES), name="shipment_status"),
        CheckConstraint("status <> 'pending' OR shipped_at IS NULL", name="pending_not_shipped"),
        *sane_times(
            "shipment_status_at",
            "estimated_delivery_at",
            "shipped_at",
            "order_processed_at",
            "promised_dispatch_date",
            "delivered_at",
        ),
        Index("ix_fulfillments_order_id_id", "order_id", "id"),
        # the fulfilment report: shipments by when they shipped
        Index(
            "ix_fulfillments_shipped_at", "shipped_at", postgresql_where=text("status = 'shipped'")
        ),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(20))
    shipment_status: Mapped[str | None] = mapped_column(String(20))
    """The carrier's latest word, merged from tracking events by `occurred_at`."""
    shipment_status_at: Mapped[datetime | None]
    carrier: Mapped[str | None] = mapped_column(String(100))
    service: Mapped[str | None] = mapped_column(String(100))
    tracking_number: Mapped[str | None] = mapped_column(String(64))
    tracking_url: Mapped[str | None] = mapped_column(String(2048))
    notify_customer: Mapped[bool] = mapped_column(Boolean, default=True)
    estimated_delivery_at: Mapped[datetime | None]
    shipped_at: Mapped[datetime | None]
    # The order's placement time and promised dispatch date, copied when the fulfilment is
    # made (neither changes later), so the fulfilment report needs no join with orders.
    order_processed_at: Mapped[datetime | None]
    promised_dispatch_date: Mapped[date | None]
    delivered_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())

    lines: Mapped[list[FulfillmentLine]] = relationship(
        lazy="raise",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="FulfillmentLine.id",
    )
    tracking_events: Mapped[list[TrackingEvent]] = relationship(
        lazy="raise",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="[TrackingEvent.occurred_at, TrackingEvent.id]",
    )


class FulfillmentLine(Base):
    __tablename__ = "fulfillment_line_items"
    __table_args__ = (
        CheckConstraint("quantity BETWEEN 1 AND 10000", name="quantity_range"),
        UniqueConstraint("fulfillment_id", "line_item_id"),
        Index("ix_fulfillment_line_items_line_item_id", "line_item_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    fulfillment_id: Mapped[str] = mapped_column(ForeignKey("fulfillments.id", ondelete="CASCADE"))
    line_item_id: Mapped[str] = mapped_column(ForeignKey("line_items.id", ondelete="CASCADE"))
    quantity: Mapped[int] = mapped_column(Integer)

    line_item: Mapped[LineItem] = relationship(lazy="raise")


class TrackingEvent(Base):
    """One report from a carrier. Kept even when it arrives late and changes nothing; the
    unique constraint makes a repeated report (same status and time) a no-op."""

    __tablename__ = "tracking_events"
    __table_args__ = (
        CheckConstraint(one_of("status", SHIPMENT_STATUSES), name="status"),
        *sane_times("occurred_at", "estimated_delivery_at"),
        UniqueConstraint("fulfillment_id", "status", "occurred_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    fulfillment_id: Mapped[str] = mapped_column(ForeignKey("fulfillments.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(20))
    occurred_at: Mapped[datetime]
    location: Mapped[str | None] = mapped_column(String(255))
    message: Mapped[str | None] = mapped_column(String(1000))
    estimated_delivery_at: Mapped[datetime | None]
    applied: Mapped[bool] = mapped_column(Boolean)
    """Whether it moved the fulfilment when it arrived (false for a late, older report)."""
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class FollowUp(Base):
    """The post-delivery follow-up of an order: one row per order, ever (the unique
    constraint), claimed by one worker at a time (`FOR UPDATE SKIP LOCKED`) and marked done
    in the transaction that writes its event, so it fires exactly once."""

    __tablename__ = "follow_ups"
    __table_args__ = (
        CheckConstraint("status IN ('scheduled', 'sent', 'skipped')", name="status"),
        Index(
            "ix_follow_ups_due_at_scheduled",
            "due_at",
            postgresql_where=text("status = 'scheduled'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), unique=True)
    status: Mapped[str] = mapped_column(String(20), default="scheduled")
    due_at: Mapped[datetime]
    done_at: Mapped[datetime | None]
    skip_reason: Mapped[str | None] = mapped_column(String(40))
    event_id: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
