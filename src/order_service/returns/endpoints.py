"""Returns, exchanges and claims: goods coming back and the money for them, kept apart."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from order_service.http.context import AnyContext, IfMatchDep, OpsContext, PageDep, etag
from order_service.http.problems import responses
from order_service.http.routing import TransactionalRoute
from order_service.kit import errors
from order_service.refunds import errors as refund_errors
from order_service.returns import errors as return_errors
from order_service.returns import service
from order_service.returns.schemas import (
    ReturnApprove,
    ReturnCalculate,
    ReturnCancel,
    ReturnClose,
    ReturnCreate,
    ReturnDecline,
    ReturnList,
    ReturnOut,
    ReturnPreview,
    ReturnReceive,
    ReturnResult,
    ReturnStatus,
)

router = APIRouter(tags=["returns"], route_class=TransactionalRoute)

AUTH = (errors.Unauthenticated, errors.Forbidden)
ACTION = (
    *AUTH,
    return_errors.ReturnNotFound,
    errors.PreconditionFailed,
    errors.InvalidIfMatch,
    errors.IdempotencyKeyReused,
    errors.IdempotencyRequestInProgress,
)
REQUEST_ERRORS = (
    *AUTH,
    errors.OrderNotFound,
    refund_errors.LineItemNotFound,
    refund_errors.OverrideNotAllowed,
    refund_errors.OverrideRequiresNote,
    return_errors.InvalidReturn,
)

POLICY = """
**Customer policy** (storefront keys, acting for a customer): only units that shipped —
delivered, or shipped when the carrier never reported delivery — of lines with `refundable`
true (final sale: `line_item_not_returnable`), within `ORDER_SERVICE_RETURN_WINDOW` (default
30 days) of their parcel's delivery (or shipping) (`return_window_expired`), and never more
than shipped minus the units returned, in open returns, or refunded
(`quantity_exceeds_returnable`). Ops and admin keys may send `override_policy: true` with a
`note` (recorded on the timeline) to waive final sale and the window — never the units'
limit.
"""

ETAG_NOTE = """
A return's responses carry its order's `ETag`: every return change moves the order's
`version`, and `If-Match` on these operations is checked against the order's version (412
`precondition_failed` with `current_version` when stale)."""

LIFECYCLE = """
**Lifecycle**: `requested` → `approved` (or `declined`) → `received` → `closed`; `cancelled`
any time before it is received. With `ORDER_SERVICE_RETURN_AUTO_APPROVE` customers' requests
are approved at once. A claim (approved with `items_required: false`: lost or damaged in
transit) closes without receipt. Goods and money are kept apart: receiving refunds the units
that came back unless `refund: false`, and a plain refund never takes units in an open
return.
"""


@router.post(
    "/v1/orders/{order_id}/returns/calculate",
    response_model=ReturnPreview,
    responses=responses(*REQUEST_ERRORS),
    description=f"""
Every line of the order with its returnable units now, until when, and (`eligible`, `code`)
whether the units asked for in `line_items` may be returned: `line_item_not_returnable`,
`quantity_exceeds_returnable`, `return_window_expired`. `expected_refund` is what the asked
units are worth (their share of discounts and tax included). Writes nothing; send no
`line_items` to list what may be returned.
{POLICY}
Roles: any.
""",
)
async def calculate_return(order_id: str, body: ReturnCalculate, ctx: AnyContext) -> ReturnPreview:
    """Preview a return"""
    return await service.calculate(ctx, order_id, body)


@router.post(
    "/v1/orders/{order_id}/returns",
    status_code=status.HTTP_201_CREATED,
    response_model=ReturnResult,
    responses=responses(
        *REQUEST_ERRORS,
        errors.PreconditionFailed,
        errors.InvalidIfMatch,
        errors.IdempotencyKeyReused,
        errors.IdempotencyRequestInProgress,
        return_errors.LineItemNotReturnable,
        return_errors.QuantityExceedsReturnable,
        return_errors.ReturnWindowExpired,
    ),
    description=f"""
Requests a return of `line_items` (each with a `reason`) for a `resolution`: `refund`,
`store_credit`, or `exchange` (with `exchange_line_items`, as at order creation). The units
show in the lines' `return_requested_quantity` until received; the order's `return_status`
becomes `requested` (or `in_progress` when approved at once). Emits `return.requested` (the
return, the order, the expected refund and the support contact: the "we got your request"
email). Two requests for the same units at once: one wins, the other is 409.
{POLICY}{LIFECYCLE}
Send `Idempotency-Key` to retry safely. Roles: any.
{ETAG_NOTE}""",
)
async def request_return(
    order_id: str, body: ReturnCreate, response: Response, if_match: IfMatchDep, ctx: AnyContext
) -> ReturnResult:
    """Request a return"""
    result = await service.request(ctx, order_id, body, if_match)
    response.headers["Location"] = f"/v1/returns/{result.id}"
    response.headers["ETag"] = etag(result.order.version)
    return result


@router.get(
    "/v1/orders/{order_id}/returns",
    response_model=ReturnList,
    responses=responses(*AUTH, errors.OrderNotFound, errors.InvalidCursor),
    description="The order's returns, oldest first, whatever their status. Roles: any.",
)
async def list_order_returns(order_id: str, page: PageDep, ctx: AnyContext) -> ReturnList:
    """List an order's returns"""
    return await service.order_returns(ctx, order_id, page)


