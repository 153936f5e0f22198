"""Fulfilment use cases. Every change locks the order row first, so fulfilments serialize
with each other and with cancellations and refunds of the same order; each takes the
request's session and only flushes."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from order_service.context import Context
from order_service.fulfillments import errors, policy, repository
from order_service.fulfillments.models import Fulfillment, FulfillmentLine, TrackingEvent
from order_service.fulfillments.schemas import (
    FulfillmentCreate,
    FulfillmentLineOut,
    FulfillmentList,
    FulfillmentOut,
    FulfillmentUpdate,
    ShipmentStatus,
    TrackingEventCreate,
    TrackingEventOut,
)
from order_service.kit import errors as common
from order_service.kit import times, timestamps
from order_service.kit.ids import new_id
from order_service.kit.pagination import PageRequest
from order_service.orders import repository as orders
from order_service.orders import timeline
from order_service.orders.models import LineItem, Order
from order_service.orders.service import change, check_version, publish, touch
from order_service.returns import policy as return_policy


def event_out(event: TrackingEvent) -> TrackingEventOut:
    return TrackingEventOut(
        id=event.id,
        status=ShipmentStatus(event.status),
        occurred_at=event.occurred_at,
        location=event.location,
        message=event.message,
        estimated_delivery_at=event.estimated_delivery_at,
        applied=event.applied,
        created_at=event.created_at,
    )


def fulfillment_out(fulfillment: Fulfillment) -> FulfillmentOut:
    return FulfillmentOut(
        id=fulfillment.id,
        order_id=fulfillment.order_id,
        status=fulfillment.status,
        shipment_status=fulfillment.shipment_status,
        shipment_status_at=fulfillment.shipment_status_at,
        carrier=fulfillment.carrier,
        service=fulfillment.service,
        tracking_number=fulfillment.tracking_number,
        tracking_url=fulfillment.tracking_url,
        notify_customer=fulfillment.notify_customer,
        line_items=[
            FulfillmentLineOut(
                line_item_id=line.line_item_id,
                sku=line.line_item.sku,
                title=line.line_item.title,
                quantity=line.quantity,
            )
            for line in fulfillment.lines
        ],
        estimated_delivery_at=fulfillment.estimated_delivery_at,
        shipped_at=fulfillment.shipped_at,
        delivered_at=fulfillment.delivered_at,
        cancelled_at=fulfillment.cancelled_at,
        tracking_events=[
            event_out(e)
            for e in sorted(fulfillment.tracking_events, key=lambda e: (e.occurred_at, e.id))
        ],
        created_at=fulfillment.created_at,
        updated_at=fulfillment.updated_at,
    )


async def _locked(
    session: AsyncSession, fulfillment_id: str, if_match: int | None
) -> tuple[Order, list[Fulfillment], Fulfillment]:
    """The fulfilment's order, locked, and all its fulfilments as they are under that lock."""
    order_id = await repository.order_id_of(session, fulfillment_id)
    order = await orders.get(session, order_id, lock=True)
    check_version(order, if_match)
    fulfillments = await repository.of_order(session, order_id)
    fulfillment = next(f for f in fulfillments if f.id == fulfillment_id)
    return order, fulfillments, fulfillment


def owed_units(li: LineItem) -> int:
    """Units of a line that have shipped or still must: refunds are taken to cover unshipped
    units first, so a unit refunded before it shipped is no longer owed."""
    refunded = li.refunded_quantity + li.refund_pending_quantity
    return max(li.shipped_quantity, li.quantity - refunded)


def _count_units(order: Order, fulfillments: list[Fulfillment]) -> policy.Units:
    """Recompute each line's fulfilled and shipped units from the fulfilments themselves."""
    allocated: Counter[str] = Counter()
    shipped: Counter[str] = Counter()
    delivered: Counter[str] = Counter()
    for fulfillment in fulfillments:
        if fulfillment.status == "cancelled":
            continue
        for line in fulfillment.lines:
            allocated[line.line_item_id] += line.quantity
            if fulfillment.status == "shipped":
                shipped[line.line_item_id] += line.quantity
                if fulfillment.delivered_at is not None:
                    delivered[line.line_item_id] += line.quantity
    for li in order.line_items:
        li.fulfilled_quantity = allocated[li.id]
        li.shipped_quantity = shipped[li.id]
    shippable = [li for li in order.line_items if li.requires_shipping]
    return policy.Units(
        ordered=sum(max(owed_units(li), allocated[li.id]) for li in shippable),
        allocated=sum(allocated[li.id] for li in shippable),
        shipped=sum(shipped[li.id] for li in shippable),
        delivered=sum(delivered[li.id] for li in shippable),
    )


