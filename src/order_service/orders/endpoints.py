from __future__ import annotations

from typing import Annotated

import pydantic_core
from fastapi import APIRouter, Body, Query, Response, status

from order_service.http.context import (
    AdminContext,
    AnyContext,
    IfMatchDep,
    OpsContext,
    PageDep,
    etag,
)
from order_service.http.problems import responses
from order_service.http.routing import TransactionalRoute, one_statement_read
from order_service.kit import errors
from order_service.kit.db import BIGINT_MAX
from order_service.kit.schema_types import Email, UtcDatetime
from order_service.orders import service
from order_service.orders.examples import CREATE_EXAMPLE, ORDER_EXAMPLE
from order_service.orders.presenter import order_fields, order_out, order_page_json
from order_service.orders.schemas import (
    SEARCH_HELP,
    FinancialStatus,
    OrderCreate,
    OrderFulfillmentStatus,
    OrderList,
    OrderOut,
    OrderReturnStatus,
    OrderStatus,
    OrderUpdate,
    ReorderRequest,
    SearchTerm,
    TimelineList,
    TransactionCreate,
    TransactionOut,
    TransactionResult,
)

router = APIRouter(prefix="/v1/orders", tags=["orders"], route_class=TransactionalRoute)

AUTH = (errors.Unauthenticated, errors.Forbidden)
MUTATION = (
    *AUTH,
    errors.OrderNotFound,
    errors.PreconditionFailed,
    errors.InvalidIfMatch,
    errors.IdempotencyKeyReused,
    errors.IdempotencyRequestInProgress,
)
ORDER_RESPONSE = {"content": {"application/json": {"example": ORDER_EXAMPLE}}}


def _send(response: Response, order: OrderOut) -> OrderOut:
    response.headers["ETag"] = etag(order.version)
    return order


def _created(order: service.NewOrder) -> Response:
    """201 with the new order, serialised once by the serialiser FastAPI uses for `OrderOut`
    (`presenter.order_fields` is its definition), rather than validated into one first."""
    return Response(
        pydantic_core.to_json(order.fields),
        status_code=status.HTTP_201_CREATED,
        media_type="application/json",
        headers={"Location": f"/v1/orders/{order.id}", "ETag": etag(order.fields["version"])},
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=OrderOut,
    responses={
        201: ORDER_RESPONSE,
        **responses(
            *AUTH,
            errors.InvalidOrder,
            errors.FeeExceedsAmount,
            errors.IdempotencyKeyReused,
            errors.IdempotencyRequestInProgress,
        ),
    },
    description="""
Records an order placed at checkout. The service computes `subtotal`, `shipping_total`,
`tax_total`, `discount_total` and `total` from the lines; totals sent by a client are not
accepted. Amounts are integers in the minor unit of `currency` (cents for USD, yen for JPY,
fils for KWD).

`payment.status` says what the checkout already did: `paid` records a sale of the total,
`authorized` an authorisation of it, `pending` (or no `payment`) nothing yet — the payments
service reports later with `POST /v1/orders/{id}/transactions`.

`processed_at` defaults to now and may be in the past for imported orders, back to
2000-01-01; a time more than a minute in the future is refused (`invalid_order`).
`estimated_dispatch_date` defaults to `processed_at` plus `HANDLING_DAYS` business days; one
given is from 2000-01-01 to a year from now. A time before 2000 is 422 `validation_error`; each
refusal names the field in `errors`, with type `timestamp_out_of_range`. A `payment.fee` above
the total is 422 `fee_exceeds_amount`.

Send an `Idempotency-Key` so a retried checkout never creates two orders: a replay returns
the first response with `Idempotent-Replayed: true`.

Emits `order.created`. Roles: any.
""",
)
async def create_order(
    body: Annotated[OrderCreate, Body(openapi_examples=CREATE_EXAMPLE)],
    ctx: AnyContext,
) -> Response:
    """Create an order"""
    return _created(await service.create_order(ctx, body))