@router.get(
    "/v1/returns",
    response_model=ReturnList,
    responses=responses(*AUTH, errors.InvalidCursor),
    description="""
All returns, newest first. `status=approved` is the warehouse's list of parcels to expect;
`status=requested` the queue of requests to approve or decline. Roles: ops, admin.
""",
)
async def list_returns(
    page: PageDep,
    ctx: OpsContext,
    status: ReturnStatus | None = None,
    order_id: Annotated[str | None, Query(max_length=40)] = None,
) -> ReturnList:
    """List returns"""
    return await service.list_returns(
        ctx, order_id=order_id, status=status.value if status else None, page=page
    )


@router.get(
    "/v1/returns/{return_id}",
    response_model=ReturnOut,
    responses=responses(*AUTH, return_errors.ReturnNotFound),
    description="One return: its lines (asked, received, disposition), shipping details, "
    "`return_by`, refund and exchange order. Roles: any.",
)
async def get_return(return_id: str, ctx: AnyContext) -> ReturnOut:
    """Get a return"""
    return await service.get_return(ctx, return_id)


def _answer(response: Response, result: ReturnResult) -> ReturnResult:
    response.headers["ETag"] = etag(result.order.version)
    return result


@router.post(
    "/v1/returns/{return_id}/approve",
    response_model=ReturnResult,
    responses=responses(*ACTION, return_errors.ReturnNotRequested, return_errors.InvalidReturn),
    description="""
Approves a requested return: optional `return_shipping` (carrier, tracking, the prepaid
`label_url`, `instructions`) and `return_by` (at most a year ahead) for the customer's email;
`items_required: false` makes it a claim (lost or damaged in transit: it closes without
receipt); `ship_replacement_first` (exchanges) creates the replacement order now. Emits
`return.approved`. Roles: ops, admin.
"""
    + ETAG_NOTE,
)
async def approve_return(
    return_id: str, body: ReturnApprove, response: Response, if_match: IfMatchDep, ctx: OpsContext
) -> ReturnResult:
    """Approve a return"""
    return _answer(response, await service.approve(ctx, return_id, body, if_match))


@router.post(
    "/v1/returns/{return_id}/decline",
    response_model=ReturnResult,
    responses=responses(*ACTION, return_errors.ReturnNotRequested),
    description="""
Declines a requested return (`decline_reason`: `outside_policy`, `not_eligible`, `no_proof`,
`other`; `note` for the customer's email); its units may be asked for again. Emits
`return.declined`. Roles: ops, admin.
"""
    + ETAG_NOTE,
)
async def decline_return(
    return_id: str, body: ReturnDecline, response: Response, if_match: IfMatchDep, ctx: OpsContext
) -> ReturnResult:
    """Decline a return"""
    return _answer(response, await service.decline(ctx, return_id, body, if_match))


@router.post(
    "/v1/returns/{return_id}/receive",
    response_model=ReturnResult,
    responses=responses(
        *ACTION,
        return_errors.ReturnNotApproved,
        return_errors.LineItemNotInReturn,
        return_errors.DeductionExceedsRefundable,
    ),
    description="""
The parcel arrived: per line, the units accounted for and their `disposition` (`restock`: put
back in stock once, `order.restock`; `not_restocked`, `damaged`: came back, not sellable;
`missing`: did not come back). No `line_items`: every unit came back, restocked. The lines'
`returned_quantity` grows; the order's `return_status` follows.

**Money**: for `refund` and `store_credit`, a pending refund of the units that came back
(linked by `return_id`, the usual `refund.created` … `refund.succeeded` lifecycle), unless
`refund: false`; units refunded meanwhile are not refunded again. `deductions`
(`restocking_fee`, `return_shipping`) come off it, never below zero
(`deduction_exceeds_refundable`). For `exchange`, a new order for the replacement items
(`exchange_order_id`; it shows `exchanged_from_id`), paid by the returned units' value: any
difference is that order's `outstanding` (the customer owes) or refunded here (the shop owes).
Emits `return.received`. Roles: ops, admin.
"""
    + ETAG_NOTE,
)
async def receive_return(
    return_id: str, body: ReturnReceive, response: Response, if_match: IfMatchDep, ctx: OpsContext
) -> ReturnResult:
    """Receive a return"""
    return _answer(response, await service.receive(ctx, return_id, body, if_match))


@router.post(
    "/v1/returns/{return_id}/cancel",
    response_model=ReturnResult,
    responses=responses(*ACTION, return_errors.ReturnNotCancellable),
    description="""
Cancels a return not yet received (the customer changed their mind, or ops): its units may
be kept or asked for again. Not once an exchange's replacement order was created. Emits
`return.cancelled`. Roles: any.
"""
    + ETAG_NOTE,
)
async def cancel_return(
    return_id: str, body: ReturnCancel, response: Response, if_match: IfMatchDep, ctx: AnyContext
) -> ReturnResult:
    """Cancel a return"""
    return _answer(response, await service.cancel(ctx, return_id, body, if_match))


@router.post(
    "/v1/returns/{return_id}/close",
    response_model=ReturnResult,
    responses=responses(
        *ACTION, return_errors.ReturnNotClosable, return_errors.DeductionExceedsRefundable
    ),
    description="""
Closes a received return. An approved claim (`items_required: false`) closes without
receipt: its units are refunded (`refund` and `store_credit`, unless `refund: false`) or
exchanged as on receipt. Emits `return.closed`. Roles: ops, admin.
"""
    + ETAG_NOTE,
)
async def close_return(
    return_id: str, body: ReturnClose, response: Response, if_match: IfMatchDep, ctx: OpsContext
) -> ReturnResult:
    """Close a return"""
    return _answer(response, await service.close(ctx, return_id, body, if_match))
