"""Turning an order row into what the API and the webhooks show."""

from __future__ import annotations

from datetime import datetime

from order_service import money
from order_service.cancellations import policy as cancellation
from order_service.orders.models import Order
from order_service.orders.schemas import CustomerOut, LineItemOut, OrderOut
from order_service.settings import Settings


def cancellation_state(order: Order) -> cancellation.OrderState:
    return cancellation.OrderState(
        status=order.status,
        fulfillment_status=order.fulfillment_status,
        processed_at=order.processed_at,
        shipped_units=sum(li.shipped_quantity for li in order.line_items),
    )


def order_out(order: Order, now: datetime, settings: Settings) -> OrderOut:
    customer_decision = cancellation.decide(
        cancellation_state(order),
        merchant=False,
        now=now,
        window=settings.customer_cancel_window,
    )
    return OrderOut(
        id=order.id,
        number=order.number,
        status=order.status,
        financial_status=order.financial_status,
        fulfillment_status=order.fulfillment_status,
        customer=CustomerOut(
            id=order.customer_id, email=order.customer_email, name=order.customer_name
        ),
        shipping_address=order.shipping_address,
        billing_address=order.billing_address,
        line_items=[
            LineItemOut(
                id=li.id,
                sku=li.sku,
                title=li.title,
                variant_title=li.variant_title,
                product_id=li.product_id,
                quantity=li.quantity,
                unit_price=li.unit_price,
                total=li.quantity * li.unit_price,
                refundable=li.refundable,
                requires_shipping=li.requires_shipping,
                fulfilled_quantity=li.fulfilled_quantity,
                shipped_quantity=li.shipped_quantity,
                refunded_quantity=li.refunded_quantity,
                refund_pending_quantity=li.refund_pending_quantity,
                restocked_quantity=li.restocked_quantity,
            )
            for li in order.line_items
        ],
        shipping_lines=order.shipping_lines,
        tax_lines=order.tax_lines,
        discounts=order.discounts,
        currency=order.currency,
        currency_exponent=money.exponent(order.currency),
        taxes_included=order.taxes_included,
        subtotal=order.subtotal,
        shipping_total=order.shipping_total,
        tax_total=order.tax_total,
        discount_total=order.discount_total,
        total=order.total,
        total_authorized=order.total_authorized,
        total_paid=order.total_paid,
        total_refunded=order.total_refunded,
        total_refund_pending=order.total_refund_pending,
        shipping_refunded=order.shipping_refunded,
        total_fees=order.total_fees,
        net_paid=order.total_paid - order.total_refunded - order.total_fees,
        payment_gateway=order.payment_gateway,
        payment_reference=order.payment_reference,
        note=order.note,
        tags=list(order.tags),
        source_name=order.source_name,
        processed_at=order.processed_at,
        estimated_dispatch_date=order.estimated_dispatch_date,
        delivered_at=order.delivered_at,
        customer_cancellable_until=customer_decision.until,
        cancelled_at=order.cancelled_at,
        cancel_reason=order.cancel_reason,
        cancelled_by=order.cancelled_by,
        reordered_from_id=order.reordered_from_id,
        reorder_ids=list(order.reorder_ids),
        archived_at=order.archived_at,
        closed_at=order.closed_at,
        version=order.version,
        created_at=order.created_at,
        updated_at=order.updated_at,
    )
