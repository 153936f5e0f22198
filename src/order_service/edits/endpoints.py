"""Order edits: change what an order contains before it ships, money accounted for."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from order_service.cancellations import errors as cancel_errors
from order_service.edits import errors as edit_errors
from order_service.edits import service
from order_service.edits.schemas import EditList, EditPreview, EditRequest, EditResult
from order_service.http.context import AnyContext, IfMatchDep, PageDep, etag
from order_service.http.problems import responses
from order_service.http.routing import TransactionalRoute
from order_service.kit import errors
from order_service.refunds import errors as refund_errors

router = APIRouter(prefix="/v1/orders", tags=["edits"], route_class=TransactionalRoute)

POLICY = """
**Customer policy** (storefront keys, acting for a customer): the order must be `open`,
`unfulfilled` (picking not started) and within `ORDER_SERVICE_CUSTOMER_EDIT_WINDOW` (default:
the cancel window) of `processed_at`, the deadline included — every order shows it as
`customer_editable_until`. Customers change quantities, lines, the shipping address, and the
tax lines and discounts their storefront recomputes; not shipping lines
(`edit_field_not_allowed`), and they always get a lower total refunded (`refund_required`).

**Merchant policy** (ops and admin keys): any time the order is `open`.

**Either way** a line never goes below the units already picked, shipped or refunded
(`line_item_not_editable`, with each line's `minimum_quantity`), and an edit that would leave
no item is refused (`edit_empties_order`: cancel instead).

**Money**: totals are recomputed from the lines, shipping, tax lines and discounts (those
not sent are kept). `outstanding` on the order is `total - total_paid + refunds made for
edits (pending or succeeded)`: what the customer still owes, negative when the shop owes
them. When the new total is below what was paid, the difference is refunded at once (a
pending refund with reason `order_edited`, `refund.created`), so `outstanding` stays 0; with
`refund: false` (ops) it goes negative. When the new total is above what was paid,
`outstanding` is the difference and `financial_status` `partially_paid` until a `capture` or
`sale` transaction covers it. An order only authorised refunds nothing: it is captured for
the new total (a capture above `outstanding` is refused).
"""

CHANGES = """
Changes: `line_items` (`line_item_id`, new `quantity`; 0 removes the line, which stays on the
order with `quantity` 0), `add_line_items` (as at creation), `shipping_address`,
`shipping_lines` (replace; ops only), `tax_lines` and `discounts` (replace when sent).
Removed units are put back in stock (`order.restock`) unless `restock: false`.
"""


@router.post(
    "/{order_id}/edits/calculate",
    response_model=EditPreview,
    responses=responses(
        errors.Unauthenticated,
        errors.Forbidden,
        errors.OrderNotFound,
        errors.InvalidOrder,
        refund_errors.LineItemNotFound,
        edit_errors.EditEmpty,
        edit_errors.EditFieldNotAllowed,
        cancel_errors.RefundRequired,
    ),
    description=f"""
What the edit would do — each line's change and amount, the new totals, `outstanding`, the
refund it would make and the order as it would be — and whether the caller may make it now
(`editable`, and `code` when not: `order_not_open`, `order_in_fulfillment`,
`edit_window_expired`, `line_item_not_editable`, `edit_empties_order`). Writes nothing; ids of
added lines are provisional. Input errors are the same 4xx as the edit's.
{CHANGES}{POLICY}
Roles: any.
""",
)
async def calculate_edit(order_id: str, body: EditRequest, ctx: AnyContext) -> EditPreview:
    """Preview an order edit"""
    return await service.calculate(ctx, order_id, body)


@router.post(
    "/{order_id}/edits",
    status_code=status.HTTP_201_CREATED,
    response_model=EditResult,
    responses=responses(
        errors.Unauthenticated,
        errors.Forbidden,
        errors.OrderNotFound,
        errors.PreconditionFailed,
        errors.InvalidIfMatch,
        errors.IdempotencyKeyReused,
        errors.IdempotencyRequestInProgress,
        errors.InvalidOrder,
        errors.OrderNotOpen,
        cancel_errors.OrderInFulfillment,
        edit_errors.EditWindowExpired,
        edit_errors.LineItemNotEditable,
        edit_errors.EditEmptiesOrder,
        edit_errors.EditEmpty,
        edit_errors.EditFieldNotAllowed,
        cancel_errors.RefundRequired,
        refund_errors.LineItemNotFound,
    ),
    description=f"""
Edits the order and, in the same transaction: recomputes its totals, refunds a lower total
(a pending refund with reason `order_edited`), restocks removed units, updates the
fulfilment status, records who edited what on the timeline and emits `order.edited` (with
`data.edit`: the line `changes`, `field_changes`, totals, `outstanding_after` and the
refund; and the whole order), plus `refund.created` and `order.restock` when they apply.
The order's `version` increases.
{CHANGES}{POLICY}
Edits serialise with each other and with cancellations, fulfilments and refunds of the
order. Send `If-Match` (the `ETag` you showed the customer) to edit only that version (412
otherwise) and `Idempotency-Key` to retry safely. Roles: any.
""",
)
async def create_edit(
    order_id: str, body: EditRequest, response: Response, if_match: IfMatchDep, ctx: AnyContext
) -> EditResult:
    """Edit an order"""
    edit, order = await service.edit(ctx, order_id, body, if_match)
    response.headers["ETag"] = etag(order.version)
    return service.result(ctx, edit, order)


@router.get(
    "/{order_id}/edits",
    response_model=EditList,
    responses=responses(
        errors.Unauthenticated, errors.Forbidden, errors.OrderNotFound, errors.InvalidCursor
    ),
    description="""
The order's committed edits, oldest first: each with its line changes, field changes,
totals before and after, `outstanding_after`, the refund it made and who made it.
Roles: any.
""",
)
async def list_edits(order_id: str, page: PageDep, ctx: AnyContext) -> EditList:
    """List an order's edits"""
    return await service.list_edits(ctx.session, order_id, page=page)
