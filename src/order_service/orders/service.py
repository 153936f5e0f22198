"""Order use cases. Each takes the request's session first and only flushes: the route
commits the change, its timeline entry and its outbox event together."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pydantic_core
from sqlalchemy.orm.attributes import set_committed_value

from order_service.context import Context
from order_service.events import service as events
from order_service.kit import errors, money, timestamps
from order_service.kit.ids import new_id
from order_service.kit.pagination import Page, PageRequest
from order_service.orders import policy, repository, timeline
from order_service.orders.models import LineItem, Order, PaymentTransaction
from order_service.orders.presenter import order_fields, order_json
from order_service.orders.schemas import (
    Customer,
    LineItemIn,
    OrderCreate,
    OrderUpdate,
    PaymentStatus,
    ReorderRequest,
    TimelineList,
    TransactionCreate,
    TransactionKind,
)
from order_service.settings import Settings


def invalid(field: str, message: str) -> errors.DomainError:
    return errors.InvalidOrder(
        f"{field}: {message}", errors=[{"field": field, "message": message, "type": "value_error"}]
    )


def _check_times(body: OrderCreate, now: datetime) -> None:
    """The order's times against the clock (the schema holds them to 2000 on)."""
    checked = (
        timestamps.future_fact("processed_at", body.processed_at, now),
        timestamps.distant_promise("estimated_dispatch_date", body.estimated_dispatch_date, now),
    )
    if found := [error for error in checked if error]:
        raise errors.InvalidOrder(timestamps.summary(found), errors=found)


def _fee_exceeds(field: str, fee: int, amount: int, currency: str) -> errors.DomainError:
    return errors.FeeExceedsAmount(
        f"The fee of {money.display(fee, currency)} is more than the "
        f"{money.display(amount, currency)} it was charged on.",
        errors=[
            {"field": field, "message": "must not exceed the amount", "type": "less_than_equal"}
        ],
    )


def check_version(order: Order, expected: int | None) -> None:
    if expected is not None and expected != order.version:
        raise errors.PreconditionFailed(
            f"The order is at version {order.version}, not {expected}: reload it and retry.",
            current_version=order.version,
        )


def next_sequence(ctx: Context, order: Order) -> int:
    """The `sequence` of the order's next event: 1, 2, 3 … without gaps in commit order, as
    every change holds the order's row lock until it commits (and gives the number back if
    it rolls back). In a request the count is written with its last statement (events are
    published after the order's own changes were flushed, and an UPDATE of its own cost a
    round trip)."""
    number = order.last_event_sequence + 1
    if ctx.outbox is not None:
        ctx.outbox.hold(
            "order_sequence", repository.UPDATE_SEQUENCE, {"id": order.id, _SEQUENCE: number}
        )
        set_committed_value(order, _SEQUENCE, number)
    else:
        order.last_event_sequence = number
    return number


_SEQUENCE = "last_event_sequence"


def change(field: str, before: Any, after: Any) -> dict[str, Any]:
    """One entry of `order.updated`'s `data.changes`: a field of the order, as JSON, before
    and after the change."""
    return {
        "field": field,
        "before": pydantic_core.to_jsonable_python(before),
        "after": pydantic_core.to_jsonable_python(after),
    }


def follow_money(order: Order, current: str | None = None) -> None:
    """Set the order's financial status from its money columns as they are now; `current`:
    the status to break ties with, when the change itself decides one (a void)."""
    order.financial_status = policy.financial_status(
        total=order.total,
        authorized=order.total_authorized,
        paid=order.total_paid,
        refunded=order.total_refunded,
        edit_refunds=order.total_edit_refunds,
        current=current or order.financial_status,
    )


def touch(order: Order, now: datetime) -> None:
    order.version += 1
    order.updated_at = now


def event_data(order: Order, now: datetime, settings: Settings, **extra: Any) -> dict[str, Any]:
    """The payload of an order event: the whole order (with its `version`, so receivers can
    drop stale updates) and the support contact a customer email needs."""
    return _payload(order_json(order, now, settings), settings, **extra)


def _payload(order: dict[str, Any], settings: Settings, **extra: Any) -> dict[str, Any]:
    return {
        "order": order,
        "support": {"email": settings.support_email, "url": settings.support_url},
        **extra,
    }


@dataclass(slots=True)
class NewOrder:
    """An order just created, as the API shows it (`presenter.order_fields`)."""

    fields: dict[str, Any]

    @property
    def id(self) -> str:
        return str(self.fields["id"])

    @property
    def number(self) -> int:
        return int(self.fields["number"])


