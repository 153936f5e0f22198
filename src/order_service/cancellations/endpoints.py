from __future__ import annotations

from fastapi import APIRouter, Response

from order_service.cancellations import errors as cancel_errors
from order_service.cancellations import service
from order_service.cancellations.schemas import Cancellation, CancelRequest
from order_service.http.context import AnyContext, IfMatchDep, etag
from order_service.http.problems import responses
from order_service.http.routing import TransactionalRoute
from order_service.kit import errors
from order_service.orders.presenter import order_out
from order_service.orders.schemas import OrderOut

router = APIRouter(prefix="/v1/orders", tags=["cancellation"], route_class=TransactionalRoute)

POLICY = """
**Customer policy** (storefront keys, acting for a customer): the order must be `open`,
nothing may be in fulfilment (`fulfillment_status` `unfulfilled` — a pending fulfilment,
i.e. picking has started, already blocks), and the time must be within
`ORDER_SERVICE_CUSTOMER_CANCEL_WINDOW` (default 1 hour) of `processed_at`, the deadline
itself included. Every order shows the deadline as `customer_cancellable_until` (null once
the customer can no longer cancel), so a storefront can show or hide its cancel button.

**Merchant policy** (ops and admin keys): any time before anything has shipped.
"""


@router.get(
    "/{order_id}/cancellation",
    response_model=Cancellation,
    responses=responses(errors.Unauthenticated, errors.Forbidden, errors.OrderNotFound),
    description=f"""
Whether the caller may cancel the order now, under its own policy, until when, and if not,
why (`code`). Changes nothing. Use it to decide whether to offer a cancel button.
{POLICY}
Roles: any.
""",
)
async def get_cancellation(order_id: str, ctx: AnyContext) -> Cancellation:
    """Can this order be cancelled now?"""
    return await service.status(ctx, order_id)


@router.post(
    "/{order_id}/cancel",
    response_model=OrderOut,
    responses=responses(
        errors.Unauthenticated,
        errors.Forbidden,
        errors.OrderNotFound,
        errors.PreconditionFailed,
        errors.InvalidIfMatch,
        errors.IdempotencyKeyReused,
        errors.IdempotencyRequestInProgress,
        cancel_errors.CancellationWindowExpired,
        cancel_errors.OrderInFulfillment,
        cancel_errors.OrderAlreadyFulfilled,
        cancel_errors.OrderAlreadyCancelled,
        errors.OrderNotOpen,
        cancel_errors.CancelReasonNotAllowed,
        cancel_errors.RefundRequired,
    ),
    description=f"""
Cancels the order and, in the same transaction:

* voids an uncaptured authorisation (`financial_status` `voided` when nothing was captured);
* if `refund` (default true), creates one **pending refund** of everything paid and not yet
  refunded, to `refund_method` (the original payment by default) — the payments service
  executes it and settles it with `POST /v1/refunds/{{id}}/settle`;
* if `restock` (default true), restocks every unfulfilled unit not restocked before and
  emits `order.restock` with SKUs and quantities for the inventory service;
* records who cancelled (customer or merchant, key name) on the timeline and emits
  `order.cancelled` (with `notify_customer`, the refund and the reason) and `refund.created`.
{POLICY}
Refusals are 409 with `cancellation_window_expired`, `order_in_fulfillment` (customer),
`order_already_fulfilled` (merchant: refund the shipped items instead) or
`order_already_cancelled` — exactly one of any number of concurrent cancels succeeds.
Storefront keys may only give reason `customer` (`cancel_reason_not_allowed`) and always
refund (`refund_required`). Send `Idempotency-Key` to retry safely and `If-Match` to cancel
only the version you showed the user. Roles: any.
""",
)
async def cancel_order(
    order_id: str,
    response: Response,
    if_match: IfMatchDep,
    ctx: AnyContext,
    body: CancelRequest | None = None,
) -> OrderOut:
    """Cancel an order"""
    order = await service.cancel(ctx, order_id, body or CancelRequest(), if_match)
    response.headers["ETag"] = etag(order.version)
    return order_out(order, ctx.now, ctx.settings)
