"""The refusals of the refund API, each with its HTTP status and stable `code`."""

from __future__ import annotations

from order_service.kit.errors import DomainError


class RefundNotFound(DomainError):
    status = 404
    code = "refund_not_found"
    title = "Refund not found"


class RefundExceedsRefundable(DomainError):
    status = 409
    code = "refund_exceeds_refundable"
    title = "The refund exceeds what can still be refunded"


class RefundWindowExpired(DomainError):
    status = 409
    code = "refund_window_expired"
    title = "The refund window has passed"


class ItemNotRefundable(DomainError):
    status = 422
    code = "item_not_refundable"
    title = "The item is final sale"


class LineItemNotFound(DomainError):
    status = 422
    code = "line_item_not_found"
    title = "No such line item on this order"


class ShippingNotRefundable(DomainError):
    status = 409
    code = "shipping_not_refundable"
    title = "Shipping is refundable only before anything has shipped"


class OrderNotPaid(DomainError):
    status = 409
    code = "order_not_paid"
    title = "Nothing has been paid on this order"


class RefundEmpty(DomainError):
    status = 422
    code = "refund_empty"
    title = "The refund asks for nothing"


class OverrideNotAllowed(DomainError):
    status = 403
    code = "override_not_allowed"
    title = "Only ops and admin keys may override the refund policy"


class OverrideRequiresNote(DomainError):
    status = 422
    code = "override_requires_note"
    title = "Overriding the refund policy needs a note saying why"


class GoodwillNotAllowed(DomainError):
    status = 403
    code = "goodwill_not_allowed"
    title = "Only ops and admin keys may make goodwill refunds"


class RefundAlreadySettled(DomainError):
    status = 409
    code = "refund_already_settled"
    title = "The refund is already settled"


class RefundNotFailed(DomainError):
    status = 409
    code = "refund_not_failed"
    title = "Only a failed refund can be retried"


class RefundAlreadyRetried(DomainError):
    status = 409
    code = "refund_already_retried"
    title = "The failed refund has already been retried"