async def publish(ctx: Context, type_: str, order: Order, **extra: Any) -> None:
    await events.emit(
        ctx,
        type_,
        order_id=order.id,
        data=event_data(order, ctx.now, ctx.settings, **extra),
        sequence=next_sequence(ctx, order),
    )


async def emit_restock(
    ctx: Context, order: Order, restocked: list[tuple[LineItem, int]], source: str
) -> None:
    """Tell the inventory service which units went back to stock, and why."""
    items = [
        {"line_item_id": line.id, "sku": line.sku, "quantity": quantity}
        for line, quantity in restocked
    ]
    summary = ", ".join(f"{i['quantity']} x {i['sku']}" for i in items)
    await timeline.record(
        ctx, order.id, "order.restock", f"Restocked {summary} ({source}).",
        {"items": items, "source": source},
    )  # fmt: skip
    await publish(ctx, "order.restock", order, restock={"items": items, "source": source})


def new_line(
    order_id: str, position: int, line: LineItemIn, processed_at: datetime
) -> dict[str, Any]:
    """The row of a line item as an order is created or an edit adds it: nothing fulfilled,
    refunded, restocked or returned yet."""
    return {
        "id": new_id("li"),
        "order_id": order_id,
        "position": position,
        "sku": line.sku,
        "title": line.title,
        "variant_title": line.variant_title,
        "product_id": line.product_id,
        "quantity": line.quantity,
        "unit_price": line.unit_price,
        "refundable": line.refundable,
        "requires_shipping": line.requires_shipping,
        "fulfilled_quantity": 0,
        "shipped_quantity": 0,
        "refunded_quantity": 0,
        "refund_pending_quantity": 0,
        "return_refunded_quantity": 0,
        "restocked_quantity": 0,
        "removed_quantity": 0,
        "return_requested_quantity": 0,
        "returned_quantity": 0,
        "exchanged_quantity": 0,
        "processed_at": processed_at,
    }


async def create_order(
    ctx: Context,
    body: OrderCreate,
    *,
    reordered_from: Order | None = None,
    exchanged_from: str | None = None,
) -> NewOrder:
    """A new order; `exchanged_from`: the order an exchange's return came from."""
    _check_times(body, ctx.now)
    processed_at = min(body.processed_at or ctx.now, ctx.now)
    totals = policy.compute_totals(
        ((li.quantity, li.unit_price) for li in body.line_items),
        (s.price for s in body.shipping_lines),
        (t.amount for t in body.tax_lines),
        (d.amount for d in body.discounts),
        taxes_included=body.taxes_included,
    )
    if totals.total < 0:
        raise invalid("discounts", "discounts exceed the order's subtotal and shipping")
    if body.payment and body.payment.fee and body.payment.fee > totals.total:
        raise _fee_exceeds("payment.fee", body.payment.fee, totals.total, body.currency)

    order_id = new_id("ord")
    payment_gateway = body.payment.gateway if body.payment else None
    # Plain rows rather than ORM objects: nothing in the request changes the new order again,
    # and building an `Order` and its `LineItem`s was a fifth of a creation's API samples
    # in a py-spy profile.
    order: dict[str, Any] = {
        "id": order_id,
        "status": "open",
        "financial_status": "pending",
        "fulfillment_status": "unfulfilled",
        "customer_id": body.customer.id,
        "customer_email": str(body.customer.email),
        "customer_name": body.customer.name,
        "shipping_address": body.shipping_address.model_dump() if body.shipping_address else None,
        "billing_address": body.billing_address.model_dump() if body.billing_address else None,
        "currency": body.currency,
        "taxes_included": body.taxes_included,
        "shipping_lines": [s.model_dump() for s in body.shipping_lines],
        "tax_lines": [t.model_dump() for t in body.tax_lines],
        "discounts": [d.model_dump() for d in body.discounts],
        "subtotal": totals.subtotal,
        "shipping_total": totals.shipping_total,
        "tax_total": totals.tax_total,
        "discount_total": totals.discount_total,
        "total": totals.total,
        "total_authorized": 0,
        "total_paid": 0,
        "total_refunded": 0,
        "total_fees": 0,
        "total_refund_pending": 0,
        "shipping_refunded": 0,
        "shipping_refund_pending": 0,
        "total_edit_refunds": 0,
        "total_exchange_credit": 0,
        "return_status": "none",
        "payment_gateway": payment_gateway,
        "payment_reference": body.payment.reference if body.payment else None,
        "note": body.note,
        "tags": body.tags,
        "source_name": body.source_name,
        "processed_at": processed_at,
        "estimated_dispatch_date": body.estimated_dispatch_date
        or policy.estimated_dispatch_date(processed_at, ctx.settings.handling_days),
        "delivered_at": None,
        "cancelled_at": None,
        "cancel_reason": None,
        "cancelled_by": None,
        "reordered_from_id": reordered_from.id if reordered_from else None,
        "reorder_ids": [],
        "exchanged_from_id": exchanged_from,
        "archived_at": None,
        "closed_at": None,
        "version": 1,
        "last_event_sequence": 1,  # its `order.created`
        "created_at": ctx.now,
        "updated_at": ctx.now,
    }
    lines = [
        new_line(order_id, position, li, processed_at)
        for position, li in enumerate(body.line_items)
    ]
    payment: dict[str, Any] | None = None
    if body.payment and body.payment.status is not PaymentStatus.pending:
        kind = "sale" if body.payment.status is PaymentStatus.paid else "authorization"
        fee = body.payment.fee or 0
        order.update(
            _payment_effect(
                kind,
                totals.total,
                fee,
                total=totals.total,
                authorized=0,
                paid=0,
                refunded=0,
                fees=0,
                edit_refunds=0,
                current="pending",
            )
        )
        payment = {
            "id": new_id("txn"),
            "order_id": order_id,
            "kind": kind,
            "status": "success",
            "amount": totals.total,
            "fee": fee,
            "currency": body.currency,
            "gateway": payment_gateway,
            "reference": body.payment.reference,
            "created_at": ctx.now,
        }
    placed = timeline.entry(
        order_id,
        "order.created",
        f"Order placed: {len(body.line_items)} line(s), "
        f"total {money.display(totals.total, body.currency)}"
        + (f", reordering #{reordered_from.number}." if reordered_from else "."),
        ctx.actor,
        ctx.now,
        {
            "total": totals.total,
            "financial_status": order["financial_status"],
            "reordered_from_id": reordered_from.id if reordered_from else None,
        },
    )
    order["number"] = await repository.insert(
        ctx.session, order, lines, [payment] if payment else [], [placed]
    )
    created = NewOrder(order_fields(order, lines, ctx.now, ctx.settings))
    await events.emit(
        ctx,
        "order.created",
        order_id=order_id,
        data=_payload(created.fields, ctx.settings),
        sequence=order["last_event_sequence"],
    )
    return created


