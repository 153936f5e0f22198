from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response, status

from order_service.http.context import (
    AnyContext,
    IfMatchDep,
    OpsContext,
    PageDep,
    etag,
)
from order_service.http.problems import responses
from order_service.http.routing import TransactionalRoute
from order_service.kit import errors
from order_service.refunds import errors as refund_errors
from order_service.refunds import service
from order_service.refunds.schemas import (
    RefundCreate,
    RefundList,
    RefundOut,
    RefundPreview,
    RefundRetry,
    RefundSettle,
)

router = APIRouter(tags=["refunds"], route_class=TransactionalRoute)

AUTH = (errors.Unauthenticated, errors.Forbidden)
POLICY_ERRORS = (
    refund_errors.RefundExceedsRefundable,
    refund_errors.RefundWindowExpired,
    refund_errors.ItemNotRefundable,
    refund_errors.LineItemNotFound,
    refund_errors.ShippingNotRefundable,
    refund_errors.OrderNotPaid,
    refund_errors.RefundEmpty,
    refund_errors.OverrideNotAllowed,
    refund_errors.OverrideRequiresNote,
    refund_errors.GoodwillNotAllowed,
)

POLICY = """
**Eligibility policy.** A line is refundable when its `refundable` flag is true (false for
final-sale items: `item_not_refundable`) and the order was delivered — or, if never
delivered, processed — within `ORDER_SERVICE_REFUND_WINDOW` (default 30 days:
`refund_window_expired`). Shipping is refundable while nothing has shipped
(`shipping_not_refundable`). Storefront keys always follow the policy. Ops and admin keys may
send `override_policy: true` with a `note` (recorded on the timeline) to refund outside it.

**Limits, never overridden.** A line's quantity never exceeds what was bought minus what is
refunded or pending, exchanged through a return, or in an open return (requested or approved:
those units are refunded when the return is received, so a returned unit is refunded once);
the amount never exceeds what was paid minus what is refunded or
pending (`refund_exceeds_refundable`). Nothing paid: `order_not_paid`.

**Amounts.** Each line is refunded at what the customer actually paid for it: its price
less its share of order discounts plus its share of tax (when prices exclude tax). Refunding
everything gives back exactly the total. Card processing fees are not returned to the
merchant by the gateway; the order shows them in `total_fees` and `net_paid`.
"""


@router.post(
    "/v1/orders/{order_id}/refunds/calculate",
    response_model=RefundPreview,
    responses=responses(*AUTH, errors.OrderNotFound, refund_errors.OverrideNotAllowed,
                        refund_errors.OverrideRequiresNote, refund_errors.GoodwillNotAllowed),
    description=f"""
Prices a refund without making it: each requested line with its amount, whether it is
`eligible` and, if not, the `code` why; the shipping; the total; and `eligible` for the whole
refund with every reason (`codes`) it would be refused. Takes the same body as
`POST /v1/orders/{{id}}/refunds`. Changes nothing.
{POLICY}
Roles: any.
""",
)  # fmt: skip
async def calculate_refund(order_id: str, body: RefundCreate, ctx: AnyContext) -> RefundPreview:
    """Preview a refund"""
    return await service.calculate(ctx, order_id, body)


@router.post(
    "/v1/orders/{order_id}/refunds",
    status_code=status.HTTP_201_CREATED,
    response_model=RefundOut,
    responses=responses(
        *AUTH,
        errors.OrderNotFound,
        errors.PreconditionFailed,
        errors.InvalidIfMatch,
        errors.IdempotencyKeyReused,
        errors.IdempotencyRequestInProgress,
        *POLICY_ERRORS,
    ),
    description=f"""
Creates a **pending** refund: its amount and units are held at once (so concurrent refunds
can never together exceed the limits) and the payments service executes it, then reports
with `POST /v1/refunds/{{id}}/settle`. Emits `refund.created` with the amount, method and
`expected_processing_time` (the customer's "refund initiated" email) and, for lines with
`restock`, `order.restock`. A unit is restocked at most once.
{POLICY}
A refusal is a 4xx problem with the first reason's `code`, plus `codes` (all reasons),
`lines` (each refused line and its code) and `refundable_amount`. Send `Idempotency-Key` so a
retried refund is never made twice. Roles: any (storefront keys: customer policy).
""",
)
async def create_refund(
    order_id: str, body: RefundCreate, response: Response, if_match: IfMatchDep, ctx: AnyContext
) -> RefundOut:
    """Refund items, shipping or an amount"""
    refund, order = await service.create_refund(ctx, order_id, body, if_match)
    response.headers["Location"] = f"/v1/refunds/{refund.id}"
    response.headers["ETag"] = etag(order.version)
    return service.refund_out(refund, order)


@router.get(
    "/v1/orders/{order_id}/refunds",
    response_model=RefundList,
    responses=responses(*AUTH, errors.OrderNotFound, errors.InvalidCursor),
    description="The order's refunds, newest first, with their status. Roles: any.",
)
async def list_order_refunds(order_id: str, page: PageDep, ctx: AnyContext) -> RefundList:
    """List an order's refunds"""
    return await service.order_refunds(ctx, order_id, page)


