"""Every table, imported in one place for Alembic and the tests."""

from order_service.auth.models import ApiKey
from order_service.edits.models import OrderEdit
from order_service.events.models import Event
from order_service.fulfillments.models import FollowUp, Fulfillment, FulfillmentLine, TrackingEvent
from order_service.http.idempotency import IdempotencyRecord
from order_service.kit.db import Base
from order_service.orders.models import LineItem, Order, PaymentTransaction, TimelineEntry
from order_service.refunds.models import Refund, RefundLineItem
from order_service.returns.models import Return, ReturnLineItem
from order_service.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

metadata = Base.metadata

__all__ = [
    "ApiKey",
    "Event",
    "FollowUp",
    "Fulfillment",
    "FulfillmentLine",
    "IdempotencyRecord",
    "LineItem",
    "Order",
    "OrderEdit",
    "PaymentTransaction",
    "Refund",
    "RefundLineItem",
    "Return",
    "ReturnLineItem",
    "TimelineEntry",
    "TrackingEvent",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "metadata",
]