def _apply_payment(order: Order, kind: str, amount: int, fee: int) -> list[dict[str, Any]]:
    """Apply a successful transaction; what it changed (`change`)."""
    effect = _payment_effect(
        kind,
        amount,
        fee,
        total=order.total,
        authorized=order.total_authorized,
        paid=order.total_paid,
        refunded=order.total_refunded,
        fees=order.total_fees,
        edit_refunds=order.total_edit_refunds,
        current=order.financial_status,
    )
    changed = [
        change(column, getattr(order, column), value)
        for column, value in effect.items()
        if getattr(order, column) != value
    ]
    for column, value in effect.items():
        setattr(order, column, value)
    return changed


def _payment_effect(
    kind: str,
    amount: int,
    fee: int,
    *,
    total: int,
    authorized: int,
    paid: int,
    refunded: int,
    fees: int,
    edit_refunds: int,
    current: str,
) -> dict[str, Any]:
    """The order's money columns after a successful transaction of `kind`."""
    if kind == "authorization":
        authorized += amount
    elif kind == "sale":
        authorized += amount
        paid += amount
        current = "paid"
    elif kind == "capture":
        paid += amount
        current = "paid"
    elif kind == "void":
        authorized = paid
        if paid == 0:
            current = "voided"
    return {
        "total_authorized": authorized,
        "total_paid": paid,
        "total_fees": fees + fee,
        "financial_status": policy.financial_status(
            total=total,
            authorized=authorized,
            paid=paid,
            refunded=refunded,
            edit_refunds=edit_refunds,
            current=current,
        ),
    }


