"""The refusals of the edit API, each with its HTTP status and stable `code`. Codes other
domains already have keep their one class: `order_in_fulfillment` (cancellations),
`order_not_open` (common), `line_item_not_found` (refunds), `refund_required`
(cancellations)."""

from __future__ import annotations

from order_service.kit.errors import DomainError


class EditWindowExpired(DomainError):
    status = 409
    code = "edit_window_expired"
    title = "The customer edit window has passed"


class LineItemNotEditable(DomainError):
    status = 409
    code = "line_item_not_editable"
    title = "A line cannot go below the units picked, shipped or refunded"


class EditEmptiesOrder(DomainError):
    status = 422
    code = "edit_empties_order"
    title = "The edit would leave the order with no items: cancel it instead"


class EditEmpty(DomainError):
    status = 422
    code = "edit_empty"
    title = "The edit changes nothing"


class EditFieldNotAllowed(DomainError):
    status = 403
    code = "edit_field_not_allowed"
    title = "Customers change quantities, lines, the shipping address, taxes and discounts"
