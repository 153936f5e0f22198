from __future__ import annotations

from fastapi import APIRouter, Response, status

from order_service.fulfillments import errors, service
from order_service.fulfillments.schemas import (
    FulfillmentCreate,
    FulfillmentList,
    FulfillmentOut,
    FulfillmentUpdate,
    TrackingEventCreate,
)
from order_service.http.context import (
    AnyContext,
    IfMatchDep,
    OpsContext,
    PageDep,
    etag,
)
from order_service.http.problems import responses
from order_service.http.routing import TransactionalRoute
from order_service.kit import errors as common

order_router = APIRouter(prefix="/v1/orders", tags=["fulfillments"], route_class=TransactionalRoute)
router = APIRouter(prefix="/v1/fulfillments", tags=["fulfillments"], route_class=TransactionalRoute)

AUTH = (common.Unauthenticated, common.Forbidden)
MUTATION = (
    *AUTH,
    errors.FulfillmentNotFound,
    common.PreconditionFailed,
    common.InvalidIfMatch,
    common.IdempotencyKeyReused,
    common.IdempotencyRequestInProgress,
)
ETAG_NOTE = """
The `ETag` of a fulfilment response is its order's `version`: every fulfilment change moves
the order's version, and `If-Match` on these operations is checked against it (412
`precondition_failed` when stale)."""


def _send(response: Response, order_version: int, fulfillment: FulfillmentOut) -> FulfillmentOut:
    response.headers["ETag"] = etag(order_version)
    return fulfillment


@order_router.post(
    "/{order_id}/fulfillments",
    status_code=status.HTTP_201_CREATED,
    response_model=FulfillmentOut,
    responses=responses(
        *AUTH,
        common.OrderNotFound,
        common.OrderNotOpen,
        common.PreconditionFailed,
        common.InvalidIfMatch,
        common.IdempotencyKeyReused,
        common.IdempotencyRequestInProgress,
        errors.NothingToFulfill,
        errors.FulfillmentExceedsRemaining,
        errors.UnknownLineItem,
        errors.DuplicateLineItem,
        errors.LineItemNotShippable,
    ),
    description="""
Puts units of an order into a parcel. `line_items` lists `line_item_id` and `quantity`; left
out, the parcel holds every unit that requires shipping and is not yet in a fulfilment.

* `status: pending` — being picked and packed. The order becomes `in_progress`, so the
  customer can no longer cancel it; ship it later with `PATCH /v1/fulfillments/{id}`
  (`status: shipped`) or by posting a carrier tracking event.
* `status: shipped` (default) — handed to the carrier. The order becomes
  `partially_fulfilled`, or `fulfilled` once every unit has shipped (`order.fulfilled`).

`carrier`, `service` (`standard`, `express`, `international`, …), `tracking_number` and
`tracking_url` describe the shipment; for UPS, USPS, FedEx, DHL, Royal Mail, PostNord,
Bring, DPD, GLS and Canada Post the tracking URL is built from the number when none is
given. `notify_customer` is passed on in the event for the shipping email.

More units than remain on a line is 422 `fulfillment_exceeds_remaining` (with each line's
`remaining`); nothing left at all is 409 `nothing_to_fulfill`; a cancelled or archived order
is 409 `order_not_open`. Concurrent requests never over-fulfil: they queue on the order.
Emits `fulfillment.created`. Roles: ops, admin.
"""
    + ETAG_NOTE,
)
async def create_fulfillment(
    order_id: str,
    body: FulfillmentCreate,
    response: Response,
    if_match: IfMatchDep,
    ctx: OpsContext,
) -> FulfillmentOut:
    """Fulfil units of an order"""
    fulfillment, order = await service.create(ctx, order_id, body, if_match)
    response.headers["Location"] = f"/v1/fulfillments/{fulfillment.id}"
    return _send(response, order.version, service.fulfillment_out(fulfillment))


@order_router.get(
    "/{order_id}/fulfillments",
    response_model=FulfillmentList,
    responses=responses(*AUTH, common.OrderNotFound, common.InvalidCursor),
    description="""
An order's fulfilments, oldest first, cancelled ones included: the units in each parcel,
carrier, tracking number and URL, the carrier's latest status (`shipment_status`), the
estimated delivery, and every tracking event. What a storefront shows on the customer's
order page. Roles: any.
""",
)
async def list_fulfillments(order_id: str, page: PageDep, ctx: AnyContext) -> FulfillmentList:
    """List an order's fulfilments"""
    return await service.list_for_order(ctx, order_id, page)


@router.get(
    "/{fulfillment_id}",
    response_model=FulfillmentOut,
    responses=responses(*AUTH, errors.FulfillmentNotFound),
    description="""
One fulfilment with its units and tracking history. Roles: any.
"""
    + ETAG_NOTE,
)
async def get_fulfillment(
    fulfillment_id: str, response: Response, ctx: AnyContext
) -> FulfillmentOut:
    """Get a fulfilment"""
    fulfillment, order = await service.get(ctx, fulfillment_id)
    return _send(response, order.version, service.fulfillment_out(fulfillment))