def _transaction_amount(order: Order, body: TransactionCreate) -> int:
    """Check a successful transaction against the order's money and return its amount.
    Captures and sales take at most what is `outstanding`: after an edit lowered the total
    of an authorised order, the capture is for less than the authorisation (a larger one
    is refused; one without an amount takes what is outstanding)."""
    uncaptured = order.total_authorized - order.total_paid
    outstanding = max(order.total - order.total_paid + order.total_edit_refunds, 0)
    match body.kind:
        case TransactionKind.authorization:
            if order.total_paid > 0:
                raise errors.TransactionNotAllowed(
                    "The order is already (partly) paid: record a capture or sale instead."
                )
            room = max(order.total - order.total_authorized, 0)
        case TransactionKind.sale:
            room = outstanding
        case TransactionKind.capture:
            if uncaptured <= 0:
                raise errors.TransactionNotAllowed(
                    "Nothing is authorised and uncaptured: record an authorization or a sale."
                )
            room = min(uncaptured, outstanding)
        case TransactionKind.void:
            if uncaptured <= 0:
                raise errors.TransactionNotAllowed("There is no uncaptured authorisation to void.")
            return uncaptured
    amount = room if body.amount is None else body.amount
    if amount > room:
        raise errors.TransactionExceedsAmount(
            f"A {body.kind.value} of {money.display(amount, order.currency)} exceeds the "
            f"{money.display(room, order.currency)} the order allows.",
            allowed=room,
        )
    if amount == 0 and order.total > 0:
        raise errors.TransactionNotAllowed(
            f"Nothing is left to {body.kind.value}: the order is fully covered."
        )
    return amount


async def record_transaction(
    ctx: Context, order_id: str, body: TransactionCreate, if_match: int | None
) -> tuple[PaymentTransaction, Order]:
    order = await repository.get(ctx.session, order_id, lock=True)
    check_version(order, if_match)
    succeeded = body.status == "success"
    amount = _transaction_amount(order, body) if succeeded else (body.amount or 0)
    if body.fee and body.fee > amount:
        raise _fee_exceeds("fee", body.fee, amount, order.currency)
    transaction = PaymentTransaction(
        id=new_id("txn"),
        order_id=order.id,
        kind=body.kind.value,
        status=body.status,
        amount=amount,
        fee=body.fee or 0,
        currency=order.currency,
        gateway=body.gateway or order.payment_gateway,
        reference=body.reference,
        error_message=body.error_message,
        created_at=ctx.now,
    )
    ctx.session.add(transaction)
    before = order.financial_status
    changed: list[dict[str, Any]] = []
    if succeeded:
        changed = _apply_payment(order, body.kind.value, amount, body.fee or 0)
        if body.gateway and not order.payment_gateway:
            changed.append(change("payment_gateway", None, body.gateway))
            order.payment_gateway = body.gateway
        touch(order, ctx.now)
    await timeline.record(
        ctx,
        order.id,
        f"transaction.{body.kind.value}",
        f"Payment {body.kind.value} of {money.display(amount, order.currency)} "
        + ("succeeded." if succeeded else f"failed: {body.error_message or 'no reason given'}."),
        {
            "transaction_id": transaction.id,
            "status": body.status,
            "amount": amount,
            "fee": body.fee or 0,
            "financial_status": {"from": before, "to": order.financial_status},
        },
    )
    if succeeded:
        await publish(ctx, "order.updated", order, changes=changed)
    await ctx.session.flush()
    return transaction, order


async def update_order(
    ctx: Context, order_id: str, body: OrderUpdate, if_match: int | None
) -> Order:
    order = await repository.get(ctx.session, order_id, lock=True)
    check_version(order, if_match)
    changes: dict[str, dict[str, Any]] = {}
    fields = body.model_fields_set
    if "note" in fields and body.note != order.note:
        changes["note"] = {"from": order.note, "to": body.note}
        order.note = body.note
    if "tags" in fields and (body.tags or []) != list(order.tags):
        changes["tags"] = {"from": list(order.tags), "to": body.tags or []}
        order.tags = body.tags or []
    if "shipping_address" in fields:
        address = body.shipping_address.model_dump() if body.shipping_address else None
        if address != order.shipping_address:
            if order.status == "cancelled":
                raise errors.OrderNotOpen("A cancelled order's address cannot change.")
            if order.fulfillment_status != "unfulfilled":
                raise errors.OrderFulfillmentStarted(
                    "Fulfilment has started; change the address with the carrier instead."
                )
            changes["shipping_address"] = {"from": order.shipping_address, "to": address}
            order.shipping_address = address
    if not changes:
        return order
    touch(order, ctx.now)
    await timeline.record(
        ctx, order.id, "order.updated", f"Updated {', '.join(changes)}.", {"changes": changes}
    )
    await publish(
        ctx,
        "order.updated",
        order,
        changes=[change(f, c["from"], c["to"]) for f, c in sorted(changes.items())],
    )
    await ctx.session.flush()
    return order