@router.get(
    "",
    response_model=OrderList,
    responses=responses(*AUTH, errors.InvalidCursor),
    description="""
Orders newest first (by `number`), `limit` per page (at most 250). Follow `next_cursor`
until it is null: orders created meanwhile never shift the pages still to come, so nothing
is missed or repeated.

Filters combine with AND. `q` matches an order number (`1001` or `#1001`) or a customer
email (exact or prefix, case-insensitive, Unicode-normalised as stored); a `q` of only `#` and
whitespace is 422 `validation_error`, not a search for everything. Archived orders are left out
unless `archived=true`, which lists only archived ones. Roles: any.
""",
)
async def list_orders(
    page: PageDep,
    ctx: AnyContext,
    status: OrderStatus | None = None,
    financial_status: FinancialStatus | None = None,
    fulfillment_status: OrderFulfillmentStatus | None = None,
    return_status: Annotated[
        OrderReturnStatus | None,
        Query(description="Orders whose returns are in this state, e.g. `requested` to triage."),
    ] = None,
    customer_email: Annotated[
        Email | None,
        Query(
            description="The customer's email address, matched as it is stored: "
            "normalised as at creation, then case-insensitively."
        ),
    ] = None,
    number: Annotated[int | None, Query(ge=1, le=BIGINT_MAX)] = None,
    q: Annotated[SearchTerm | None, Query(description=SEARCH_HELP)] = None,
    created_after: Annotated[
        UtcDatetime | None, Query(description="Inclusive, RFC 3339, not before 2000-01-01.")
    ] = None,
    created_before: Annotated[
        UtcDatetime | None, Query(description="Exclusive, RFC 3339, not before 2000-01-01.")
    ] = None,
    archived: bool = False,
) -> Response:
    """List orders"""
    result = await service.list_orders(
        ctx,
        service.OrderFilters(
            status=status,
            financial_status=financial_status,
            fulfillment_status=fulfillment_status,
            return_status=return_status,
            customer_email=customer_email,
            number=number,
            q=q,
            created_after=created_after,
            created_before=created_before,
            archived=archived,
        ),
        page=page,
    )
    # Serialised here rather than by FastAPI from OrderList (see order_page_json).
    return Response(order_page_json(result, ctx.now, ctx.settings), media_type="application/json")


@router.get(
    "/{order_id}",
    response_model=OrderOut,
    responses={200: ORDER_RESPONSE, **responses(*AUTH, errors.OrderNotFound)},
    description="""
One order with its line items. The `ETag` header carries the order's `version`: send it back
as `If-Match` on a change to be refused (412) rather than overwrite someone else's change.
`customer_cancellable_until` tells a storefront whether to show a cancel button. Roles: any.
""",
)
@one_statement_read
async def get_order(order_id: str, ctx: AnyContext) -> Response:
    """Get an order"""
    order, lines = await service.read(ctx, order_id)
    # Serialised here from the rows, as the list and a new order are (`order_fields`).
    return Response(
        pydantic_core.to_json(order_fields(order, lines, ctx.now, ctx.settings)),
        media_type="application/json",
        headers={"ETag": etag(order["version"])},
    )


@router.patch(
    "/{order_id}",
    response_model=OrderOut,
    responses=responses(*MUTATION, errors.OrderFulfillmentStarted, errors.OrderNotOpen),
    description="""
Changes `note`, `tags` (replaces the list) or `shipping_address`. The address can change only
while nothing has entered fulfilment (`order_fulfillment_started` after) and not on a
cancelled order (`order_not_open`). Fields left out are unchanged. A change bumps `version`,
lands on the timeline and emits `order.updated`; sending the current values changes nothing.
Roles: ops, admin.
""",
)
async def update_order(
    order_id: str, body: OrderUpdate, response: Response, if_match: IfMatchDep, ctx: OpsContext
) -> OrderOut:
    """Update an order's note, tags or shipping address"""
    order = await service.update_order(ctx, order_id, body, if_match)
    return _send(response, order_out(order, ctx.now, ctx.settings))


@router.delete(
    "/{order_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=responses(
        *AUTH,
        errors.OrderNotFound,
        errors.PreconditionFailed,
        errors.InvalidIfMatch,
        errors.OrderHasPayments,
    ),
    description="""
Deletes an order that never had money authorised or captured (e.g. a test or abandoned
order). An order with payments is refused with 409 `order_has_payments`: archive it instead,
so its financial history is kept. Emits `order.deleted` with the order as it was.
Roles: admin.
""",
)
async def delete_order(order_id: str, if_match: IfMatchDep, ctx: AdminContext) -> Response:
    """Delete an order without payments"""
    await service.delete_order(ctx, order_id, if_match)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{order_id}/archive",
    response_model=OrderOut,
    responses=responses(*MUTATION),
    description="""
Archives the order: it leaves the default order list (see `archived=true`) and an open order
becomes `closed`. Archiving an archived order changes nothing. Emits `order.archived`.
Roles: ops, admin.
""",
)
async def archive_order(
    order_id: str, response: Response, if_match: IfMatchDep, ctx: OpsContext
) -> OrderOut:
    """Archive an order"""
    order = await service.set_archived(ctx, order_id, True, if_match)
    return _send(response, order_out(order, ctx.now, ctx.settings))