@router.get(
    "/v1/refunds",
    response_model=RefundList,
    responses=responses(*AUTH, errors.InvalidCursor),
    description="""
All refunds, newest first. `status=pending` is the payments service's work queue and the
place to look for a refund that is stuck. Roles: ops, admin.
""",
)
async def list_refunds(
    page: PageDep,
    ctx: OpsContext,
    status: Literal["pending", "succeeded", "failed"] | None = None,
    order_id: Annotated[str | None, Query(max_length=40)] = None,
) -> RefundList:
    """List refunds"""
    return await service.list_refunds(ctx, order_id=order_id, status=status, page=page)


@router.get(
    "/v1/refunds/{refund_id}",
    response_model=RefundOut,
    responses=responses(*AUTH, refund_errors.RefundNotFound),
    description="One refund: amount, lines, method, status and, once settled, the gateway "
    "reference or failure reason. Roles: any.",
)
async def get_refund(refund_id: str, ctx: AnyContext) -> RefundOut:
    """Get a refund"""
    return await service.get_refund(ctx, refund_id)


@router.post(
    "/v1/refunds/{refund_id}/settle",
    response_model=RefundOut,
    responses=responses(
        *AUTH,
        refund_errors.RefundNotFound,
        refund_errors.RefundAlreadySettled,
        errors.PreconditionFailed,
        errors.InvalidIfMatch,
        errors.IdempotencyKeyReused,
        errors.IdempotencyRequestInProgress,
    ),
    description="""
For the payments service: reports how a pending refund ended.

* `succeeded` (with the gateway `reference`): the amount moves to `total_refunded`, the
  lines' `refunded_quantity` grows, `financial_status` becomes `partially_refunded` or
  `refunded`, and `refund.succeeded` is emitted (the customer's "refund completed" email).
* `failed` (with `failure_reason`): the amount and units are released — they can be refunded
  again, e.g. by store credit — and `refund.failed` is emitted. Units restocked by the refund
  stay restocked.

A refund is settled once: settling again is 409 `refund_already_settled`, whatever the
outcome asked. Settling changes the refund's order, so its `version` increases: the
response's `ETag` is the order's, and `If-Match` is checked against the order's version (412
`precondition_failed` with `current_version` when stale). Roles: ops, admin.
""",
)
async def settle_refund(
    refund_id: str, body: RefundSettle, response: Response, if_match: IfMatchDep, ctx: OpsContext
) -> RefundOut:
    """Settle a refund"""
    refund, order = await service.settle(ctx, refund_id, body, if_match)
    response.headers["ETag"] = etag(order.version)
    return service.refund_out(refund, order)


@router.post(
    "/v1/refunds/{refund_id}/retry",
    status_code=status.HTTP_201_CREATED,
    response_model=RefundOut,
    responses=responses(
        *AUTH,
        refund_errors.RefundNotFound,
        refund_errors.RefundNotFailed,
        refund_errors.RefundAlreadyRetried,
        refund_errors.RefundExceedsRefundable,
        errors.PreconditionFailed,
        errors.InvalidIfMatch,
        errors.IdempotencyKeyReused,
        errors.IdempotencyRequestInProgress,
    ),
    description="""
Pays a customer whose refund the payments service settled `failed`: creates a new
**pending** refund in its place, with the same amount, lines and units, shipping, goodwill,
`reason` and `return_id`, and `retry_of` naming the failed refund. It is what the failed
refund was for that carries over:

* a return's refund: the return's `refund_id` moves to the new refund, and its lines'
  `refunded_quantity` stay counted;
* an edit's refund (`order_edited`): it counts in `total_edit_refunds` again, so the
  order's `outstanding` is back to what it was before the failure (0 after a refunded edit);
* a cancellation's refund: also on the cancelled order.

The body is optional: `method` (default: the failed refund's; often `store_credit` when the
card or account is gone), `note` and `notify_customer` (default: the failed refund's).
Nothing is restocked: units the failed refund restocked stay restocked. Emits
`refund.created`, settled later with `POST /v1/refunds/{id}/settle` like any refund.

**Limits, not policy.** The retry is held to the limits every refund is — a unit is refunded
once (not if it has been refunded, exchanged or put in an open return since), shipping and
the amount never beyond what was paid and not refunded or pending, and an edit's refund never
beyond what the edits left owed (minus `outstanding`) — else 409 `refund_exceeds_refundable`
with `refundable_amount` and the refused `lines`. The refund policy is not applied again:
neither the refund window (`ORDER_SERVICE_REFUND_WINDOW`) nor final sale nor shipped
shipping, since the customer was owed this money when the refund was first made.

Only a `failed` refund can be retried (409 `refund_not_failed`), and at most once (409
`refund_already_retried`, with `retry_id`; retry that one if it failed too) — of any number of
concurrent retries exactly one succeeds. Send `Idempotency-Key` so a retried request never
makes a second refund. The response's `ETag` is the order's, and `If-Match` is checked
against the order's version (412 `precondition_failed` with `current_version` when stale).
Roles: ops, admin.
""",
)
async def retry_refund(
    refund_id: str,
    response: Response,
    if_match: IfMatchDep,
    ctx: OpsContext,
    body: RefundRetry | None = None,
) -> RefundOut:
    """Retry a failed refund"""
    refund, order = await service.retry(ctx, refund_id, body or RefundRetry(), if_match)
    response.headers["Location"] = f"/v1/refunds/{refund.id}"
    response.headers["ETag"] = etag(order.version)
    return service.refund_out(refund, order)
