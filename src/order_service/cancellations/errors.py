"""The refusals of the cancellation API, each with its HTTP status and stable `code`."""

from __future__ import annotations

from order_service.kit.errors import DomainError


class CancellationWindowExpired(DomainError):
    status = 409
    code = "cancellation_window_expired"
    title = "The customer cancellation window has passed"


class OrderInFulfillment(DomainError):
    status = 409
    code = "order_in_fulfillment"
    title = "Fulfilment has started: the customer can no longer cancel"


class OrderAlreadyFulfilled(DomainError):
    status = 409
    code = "order_already_fulfilled"
    title = "Items have shipped: refund instead of cancelling"


class OrderAlreadyCancelled(DomainError):
    status = 409
    code = "order_already_cancelled"
    title = "The order is already cancelled"


class CancelReasonNotAllowed(DomainError):
    status = 422
    code = "cancel_reason_not_allowed"
    title = "Customers cancel with reason `customer`"


class RefundRequired(DomainError):
    status = 422
    code = "refund_required"
    title = "A customer cancellation always refunds what was paid"