async def set_archived(ctx: Context, order_id: str, archived: bool, if_match: int | None) -> Order:
    """Archive (an open order becomes `closed`) or unarchive (a closed one reopens);
    asking for the state the order is already in changes nothing."""
    order = await repository.get(ctx.session, order_id, lock=True)
    check_version(order, if_match)
    if (order.archived_at is not None) == archived:
        return order
    before = {f: getattr(order, f) for f in ("archived_at", "status", "closed_at")}
    order.archived_at = ctx.now if archived else None
    if archived and order.status == "open":
        order.status, order.closed_at = "closed", ctx.now
    elif not archived and order.status == "closed":
        order.status, order.closed_at = "open", None
    changed = [change(f, v, getattr(order, f)) for f, v in before.items() if getattr(order, f) != v]
    touch(order, ctx.now)
    action = "order.archived" if archived else "order.unarchived"
    await timeline.record(ctx, order.id, action, "Archived." if archived else "Unarchived.")
    if archived:
        await publish(ctx, "order.archived", order)
    else:
        await publish(ctx, "order.updated", order, changes=changed)
    await ctx.session.flush()
    return order


async def delete_order(ctx: Context, order_id: str, if_match: int | None) -> None:
    order = await repository.get(ctx.session, order_id, lock=True)
    check_version(order, if_match)
    if order.total_paid > 0 or order.total_authorized > 0:
        raise errors.OrderHasPayments(
            f"Order #{order.number} has payments authorised or captured; archive it instead.",
        )
    data = event_data(
        order, ctx.now, ctx.settings, deleted_by={"name": ctx.actor.name, "role": ctx.actor.role}
    )
    sequence = order.last_event_sequence + 1  # the row it would count on is gone
    await repository.delete_order(ctx.session, order.id)
    await events.emit(ctx, "order.deleted", order_id=order.id, data=data, sequence=sequence)


async def reorder(
    ctx: Context, order_id: str, body: ReorderRequest, if_match: int | None
) -> NewOrder:
    """A new open order with the same items, prices, addresses and shipping, linked both
    ways — how an accidental cancellation turns back into a sale.

    The items are what the order holds now: lines with units, at their current quantity
    (an edit's added lines included); a line an edit removed stays on the order with
    quantity 0 for its history and is not copied. Shipping, tax lines and discounts are the
    order's current ones, so the new order's totals are the original's. The original
    changes too — it lists the new order in `reorder_ids` — so its version moves, and
    `if_match` is checked against it."""
    source = await repository.get(ctx.session, order_id, lock=True)
    check_version(source, if_match)
    items = [li for li in source.line_items if li.quantity > 0]
    if not items:
        raise errors.NothingToReorder(
            f"Every line of order #{source.number} was removed: there is nothing to reorder."
        )
    draft = OrderCreate(
        customer=Customer(
            id=source.customer_id, email=source.customer_email, name=source.customer_name
        ),
        currency=source.currency,
        line_items=[
            LineItemIn(
                sku=li.sku,
                title=li.title,
                variant_title=li.variant_title,
                product_id=li.product_id,
                quantity=li.quantity,
                unit_price=li.unit_price,
                refundable=li.refundable,
                requires_shipping=li.requires_shipping,
            )
            for li in items
        ],
        shipping_lines=source.shipping_lines,
        tax_lines=source.tax_lines,
        discounts=source.discounts,
        taxes_included=source.taxes_included,
        shipping_address=source.shipping_address,
        billing_address=source.billing_address,
        payment=body.payment,
        note=body.note if body.note is not None else source.note,
        tags=list(source.tags),
        source_name=source.source_name,
    )
    order = await create_order(ctx, draft, reordered_from=source)
    changed = [change("reorder_ids", list(source.reorder_ids), [*source.reorder_ids, order.id])]
    source.reorder_ids = [*source.reorder_ids, order.id]
    touch(source, ctx.now)
    await timeline.record(
        ctx,
        source.id,
        "order.reordered",
        f"Reordered as #{order.number}.",
        {"reorder_id": order.id},
    )
    await publish(ctx, "order.updated", source, changes=changed)
    await ctx.session.flush()
    return order


OrderFilters = repository.OrderFilters


async def list_orders(
    ctx: Context, filters: OrderFilters, *, page: PageRequest
) -> Page[tuple[Any, list[Any]]]:
    """A page of orders, each its row and its line items' rows (`order_page_json`)."""
    return await repository.list_orders(ctx.session, filters, page=page)


async def read(ctx: Context, order_id: str) -> tuple[Any, list[Any]]:
    """The order's row and its line items' rows, in one statement (`order_fields`)."""
    return await repository.read(ctx.session, order_id)


async def timeline_page(ctx: Context, order_id: str, page: PageRequest) -> TimelineList:
    """The order's timeline, oldest first (404 when there is no such order)."""
    await repository.get(ctx.session, order_id)
    result = await repository.timeline(ctx.session, order_id, page=page)
    return TimelineList(
        data=[timeline.entry_out(e) for e in result.items], next_cursor=result.next_cursor
    )