async def recount(
    ctx: Context,
    order: Order,
    known_fulfillments: list[Fulfillment] | None = None,
    *,
    why: str = "refunded units no longer ship",
) -> None:
    """Bring the order's fulfilment status up to date after units stopped being owed (a
    refund before shipping), were owed again (a failed refund) or changed (an edit); the
    caller holds the order lock and moves its version. `known_fulfillments`: the order's,
    if the caller has read them under that lock (`current`), else they are read."""
    fulfillments = known_fulfillments
    if fulfillments is None:
        fulfillments = await _of(ctx.session, order)
    before = order.fulfillment_status
    after = _follow_units(order, fulfillments)
    if after != before:
        await _status_moved(ctx, order, before, after, why)


def _follow_units(order: Order, fulfillments: list[Fulfillment]) -> str:
    """Set the order's fulfilment status, the time it was delivered, and its return status
    (which counts shipped units) from its fulfilments; the new fulfilment status."""
    before = order.fulfillment_status
    after = policy.order_fulfillment_status(_count_units(order, fulfillments))
    order.fulfillment_status = after
    if not any(li.return_requested_quantity for li in order.line_items):
        # With a return open the status is that return's, whatever ships.
        order.return_status = return_policy.settled_status(
            (li.shipped_quantity, li.returned_quantity) for li in order.line_items
        )
    if after == "delivered" and before != "delivered":
        order.delivered_at = max(f.delivered_at for f in fulfillments if f.delivered_at)
    elif after != "delivered":
        order.delivered_at = None
    return after


async def _status_moved(
    ctx: Context,
    order: Order,
    before: str,
    after: str,
    why: str | None,
    fulfillment: dict[str, Any] | None = None,
) -> None:
    """What follows a change of the order's fulfilment status, whatever changed it: the
    timeline entry; `order.fulfilled`, or `order.delivered` with the follow-up it
    schedules; leaving `delivered`, the follow-up not yet sent is taken back.
    `fulfillment`: the fulfilment that changed it, as the API shows it."""
    await timeline.record(
        ctx,
        order.id,
        "order.fulfillment_status",
        f"Fulfilment status: {before} → {after}" + (f" ({why})." if why else "."),
        {
            "fulfillment_status": {"from": before, "to": after},
            **({"fulfillment_id": fulfillment["id"]} if fulfillment else {}),
        },
    )
    extra = {"fulfillment": fulfillment} if fulfillment else {}
    if before == "delivered":
        # Units are owed again (a failed refund, an edit adding units): the follow-up waits
        # for the next delivery, which schedules it anew.
        await repository.unschedule_follow_up(ctx.session, order.id)
    if after == "fulfilled":
        await publish(ctx, "order.fulfilled", order, **extra)
    elif after == "delivered":
        assert order.delivered_at is not None
        await repository.schedule_follow_up(
            ctx.session, order.id, order.delivered_at + ctx.settings.follow_up_delay, ctx.now
        )
        await publish(ctx, "order.delivered", order, **extra)


async def current(session: AsyncSession, order: Order) -> list[Fulfillment]:
    """The order's fulfilments, freshly read: for a caller holding the order lock that
    passes them to several steps of one change (nothing else can change them meanwhile)."""
    return await _of(session, order)


async def _of(session: AsyncSession, order: Order) -> list[Fulfillment]:
    return await repository.of_order(
        session, order.id, probably_none=order.fulfillment_status == "unfulfilled"
    )


async def release_pending(ctx: Context, order: Order, fulfillments: list[Fulfillment]) -> int:
    """Cancel the order's pending (picking) fulfilments (`current`), for an order being
    cancelled; the caller holds the order lock and has checked nothing has shipped.
    Returns how many."""
    pending = [f for f in fulfillments if f.status == "pending"]
    for fulfillment in pending:
        await _cancel_one(ctx, order, fulfillments, fulfillment, "with the order")
    return len(pending)


