"""The refusals of the returns API, each with its HTTP status and stable `code`. Codes other
domains already have keep their one class: `line_item_not_found`, `override_not_allowed`,
`override_requires_note` (refunds), `order_not_found`, `invalid_order` (common)."""

from __future__ import annotations

from order_service.kit.errors import DomainError


class ReturnNotFound(DomainError):
    status = 404
    code = "return_not_found"
    title = "No such return"


class ReturnWindowExpired(DomainError):
    status = 409
    code = "return_window_expired"
    title = "The return window has passed"


class LineItemNotReturnable(DomainError):
    status = 409
    code = "line_item_not_returnable"
    title = "The item cannot be returned: final sale, or not shipped"


class QuantityExceedsReturnable(DomainError):
    status = 409
    code = "quantity_exceeds_returnable"
    title = "More units than were delivered and not yet returned, requested or refunded"


class ReturnNotRequested(DomainError):
    status = 409
    code = "return_not_requested"
    title = "Only a requested return can be approved or declined"


class ReturnNotApproved(DomainError):
    status = 409
    code = "return_not_approved"
    title = "Only an approved return can be received"


class ReturnNotCancellable(DomainError):
    status = 409
    code = "return_not_cancellable"
    title = "A return can be cancelled only until it is received"


class ReturnNotClosable(DomainError):
    status = 409
    code = "return_not_closable"
    title = "A return closes once received, or approved as a claim"


class LineItemNotInReturn(DomainError):
    status = 422
    code = "line_item_not_in_return"
    title = "A received line is not in the return, or more units than it holds"


class DeductionExceedsRefundable(DomainError):
    status = 422
    code = "deduction_exceeds_refundable"
    title = "Deductions exceed what the return refunds"


class InvalidReturn(DomainError):
    status = 422
    code = "invalid_return"
    title = "The return request is invalid"