@router.post(
    "/{order_id}/unarchive",
    response_model=OrderOut,
    responses=responses(*MUTATION),
    description="""
Brings an archived order back to the default list; a `closed` order becomes `open` again.
Unarchiving an order that is not archived changes nothing. Emits `order.updated`.
Roles: ops, admin.
""",
)
async def unarchive_order(
    order_id: str, response: Response, if_match: IfMatchDep, ctx: OpsContext
) -> OrderOut:
    """Unarchive an order"""
    order = await service.set_archived(ctx, order_id, False, if_match)
    return _send(response, order_out(order, ctx.now, ctx.settings))


@router.post(
    "/{order_id}/transactions",
    status_code=status.HTTP_201_CREATED,
    response_model=TransactionResult,
    responses=responses(
        *MUTATION,
        errors.TransactionNotAllowed,
        errors.TransactionExceedsAmount,
        errors.FeeExceedsAmount,
    ),
    description="""
For the payments service: records what happened at the gateway, and the order's
`financial_status` follows.

* `authorization` — funds held (`authorized`); `amount` defaults to the rest of the total.
* `capture` — authorised funds taken (`paid`, or `partially_paid`); defaults to everything
  still authorised and uncaptured.
* `sale` — authorised and captured at once.
* `void` — releases the uncaptured authorisation (`voided` when nothing was captured).

A `status: failure` transaction is recorded on the order and its timeline without changing
the money. `fee` is the processing fee the gateway kept: it is shown in `total_fees` and
`net_paid`, and refunds never return it; a fee above the transaction's amount is 422
`fee_exceeds_amount`. A capture above what is authorised, or a payment
above the total, is 422 `transaction_exceeds_amount`; one that does not fit the payment
state (capture with nothing authorised, void after capture) is 409
`transaction_not_allowed`. Emits `order.updated` on success. Roles: ops, admin.
""",
)
async def create_transaction(
    order_id: str,
    body: TransactionCreate,
    response: Response,
    if_match: IfMatchDep,
    ctx: OpsContext,
) -> TransactionResult:
    """Record a payment transaction"""
    transaction, order = await service.record_transaction(ctx, order_id, body, if_match)
    return TransactionResult(
        transaction=TransactionOut.model_validate(transaction),
        order=_send(response, order_out(order, ctx.now, ctx.settings)),
    )


@router.get(
    "/{order_id}/events",
    response_model=TimelineList,
    responses=responses(*AUTH, errors.OrderNotFound, errors.InvalidCursor),
    description="""
The order's timeline, oldest first: every change — creation, edits, payments, archive,
cancellation, refunds, fulfilments — with who made it (API key id, name and role, or
`system`), when, and what changed. Roles: ops, admin.
""",
)
async def order_timeline(order_id: str, page: PageDep, ctx: OpsContext) -> TimelineList:
    """Read an order's timeline"""
    return await service.timeline_page(ctx, order_id, page)


@router.post(
    "/{order_id}/reorder",
    status_code=status.HTTP_201_CREATED,
    response_model=OrderOut,
    responses=responses(*MUTATION, errors.NothingToReorder),
    description="""
Creates a new open order with the same customer, items, prices, addresses, shipping, taxes
and discounts — typically after an accidental cancellation, to turn it back into a sale. The
new order shows `reordered_from_id`; the original lists it in `reorder_ids`. Payment starts
`pending` unless `payment` is given.

**What is copied** is the order as it stands now, edits included: every line with units, at
its current `quantity` and `unit_price` (lines an edit added too); a line an edit removed
(it stays on the order with `quantity` 0) is left out. The shipping address, shipping lines,
tax lines and discounts are the order's current ones, so the new order's totals are the
original's current totals. Fulfilments, refunds and returns of the original do not reduce
what is reordered, and no money, fulfilment or return state is carried over. An order with
no line left to copy is 409 `nothing_to_reorder`, and nothing is created.

The original's `version` increases (its `reorder_ids` changed). `If-Match` is checked
against it: send the `ETag` of the order the customer saw to reorder exactly that (412
`precondition_failed`, with `current_version`, if it was edited since). Emits
`order.created` (new) and `order.updated` (original). Send an `Idempotency-Key`: a retried
reorder must not create two orders. Roles: any.
""",
)
async def reorder(
    order_id: str, if_match: IfMatchDep, ctx: AnyContext, body: ReorderRequest | None = None
) -> Response:
    """Reorder: a new order with the same items"""
    return _created(await service.reorder(ctx, order_id, body or ReorderRequest(), if_match))
