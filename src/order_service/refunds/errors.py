from order_service.errors import define_error

RefundNotFound = define_error("RefundNotFound", 404, "refund_not_found", "Refund not found")
RefundExceedsRefundable = define_error(
    "RefundExceedsRefundable",
    409,
    "refund_exceeds_refundable",
    "The refund exceeds what can still be refunded",
)
RefundWindowExpired = define_error(
    "RefundWindowExpired", 409, "refund_window_expired", "The refund window has passed"
)
ItemNotRefundable = define_error(
    "ItemNotRefundable", 422, "item_not_refundable", "The item is final sale"
)
LineItemNotFound = define_error(
    "LineItemNotFound", 422, "line_item_not_found", "No such line item on this order"
)
ShippingNotRefundable = define_error(
    "ShippingNotRefundable",
    409,
    "shipping_not_refundable",
    "Shipping is refundable only before anything has shipped",
)
OrderNotPaid = define_error(
    "OrderNotPaid", 409, "order_not_paid", "Nothing has been paid on this order"
)
RefundEmpty = define_error("RefundEmpty", 422, "refund_empty", "The refund asks for nothing")
OverrideNotAllowed = define_error(
    "OverrideNotAllowed",
    403,
    "override_not_allowed",
    "Only ops and admin keys may override the refund policy",
)
OverrideRequiresNote = define_error(
    "OverrideRequiresNote",
    422,
    "override_requires_note",
    "Overriding the refund policy needs a note saying why",
)
GoodwillNotAllowed = define_error(
    "GoodwillNotAllowed",
    403,
    "goodwill_not_allowed",
    "Only ops and admin keys may make goodwill refunds",
)
RefundAlreadySettled = define_error(
    "RefundAlreadySettled", 409, "refund_already_settled", "The refund is already settled"
)

BY_CODE = {
    e.code: e
    for e in (
        RefundExceedsRefundable,
        RefundWindowExpired,
        ItemNotRefundable,
        LineItemNotFound,
        ShippingNotRefundable,
        OrderNotPaid,
        RefundEmpty,
    )
}
