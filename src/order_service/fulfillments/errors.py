"""The refusals of the fulfilment API, each with its HTTP status and stable `code`."""

from __future__ import annotations

from order_service.errors import define_error

FulfillmentNotFound = define_error(
    "FulfillmentNotFound", 404, "fulfillment_not_found", "Fulfilment not found"
)
FulfillmentExceedsRemaining = define_error(
    "FulfillmentExceedsRemaining",
    422,
    "fulfillment_exceeds_remaining",
    "More units than remain to be fulfilled",
)
UnknownLineItem = define_error(
    "UnknownLineItem", 422, "unknown_line_item", "The line item is not on this order"
)
DuplicateLineItem = define_error(
    "DuplicateLineItem", 422, "duplicate_line_item", "A line item is listed more than once"
)
LineItemNotShippable = define_error(
    "LineItemNotShippable",
    422,
    "line_item_not_shippable",
    "The line item does not require shipping",
)
NothingToFulfill = define_error(
    "NothingToFulfill", 409, "nothing_to_fulfill", "Every unit is already in a fulfilment"
)
FulfillmentCancelled = define_error(
    "FulfillmentCancelled", 409, "fulfillment_cancelled", "The fulfilment is cancelled"
)
FulfillmentDelivered = define_error(
    "FulfillmentDelivered",
    409,
    "fulfillment_delivered",
    "The fulfilment has been delivered: refund or return instead",
)
InvalidTrackingEvent = define_error(
    "InvalidTrackingEvent", 422, "invalid_tracking_event", "The tracking event is not valid"
)