async def _cancel_one(
    ctx: Context, order: Order, fulfillments: list[Fulfillment], fulfillment: Fulfillment, why: str
) -> None:
    previous = fulfillment.status
    fulfillment.status = "cancelled"
    fulfillment.cancelled_at = ctx.now
    await timeline.record(
        ctx,
        order.id,
        "fulfillment.cancelled",
        f"Fulfilment cancelled{' ' + why if why else ''} ({previous}): "
        f"{_describe(fulfillment)} back to unfulfilled.",
        {"fulfillment_id": fulfillment.id, "previous_status": previous},
    )
    await _settle(
        ctx,
        order,
        fulfillments,
        fulfillment,
        "fulfillment.updated",
        changes=[change("status", previous, "cancelled")],
    )


async def _settle(
    ctx: Context,
    order: Order,
    fulfillments: list[Fulfillment],
    fulfillment: Fulfillment,
    event_type: str,
    **extra: Any,
) -> None:
    """After a change to `fulfillment`: the order's units and status follow, its version
    moves, and the events go to the outbox with the order as it now is."""
    fulfillment.updated_at = ctx.now
    before = order.fulfillment_status
    after = _follow_units(order, fulfillments)
    touch(order, ctx.now)
    await ctx.session.flush()
    data = fulfillment_out(fulfillment).model_dump(mode="json")
    await publish(ctx, event_type, order, fulfillment=data, **extra)
    if after != before:
        await _status_moved(ctx, order, before, after, None, data)


def _describe(fulfillment: Fulfillment) -> str:
    units = sum(line.quantity for line in fulfillment.lines)
    via = f" via {fulfillment.carrier}" if fulfillment.carrier else ""
    number = f" ({fulfillment.tracking_number})" if fulfillment.tracking_number else ""
    return f"{units} unit(s){via}{number}"


def _lines(order: Order, body: FulfillmentCreate) -> list[FulfillmentLine]:
    """The requested units, checked against what remains of each line."""
    by_id = {li.id: li for li in order.line_items}
    if body.line_items is None:
        lines = [
            FulfillmentLine(
                line_item_id=li.id, quantity=owed_units(li) - li.fulfilled_quantity, line_item=li
            )
            for li in order.line_items
            if li.requires_shipping and owed_units(li) > li.fulfilled_quantity
        ]
        if not lines:
            raise errors.NothingToFulfill(
                f"Every unit of order #{order.number} that needs shipping is already in a "
                "fulfilment."
            )
        return lines
    lines = []
    over = []
    seen: set[str] = set()
    for position, requested in enumerate(body.line_items):
        li = by_id.get(requested.line_item_id)
        field = f"line_items.{position}.line_item_id"
        if requested.line_item_id in seen:
            raise errors.DuplicateLineItem(
                f"Line item {requested.line_item_id} is listed more than once; list each once "
                "with its whole quantity.",
                errors=[
                    {"field": field, "message": "listed more than once", "type": "value_error"}
                ],
            )
        seen.add(requested.line_item_id)
        if li is None:
            raise errors.UnknownLineItem(
                f"Line item {requested.line_item_id} is not on order #{order.number}.",
                errors=[{"field": field, "message": "not on this order", "type": "value_error"}],
            )
        if not li.requires_shipping:
            raise errors.LineItemNotShippable(
                f"Line item {li.id} ({li.sku}) does not require shipping.",
                errors=[
                    {"field": field, "message": "does not require shipping", "type": "value_error"}
                ],
            )
        remaining = max(owed_units(li) - li.fulfilled_quantity, 0)
        if requested.quantity > remaining:
            over.append(
                {
                    "line_item_id": li.id,
                    "requested": requested.quantity,
                    "remaining": remaining,
                    "position": position,
                }
            )
        lines.append(FulfillmentLine(line_item_id=li.id, quantity=requested.quantity, line_item=li))
    if over:
        raise errors.FulfillmentExceedsRemaining(
            "; ".join(
                f"line item {o['line_item_id']}: {o['requested']} requested, "
                f"{o['remaining']} remain"
                for o in over
            )
            + ".",
            errors=[
                {
                    "field": f"line_items.{o['position']}.quantity",
                    "message": f"only {o['remaining']} unit(s) remain to be fulfilled",
                    "type": "value_error",
                }
                for o in over
            ],
            line_items=[{k: v for k, v in o.items() if k != "position"} for o in over],
        )
    return lines