@router.patch(
    "/{fulfillment_id}",
    response_model=FulfillmentOut,
    responses=responses(*MUTATION, errors.FulfillmentCancelled, common.OrderNotOpen),
    description="""
Corrects a fulfilment's `carrier`, `service`, `tracking_number`, `tracking_url` or
`notify_customer`, or ships a pending one with `status: shipped`. When the carrier or number
changes without a new `tracking_url`, the URL is rebuilt from the carrier's pattern (null
for a carrier the service does not know). Fields left out are unchanged; sending the current
values changes nothing. A cancelled fulfilment is 409 `fulfillment_cancelled`; shipping on
a cancelled order is 409 `order_not_open`. Emits `fulfillment.updated` (and
`order.fulfilled` when this shipped the last units). Roles: ops, admin.
"""
    + ETAG_NOTE,
)
async def update_fulfillment(
    fulfillment_id: str,
    body: FulfillmentUpdate,
    response: Response,
    if_match: IfMatchDep,
    ctx: OpsContext,
) -> FulfillmentOut:
    """Correct tracking or ship a pending fulfilment"""
    fulfillment, order = await service.update(ctx, fulfillment_id, body, if_match)
    return _send(response, order.version, service.fulfillment_out(fulfillment))


@router.post(
    "/{fulfillment_id}/cancel",
    response_model=FulfillmentOut,
    responses=responses(*MUTATION, errors.FulfillmentDelivered, errors.FulfillmentHasReturns),
    description="""
Cancels a fulfilment — a parcel that will not go out, or was recalled: its units are back
to unfulfilled, so they can be fulfilled again (or the order cancelled, once nothing else
has shipped), and the order's `fulfillment_status` follows. A delivered fulfilment cannot be
cancelled (409 `fulfillment_delivered`): refund or return its units instead; nor one whose
units are in a return, came back or were claimed lost (409 `fulfillment_has_returns`).
Cancelling a cancelled fulfilment changes nothing. Emits `fulfillment.updated`. Roles: ops, admin.
"""
    + ETAG_NOTE,
)
async def cancel_fulfillment(
    fulfillment_id: str, response: Response, if_match: IfMatchDep, ctx: OpsContext
) -> FulfillmentOut:
    """Cancel a fulfilment"""
    fulfillment, order = await service.cancel(ctx, fulfillment_id, if_match)
    return _send(response, order.version, service.fulfillment_out(fulfillment))


@router.post(
    "/{fulfillment_id}/tracking-events",
    status_code=status.HTTP_201_CREATED,
    response_model=FulfillmentOut,
    responses={
        200: {
            "description": "A repeat of a recorded event: nothing changed.",
            "model": FulfillmentOut,
        },
        **responses(
            *MUTATION, errors.FulfillmentCancelled, errors.InvalidTrackingEvent, common.OrderNotOpen
        ),
    },
    description="""
For shipping integrations: records what the carrier reported (`status` one of
`label_printed`, `in_transit`, `out_for_delivery`, `attempted_delivery`, `delayed`,
`ready_for_pickup`, `delivered`, `failure`; `occurred_at`; optional `location`, `message`,
`estimated_delivery_at`) and answers with the fulfilment.

Reports are merged by `occurred_at`, not by arrival: the latest report sets
`shipment_status` (and `estimated_delivery_at` when it carries one); a late report older
than the latest is recorded in `tracking_events` with `applied: false` and moves nothing.
`delivered` is final: no later report undoes it. The same report twice (same `status` and
`occurred_at`) is recorded once — the repeat answers 200 instead of 201 and changes nothing,
so integrations may retry freely. An `occurred_at` more than a minute in the future or
before the order's `processed_at`, or an `estimated_delivery_at` more than a year ahead, is 422
`invalid_tracking_event`; a time before 2000 is 422 `validation_error`. Each names the field
in `errors`, with type `timestamp_out_of_range`.

Any report but `label_printed` on a `pending` fulfilment ships it. When every unit of the
order has shipped and every shipped unit is delivered, the order becomes `delivered` with
`delivered_at` (the delivery's `occurred_at`, from which the refund window counts), emits
`order.delivered`, and its follow-up is scheduled `FOLLOW_UP_DELAY` later. Emits
`fulfillment.updated` with the `tracking_event`. Roles: ops, admin.
"""
    + ETAG_NOTE,
)
async def add_tracking_event(
    fulfillment_id: str,
    body: TrackingEventCreate,
    response: Response,
    if_match: IfMatchDep,
    ctx: OpsContext,
) -> FulfillmentOut:
    """Record a carrier tracking event"""
    fulfillment, order, _, created = await service.add_tracking_event(
        ctx, fulfillment_id, body, if_match
    )
    if not created:
        response.status_code = status.HTTP_200_OK
    return _send(response, order.version, service.fulfillment_out(fulfillment))
