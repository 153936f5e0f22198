"""The refusals of the fulfilment API, each with its HTTP status and stable `code`."""

from __future__ import annotations

from order_service.kit.errors import DomainError


class FulfillmentNotFound(DomainError):
    status = 404
    code = "fulfillment_not_found"
    title = "Fulfilment not found"


class FulfillmentExceedsRemaining(DomainError):
    status = 422
    code = "fulfillment_exceeds_remaining"
    title = "More units than remain to be fulfilled"


class UnknownLineItem(DomainError):
    status = 422
    code = "unknown_line_item"
    title = "The line item is not on this order"


class DuplicateLineItem(DomainError):
    status = 422
    code = "duplicate_line_item"
    title = "A line item is listed more than once"


class LineItemNotShippable(DomainError):
    status = 422
    code = "line_item_not_shippable"
    title = "The line item does not require shipping"


class NothingToFulfill(DomainError):
    status = 409
    code = "nothing_to_fulfill"
    title = "Every unit is already in a fulfilment"


class FulfillmentCancelled(DomainError):
    status = 409
    code = "fulfillment_cancelled"
    title = "The fulfilment is cancelled"


class FulfillmentDelivered(DomainError):
    status = 409
    code = "fulfillment_delivered"
    title = "The fulfilment has been delivered: refund or return instead"


class InvalidTrackingEvent(DomainError):
    status = 422
    code = "invalid_tracking_event"
    title = "The tracking event is not valid"


class FulfillmentHasReturns(DomainError):
    status = 409
    code = "fulfillment_has_returns"
    title = "The fulfilment's units are in returns"