async def create(
    ctx: Context, order_id: str, body: FulfillmentCreate, if_match: int | None
) -> tuple[Fulfillment, Order]:
    order = await orders.get(ctx.session, order_id, lock=True)
    check_version(order, if_match)
    if order.status != "open":
        raise common.OrderNotOpen(
            f"Order #{order.number} is {order.status}; only open orders can be fulfilled."
        )
    fulfillments = await _of(ctx.session, order)
    shipped = body.status == "shipped"
    fulfillment = Fulfillment(
        id=new_id("ful"),
        order_id=order.id,
        status=body.status,
        carrier=body.carrier,
        service=body.service,
        tracking_number=body.tracking_number,
        tracking_url=body.tracking_url or policy.tracking_url(body.carrier, body.tracking_number),
        notify_customer=body.notify_customer,
        shipped_at=ctx.now if shipped else None,
        order_processed_at=order.processed_at,
        promised_dispatch_date=order.estimated_dispatch_date,
        created_at=ctx.now,
        updated_at=ctx.now,
        lines=_lines(order, body),
        tracking_events=[],
    )
    ctx.session.add(fulfillment)
    fulfillments.append(fulfillment)
    await timeline.record(
        ctx,
        order.id,
        "fulfillment.created",
        f"Fulfilment {'shipped' if shipped else 'started (picking)'}: {_describe(fulfillment)}.",
        {
            "fulfillment_id": fulfillment.id,
            "status": fulfillment.status,
            "line_items": [
                {"line_item_id": line.line_item_id, "quantity": line.quantity}
                for line in fulfillment.lines
            ],
        },
    )
    await _settle(ctx, order, fulfillments, fulfillment, "fulfillment.created")
    return fulfillment, order


def _ship(order: Order, fulfillment: Fulfillment, at: datetime) -> None:
    if order.status == "cancelled":
        raise common.OrderNotOpen(f"Order #{order.number} is cancelled; nothing may ship.")
    fulfillment.status = "shipped"
    fulfillment.shipped_at = at


def _check_active(fulfillment: Fulfillment) -> None:
    if fulfillment.status == "cancelled":
        raise errors.FulfillmentCancelled(f"Fulfilment {fulfillment.id} is cancelled.")


async def update(
    ctx: Context, fulfillment_id: str, body: FulfillmentUpdate, if_match: int | None
) -> tuple[Fulfillment, Order]:
    order, fulfillments, fulfillment = await _locked(ctx.session, fulfillment_id, if_match)
    _check_active(fulfillment)
    fields = body.model_fields_set
    changes: dict[str, dict[str, Any]] = {}

    def assign(name: str, value: Any) -> None:
        if getattr(fulfillment, name) != value:
            changes[name] = {"from": getattr(fulfillment, name), "to": value}
            setattr(fulfillment, name, value)

    for name in ("carrier", "service", "tracking_number", "tracking_url"):
        if name in fields:
            assign(name, getattr(body, name))
    if "notify_customer" in fields and body.notify_customer is not None:
        assign("notify_customer", body.notify_customer)
    if "tracking_url" not in fields and {"carrier", "tracking_number"} & changes.keys():
        assign(
            "tracking_url", policy.tracking_url(fulfillment.carrier, fulfillment.tracking_number)
        )
    if body.status == "shipped" and fulfillment.status == "pending":
        _ship(order, fulfillment, ctx.now)
        changes["status"] = {"from": "pending", "to": "shipped"}
    if not changes:
        return fulfillment, order
    await timeline.record(
        ctx,
        order.id,
        "fulfillment.shipped" if "status" in changes else "fulfillment.updated",
        f"Fulfilment {fulfillment.id} "
        + ("shipped" if "status" in changes else "corrected")
        + f": {', '.join(changes)}.",
        {"fulfillment_id": fulfillment.id, "changes": changes},
    )
    await _settle(
        ctx,
        order,
        fulfillments,
        fulfillment,
        "fulfillment.updated",
        changes=[change(name, c["from"], c["to"]) for name, c in sorted(changes.items())],
    )
    return fulfillment, order


async def cancel(
    ctx: Context, fulfillment_id: str, if_match: int | None
) -> tuple[Fulfillment, Order]:
    order, fulfillments, fulfillment = await _locked(ctx.session, fulfillment_id, if_match)
    if fulfillment.status == "cancelled":
        return fulfillment, order
    if fulfillment.delivered_at is not None:
        raise errors.FulfillmentDelivered(
            f"Fulfilment {fulfillment.id} was delivered at "
            f"{times.rfc3339(fulfillment.delivered_at)}; refund or return its units instead."
        )
    if fulfillment.status == "shipped":
        by_id = {li.id: li for li in order.line_items}
        for line in fulfillment.lines:
            li = by_id[line.line_item_id]
            if (
                li.shipped_quantity - line.quantity
                < li.returned_quantity + li.return_requested_quantity
            ):
                raise errors.FulfillmentHasReturns(
                    f"Units of {li.sku} in this parcel are being or have been returned; "
                    "close or cancel the return first."
                )
    await _cancel_one(ctx, order, fulfillments, fulfillment, "")
    return fulfillment, order


