from order_service.errors import define_error

CancellationWindowExpired = define_error(
    "CancellationWindowExpired",
    409,
    "cancellation_window_expired",
    "The customer cancellation window has passed",
)
OrderInFulfillment = define_error(
    "OrderInFulfillment",
    409,
    "order_in_fulfillment",
    "Fulfilment has started: the customer can no longer cancel",
)
OrderAlreadyFulfilled = define_error(
    "OrderAlreadyFulfilled",
    409,
    "order_already_fulfilled",
    "Items have shipped: refund instead of cancelling",
)
OrderAlreadyCancelled = define_error(
    "OrderAlreadyCancelled", 409, "order_already_cancelled", "The order is already cancelled"
)
OrderNotOpen = define_error("OrderNotOpen", 409, "order_not_open", "The order is not open")
CancelReasonNotAllowed = define_error(
    "CancelReasonNotAllowed",
    422,
    "cancel_reason_not_allowed",
    "Customers cancel with reason `customer`",
)
RefundRequired = define_error(
    "RefundRequired",
    422,
    "refund_required",
    "A customer cancellation always refunds what was paid",
)

BY_CODE = {
    e.code: e
    for e in (
        CancellationWindowExpired,
        OrderInFulfillment,
        OrderAlreadyFulfilled,
        OrderAlreadyCancelled,
        OrderNotOpen,
    )
}