def _check_times(body: TrackingEventCreate, order: Order, now: datetime) -> None:
    """A report is of a time between the order's placement and now, and promises delivery at
    most a year ahead (the schema holds both to 2000 on)."""
    placed = order.processed_at
    checked = (
        timestamps.future_fact("occurred_at", body.occurred_at, now),
        timestamps.out_of_range(
            "occurred_at",
            f"must not be before the order was placed ({times.rfc3339(placed)})",
        )
        if body.occurred_at < placed
        else None,
        timestamps.distant_promise("estimated_delivery_at", body.estimated_delivery_at, now),
    )
    if found := [error for error in checked if error]:
        raise errors.InvalidTrackingEvent(timestamps.summary(found), errors=found)


async def add_tracking_event(
    ctx: Context, fulfillment_id: str, body: TrackingEventCreate, if_match: int | None
) -> tuple[Fulfillment, Order, TrackingEvent, bool]:
    """Record a carrier report and merge it. Returns whether it was new: a repeat of a
    recorded report (same status and `occurred_at`) changes nothing."""
    order, fulfillments, fulfillment = await _locked(ctx.session, fulfillment_id, if_match)
    _check_times(body, order, ctx.now)
    _check_active(fulfillment)
    status = body.status.value
    existing = await repository.find_event(ctx.session, fulfillment.id, status, body.occurred_at)
    if existing is not None:
        return fulfillment, order, existing, False

    occurred_at = min(body.occurred_at, ctx.now)
    current = (
        policy.Report(fulfillment.shipment_status, fulfillment.shipment_status_at)
        if fulfillment.shipment_status and fulfillment.shipment_status_at
        else None
    )
    report = policy.Report(status, body.occurred_at)
    applied = policy.supersedes(report, current)
    event = TrackingEvent(
        id=new_id("trk"),
        fulfillment_id=fulfillment.id,
        status=status,
        occurred_at=body.occurred_at,
        location=body.location,
        message=body.message,
        estimated_delivery_at=body.estimated_delivery_at,
        applied=applied,
        created_at=ctx.now,
    )
    ctx.session.add(event)
    fulfillment.tracking_events.append(event)
    shipped_now = False
    if applied:
        fulfillment.shipment_status = status
        fulfillment.shipment_status_at = body.occurred_at
        fulfillment.delivered_at = occurred_at if status == "delivered" else None
        if body.estimated_delivery_at is not None:
            fulfillment.estimated_delivery_at = body.estimated_delivery_at
    if fulfillment.status == "pending" and status not in policy.NOT_YET_SHIPPED:
        _ship(order, fulfillment, occurred_at)
        shipped_now = True
    where = f" at {body.location}" if body.location else ""
    await timeline.record(
        ctx,
        order.id,
        "fulfillment.tracking_event",
        f"Tracking: {status}{where} ({times.rfc3339(body.occurred_at)})"
        + ("" if applied else ", older than the latest report: recorded only")
        + ("; fulfilment shipped" if shipped_now else "")
        + ".",
        {
            "fulfillment_id": fulfillment.id,
            "tracking_event_id": event.id,
            "status": status,
            "occurred_at": body.occurred_at.isoformat(),
            "applied": applied,
        },
    )
    await _settle(
        ctx,
        order,
        fulfillments,
        fulfillment,
        "fulfillment.updated",
        tracking_event=event_out(event).model_dump(mode="json"),
    )
    return fulfillment, order, event, True


async def get(ctx: Context, fulfillment_id: str) -> tuple[Fulfillment, Order]:
    fulfillment = await repository.get(ctx.session, fulfillment_id)
    return fulfillment, await orders.get(ctx.session, fulfillment.order_id)


async def list_for_order(ctx: Context, order_id: str, page: PageRequest) -> FulfillmentList:
    """The order's fulfilments, oldest first (404 when there is no such order)."""
    await orders.get(ctx.session, order_id)
    result = await repository.list_for_order(ctx.session, order_id, page=page)
    return FulfillmentList(
        data=[fulfillment_out(f) for f in result.items], next_cursor=result.next_cursor
    )
