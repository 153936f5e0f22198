"""Returns, exchanges and claims: goods and money kept apart. Every change locks the order row
first, then the return, so returns serialise with each other and with refunds,
cancellations, edits and fulfilments of the order: units are never returned or refunded
twice, whatever runs at the same time."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, assert_never

from order_service.auth.actor import Actor
from order_service.context import Context
from order_service.fulfillments import service as fulfillments
from order_service.fulfillments.models import Fulfillment
from order_service.kit import money, times, timestamps
from order_service.kit.errors import DomainError
from order_service.kit.ids import new_id
from order_service.kit.pagination import PageRequest
from order_service.orders import repository as orders
from order_service.orders import service as order_service
from order_service.orders import timeline
from order_service.orders.models import LineItem, Order
from order_service.orders.presenter import order_out
from order_service.orders.schemas import (
    Customer,
    LineItemIn,
    OrderCreate,
    TransactionCreate,
    TransactionKind,
)
from order_service.orders.service import check_version, emit_restock, publish, touch
from order_service.refunds import errors as refund_errors
from order_service.refunds import service as refunds
from order_service.refunds.models import Refund
from order_service.refunds.schemas import ActorRef
from order_service.returns import errors, policy, repository
from order_service.returns.models import OPEN_STATUSES, Return, ReturnLineItem
from order_service.returns.policy import ReturnRefusal
from order_service.returns.schemas import (
    DeductionOut,
    ReceiveLineIn,
    ReturnApprove,
    ReturnCalculate,
    ReturnCancel,
    ReturnClose,
    ReturnCreate,
    ReturnDecline,
    ReturnLineOut,
    ReturnLinePreview,
    ReturnList,
    ReturnOut,
    ReturnPreview,
    ReturnReceive,
    ReturnResult,
    ReturnShipping,
)
from order_service.settings import Settings

_REFUND_REASONS = {
    "damaged": "damaged",
    "defective": "damaged",
    "not_as_described": "not_as_described",
    "wrong_item": "wrong_item",
}
"""The refund reason of a return's refund, by its first line's reason (else
`customer_request`), so the refunds report tells returns' reasons apart."""


def _check_caller(body: ReturnCreate, actor: Actor) -> None:
    if body.override_policy:
        if not actor.is_merchant:
            raise refund_errors.OverrideNotAllowed(
                "Storefront keys act for customers: the return policy always applies."
            )
        if not (body.note and body.note.strip()):
            raise refund_errors.OverrideRequiresNote(
                "Say in `note` why the policy is overridden; it goes on the order's timeline."
            )
    exchange = body.resolution.value == "exchange"
    if exchange != bool(body.exchange_line_items):
        message = (
            "an exchange names its replacement items"
            if exchange
            else "only an exchange has replacement items"
        )
        raise errors.InvalidReturn(
            f"exchange_line_items: {message}.",
            errors=[{"field": "exchange_line_items", "message": message, "type": "value_error"}],
        )


def _check_lines(order: Order, body: ReturnCreate) -> None:
    known = {li.id for li in order.line_items}
    unknown = [li.line_item_id for li in body.line_items if li.line_item_id not in known]
    if unknown:
        raise refund_errors.LineItemNotFound(
            f"Not a line of this order: {', '.join(unknown)}.", line_item_ids=unknown
        )


def _policy_lines(order: Order) -> list[policy.Line]:
    return [
        policy.Line(
            id=li.id,
            quantity=li.quantity,
            refundable=li.refundable,
            shipped_quantity=li.shipped_quantity,
            returned_quantity=li.returned_quantity,
            requested_quantity=li.return_requested_quantity,
            refunded_quantity=li.refunded_quantity
            + li.refund_pending_quantity
            + li.exchanged_quantity,
        )
        for li in order.line_items
    ]


def _parcels(found: Sequence[Fulfillment]) -> list[policy.Parcel]:
    """Shipped parcels: the window runs from delivery, or shipping when none was reported."""
    parcels = []
    for f in found:
        start = f.delivered_at or f.shipped_at
        if f.status == "shipped" and start is not None:
            units = {line.line_item_id: line.quantity for line in f.lines}
            parcels.append(policy.Parcel(start=start, units=units))
    return parcels


async def _decide(
    ctx: Context, order: Order, body: ReturnCreate
) -> tuple[policy.Decision, list[Fulfillment]]:
    parcels = await fulfillments.current(ctx.session, order)
    decision = policy.decide(
        _policy_lines(order),
        _parcels(parcels),
        {li.line_item_id: li.quantity for li in body.line_items},
        override=body.override_policy,
        now=ctx.now,
        window=ctx.settings.return_window,
    )
    return decision, parcels


def _held(order: Order, own: Mapping[str, int] | None = None) -> dict[str, int]:
    """Units in open returns, by line, less `own` (the units of the return acting, when it
    still holds them)."""
    own = own or {}
    return {li.id: li.return_requested_quantity - own.get(li.id, 0) for li in order.line_items}


def _worth(order: Order, units: Mapping[str, int], *, held: Mapping[str, int]) -> int:
    return sum(p.amount for p in policy.price(refunds.money_state(order), units, held=held))


def refusal(code: ReturnRefusal, decision: policy.Decision, settings: Settings) -> DomainError:
    """The problem for a refused return: its first reason names it; `lines` lists each
    refused line with its returnable quantity."""
    extra: dict[str, Any] = {
        "codes": decision.codes,
        "lines": [
            {
                "line_item_id": d.line_item_id,
                "code": d.code,
                "returnable_quantity": d.returnable_quantity,
            }
            for d in decision.lines
            if d.quantity and d.code
        ],
    }
    match code:
        case ReturnRefusal.line_item_not_returnable:
            return errors.LineItemNotReturnable(
                "A requested item is final sale or has not shipped.", **extra
            )
        case ReturnRefusal.quantity_exceeds_returnable:
            return errors.QuantityExceedsReturnable(
                "More units were asked for than were delivered and not yet returned, "
                "requested or refunded.",
                **extra,
            )
        case ReturnRefusal.return_window_expired:
            return errors.ReturnWindowExpired(
                "Items can be returned within "
                f"{times.duration(settings.return_window)} of delivery; that time has passed.",
                **extra,
            )
        case _:
            assert_never(code)


async def calculate(ctx: Context, order_id: str, body: ReturnCalculate) -> ReturnPreview:
    """Each line's returnable units and whether this request would be accepted; writes
    nothing."""
    _check_caller(body, ctx.actor)
    order = await orders.get(ctx.session, order_id)
    _check_lines(order, body)
    decision, _ = await _decide(ctx, order, body)
    skus = {li.id: li.sku for li in order.line_items}
    units = {li.line_item_id: li.quantity for li in body.line_items}
    return ReturnPreview(
        line_items=[
            ReturnLinePreview(
                line_item_id=d.line_item_id,
                sku=skus[d.line_item_id],
                quantity=d.quantity,
                returnable_quantity=d.returnable_quantity,
                returnable_until=d.returnable_until,
                eligible=d.eligible,
                code=d.code,
            )
            for d in decision.lines
        ],
        returnable=bool(body.line_items) and decision.allowed,
        codes=decision.codes,
        expected_refund=_worth(order, units, held=_held(order)) if decision.allowed else 0,
        currency=order.currency,
        return_window_days=round(ctx.settings.return_window.total_seconds() / 86400, 2),
    )


async def request(ctx: Context, order_id: str, body: ReturnCreate) -> ReturnResult:
    _check_caller(body, ctx.actor)
    order = await orders.get(ctx.session, order_id, lock=True)
    _check_lines(order, body)
    decision, _ = await _decide(ctx, order, body)
    if not decision.allowed:
        raise refusal(decision.codes[0], decision, ctx.settings)
    units = {li.line_item_id: li.quantity for li in body.line_items}
    expected = _worth(order, units, held=_held(order))
    found = Return(
        id=new_id("ret"),
        order_id=order.id,
        status="requested",
        resolution=body.resolution.value,
        currency=order.currency,
        customer_note=body.customer_note,
        note=body.note,
        override_policy=body.override_policy,
        notify_customer=body.notify_customer,
        exchange_line_items=[li.model_dump(mode="json") for li in body.exchange_line_items],
        items_required=True,
        ship_replacement_first=False,
        expected_refund=expected,
        refund_amount=0,
        deducted_amount=0,
        deductions=[],
        exchange_credit=0,
        actor_id=ctx.actor.id,
        actor_name=ctx.actor.name,
        actor_role=ctx.actor.role.value,
        created_at=ctx.now,
        updated_at=ctx.now,
        line_items=[
            ReturnLineItem(
                line_item_id=li.line_item_id,
                position=position,
                quantity=li.quantity,
                reason=li.reason.value,
                note=li.note,
                received_quantity=0,
                restocked_quantity=0,
                refunded_quantity=0,
            )
            for position, li in enumerate(body.line_items)
        ],
    )
    by_id = {li.id: li for li in order.line_items}
    for line in found.line_items:
        by_id[line.line_item_id].return_requested_quantity += line.quantity
    repository.add(ctx.session, found)
    auto = ctx.settings.return_auto_approve and not ctx.actor.is_merchant
    if auto:
        found.status, found.approved_at = "approved", ctx.now
    items = ", ".join(
        f"{line.quantity} x {by_id[line.line_item_id].sku}" for line in found.line_items
    )
    await _changed(
        ctx,
        order,
        found,
        "return.requested",
        f"Return {found.id} requested by {ctx.actor.name} ({ctx.actor.role.value}): {items}, "
        f"for {found.resolution.replace('_', ' ')}"
        + (" (return policy overridden)" if body.override_policy else "")
        + (f": {body.note}" if body.note else "."),
        {"override_policy": body.override_policy, "expected_refund": expected},
    )
    if auto:
        await _changed(
            ctx, order, found, "return.approved", f"Return {found.id} approved automatically."
        )
    return _result(ctx, found, order)


async def _locked(ctx: Context, return_id: str) -> tuple[Order, Return]:
    """The return's order, locked, and the return as it is under that lock."""
    order_id = await repository.order_id_of(ctx.session, return_id)
    order = await orders.get(ctx.session, order_id, lock=True)
    return order, await repository.get(ctx.session, return_id, lock=True)


def _release(order: Order, found: Return) -> None:
    """The return's units are no longer on their way back."""
    by_id = {li.id: li for li in order.line_items}
    for line in found.line_items:
        by_id[line.line_item_id].return_requested_quantity -= line.quantity


async def _requested(ctx: Context, return_id: str, if_match: int | None) -> tuple[Order, Return]:
    """The return, still `requested`, and its order, locked and at the version expected."""
    order, found = await _locked(ctx, return_id)
    check_version(order, if_match)
    if found.status != "requested":
        raise errors.ReturnNotRequested(
            f"Return {found.id} is {found.status}.", return_status=found.status
        )
    return order, found


async def approve(
    ctx: Context, return_id: str, body: ReturnApprove, if_match: int | None
) -> ReturnResult:
    order, found = await _requested(ctx, return_id, if_match)
    if error := timestamps.distant_promise("return_by", body.return_by, ctx.now):
        raise errors.InvalidReturn(timestamps.summary([error]), errors=[error])
    found.status, found.approved_at = "approved", ctx.now
    found.return_shipping = (
        body.return_shipping.model_dump(mode="json") if body.return_shipping else None
    )
    found.return_by = body.return_by
    found.items_required = body.items_required
    found.ship_replacement_first = body.ship_replacement_first and found.resolution == "exchange"
    if body.note:
        found.note = body.note
    refund = None
    if found.ship_replacement_first:
        units = {line.line_item_id: line.quantity for line in found.line_items}
        refund = await _exchange(ctx, order, found, units, held=_held(order, units))
    await _changed(
        ctx,
        order,
        found,
        "return.approved",
        f"Return {found.id} approved"
        + ("" if found.items_required else " as a claim (no items to send back)")
        + (f", to be sent by {times.rfc3339(body.return_by)}" if body.return_by else "")
        + (f": {body.note}" if body.note else "."),
        {"items_required": found.items_required, "return_by": found.return_by},
        refund=refund,
    )
    return _result(ctx, found, order, refund)


async def decline(
    ctx: Context, return_id: str, body: ReturnDecline, if_match: int | None
) -> ReturnResult:
    order, found = await _requested(ctx, return_id, if_match)
    _release(order, found)
    found.status, found.declined_at = "declined", ctx.now
    found.decline_reason = body.decline_reason.value
    if body.note:
        found.note = body.note
    await _changed(
        ctx,
        order,
        found,
        "return.declined",
        f"Return {found.id} declined ({body.decline_reason.value.replace('_', ' ')})"
        + (f": {body.note}" if body.note else "."),
        {"decline_reason": found.decline_reason},
    )
    return _result(ctx, found, order)


async def cancel(
    ctx: Context, return_id: str, body: ReturnCancel, if_match: int | None
) -> ReturnResult:
    """Until received, by the customer (they changed their mind) or by ops."""
    order, found = await _locked(ctx, return_id)
    check_version(order, if_match)
    if found.status not in OPEN_STATUSES or found.exchange_order_id:
        raise errors.ReturnNotCancellable(
            f"Return {found.id} is {found.status}"
            + (" and its replacement order was created" if found.exchange_order_id else "")
            + "; only a return not yet received can be cancelled.",
            return_status=found.status,
        )
    _release(order, found)
    found.status, found.cancelled_at = "cancelled", ctx.now
    await _changed(
        ctx,
        order,
        found,
        "return.cancelled",
        f"Return {found.id} cancelled by {ctx.actor.name}"
        + (f": {body.note}" if body.note else "."),
    )
    return _result(ctx, found, order)


async def receive(
    ctx: Context, return_id: str, body: ReturnReceive, if_match: int | None
) -> ReturnResult:
    """The parcel is back: record what came back and its disposition, restock, and refund
    (or exchange) the units that came back."""
    order, found = await _locked(ctx, return_id)
    check_version(order, if_match)
    if found.status != "approved":
        raise errors.ReturnNotApproved(
            f"Return {found.id} is {found.status}; only an approved return can be received.",
            return_status=found.status,
        )
    lines = {line.line_item_id: line for line in found.line_items}
    sent: dict[str, ReceiveLineIn | None] = {li.line_item_id: li for li in body.line_items}
    if not sent:
        sent = dict.fromkeys(lines)
    wrong = [
        line_id
        for line_id, li in sent.items()
        if line_id not in lines or (li is not None and li.quantity > lines[line_id].quantity)
    ]
    if wrong:
        raise errors.LineItemNotInReturn(
            f"Not in the return, or more units than it holds: {', '.join(wrong)}.",
            line_item_ids=wrong,
        )
    current = await fulfillments.current(ctx.session, order)
    _release(order, found)
    by_id = {li.id: li for li in order.line_items}
    came_back: dict[str, int] = {}
    restocked: list[tuple[LineItem, int]] = []
    for line_id, li in sent.items():
        line = lines[line_id]
        disposition = li.disposition.value if li else "restock"
        quantity = li.quantity if li else line.quantity
        line.disposition = disposition
        if disposition == "missing":
            continue
        line.received_quantity = quantity
        came_back[line_id] = quantity
        item = by_id[line_id]
        item.returned_quantity += quantity
        if disposition == "restock":
            now_restocked = min(quantity, item.quantity - item.restocked_quantity)
            item.restocked_quantity += now_restocked
            line.restocked_quantity = now_restocked
            if now_restocked:
                restocked.append((item, now_restocked))
    refund = await _settle(ctx, order, found, came_back, body.refund, body.deductions, current)
    found.status, found.received_at = "received", ctx.now
    received = ", ".join(
        f"{line.received_quantity} x {by_id[line.line_item_id].sku} ({line.disposition})"
        for line in found.line_items
        if line.disposition
    )
    await _changed(
        ctx,
        order,
        found,
        "return.received",
        f"Return {found.id} received: {received or 'nothing came back'}"
        + _money_text(found, refund)
        + (f": {body.note}" if body.note else "."),
        {"refund_id": found.refund_id, "exchange_order_id": found.exchange_order_id},
        refund=refund,
    )
    if restocked:
        await emit_restock(ctx, order, restocked, f"return {found.id}")
    return _result(ctx, found, order, refund)


async def close(
    ctx: Context, return_id: str, body: ReturnClose, if_match: int | None
) -> ReturnResult:
    """A received return is done; an approved claim (`items_required: false`) closes
    without receipt, refunding (or exchanging) its units."""
    order, found = await _locked(ctx, return_id)
    check_version(order, if_match)
    claim = found.status == "approved" and not found.items_required
    if found.status != "received" and not claim:
        raise errors.ReturnNotClosable(
            f"Return {found.id} is {found.status}: a return closes once received, or once "
            "approved as a claim (`items_required: false`).",
            return_status=found.status,
        )
    refund = None
    if claim:
        current = await fulfillments.current(ctx.session, order)
        _release(order, found)
        units = {line.line_item_id: line.quantity for line in found.line_items}
        refund = await _settle(ctx, order, found, units, body.refund, [], current)
    found.status, found.closed_at = "closed", ctx.now
    await _changed(
        ctx,
        order,
        found,
        "return.closed",
        f"Return {found.id} closed" + (" (claim)" if claim else "")
        + _money_text(found, refund)
        + (f": {body.note}" if body.note else "."),
        {"claim": claim, "refund_id": found.refund_id},
        refund=refund,
    )  # fmt: skip
    return _result(ctx, found, order, refund)


def _money_text(found: Return, refund: Refund | None) -> str:
    parts = []
    if refund is not None:
        parts.append(f"{money.display(refund.amount, found.currency)} refunded")
    if found.deducted_amount:
        parts.append(f"{money.display(found.deducted_amount, found.currency)} deducted")
    if found.exchange_order_id:
        parts.append(f"replacement order {found.exchange_order_id}")
    return "; " + ", ".join(parts) if parts else ""


async def _settle(
    ctx: Context,
    order: Order,
    found: Return,
    units: dict[str, int],
    refund: bool,
    deductions: Sequence[Any],
    current: list[Fulfillment],
) -> Refund | None:
    """The money for `units` the return is done with: the exchange order, or the refund
    (unless `refund` is false); the return's own units are already released."""
    if found.resolution == "exchange":
        if deductions:
            raise errors.DeductionExceedsRefundable("An exchange refunds nothing to deduct from.")
        if found.exchange_order_id is None:
            return await _exchange(ctx, order, found, units, held=_held(order))
        return None
    deducted = sum(d.amount for d in deductions)
    priced = policy.price(refunds.money_state(order), units, held=_held(order)) if refund else []
    net = policy.deduct(priced, deducted)
    if net is None:
        worth = sum(p.amount for p in priced)
        raise errors.DeductionExceedsRefundable(
            f"Deductions of {money.display(deducted, order.currency)} exceed the "
            f"{money.display(worth, order.currency)} the return refunds.",
            refundable_amount=worth,
        )
    if not net or order.total_paid == 0:
        return None
    by_id = {li.id: li for li in order.line_items}
    amount = sum(p.amount for p in net)
    new = refunds.NewRefund(
        lines=[refunds.RefundLine(by_id[p.line_item_id], p.quantity, p.amount, False) for p in net],
        amount=amount,
        method="store_credit" if found.resolution == "store_credit" else "original_payment",
        reason=_REFUND_REASONS.get(found.line_items[0].reason, "customer_request"),
        note=f"Return {found.id}.",
        notify_customer=found.notify_customer,
        override=found.override_policy,
        return_id=found.id,
    )
    created = await refunds.record_refund(ctx, order, new, current)
    refunded = {p.line_item_id: p.quantity for p in net}
    for line in found.line_items:
        line.refunded_quantity = refunded.get(line.line_item_id, 0)
    found.refund_id, found.refund_amount = created.id, amount
    found.deducted_amount = deducted
    found.deductions = [{"reason": d.reason.value, "amount": d.amount} for d in deductions]
    return created


async def _exchange(
    ctx: Context, order: Order, found: Return, units: dict[str, int], *, held: dict[str, int]
) -> Refund | None:
    """A new order for the replacement items, linked both ways, paid by the returned units'
    value (a `sale` with gateway `exchange`); what they are worth above its total is
    refunded on this order, what they are worth below it is the new order's `outstanding`."""
    priced = policy.price(refunds.money_state(order), units, held=held)
    worth = sum(p.amount for p in priced)
    draft = OrderCreate(
        customer=Customer(
            id=order.customer_id, email=order.customer_email, name=order.customer_name
        ),
        currency=order.currency,
        line_items=[LineItemIn.model_validate(li) for li in found.exchange_line_items],
        shipping_address=order.shipping_address,
        billing_address=order.billing_address,
        note=f"Exchange for return {found.id} of order #{order.number}.",
        tags=list(order.tags),
        source_name="exchange",
    )
    created = await order_service.create_order(ctx, draft, exchanged_from=order.id)
    total = int(created.fields["total"])
    credit = min(worth, total)
    if credit:
        await order_service.record_transaction(
            ctx,
            created.id,
            TransactionCreate(
                kind=TransactionKind.sale, amount=credit, gateway="exchange", reference=found.id
            ),
            None,
        )
    by_id = {li.id: li for li in order.line_items}
    for p in priced:
        by_id[p.line_item_id].exchanged_quantity += p.quantity
    order.total_exchange_credit += credit
    found.exchange_order_id, found.exchange_credit = created.id, credit
    exchanged = {p.line_item_id: p.quantity for p in priced}
    for line in found.line_items:
        line.refunded_quantity = exchanged.get(line.line_item_id, 0)
    if worth <= credit or order.total_paid == 0:
        return None
    new = refunds.NewRefund(
        amount=worth - credit,
        method="original_payment",
        reason="customer_request",
        note=f"Return {found.id}: the returned items were worth more than their replacement.",
        notify_customer=found.notify_customer,
        return_id=found.id,
    )
    refund = await refunds.record_refund(ctx, order, new)
    found.refund_id, found.refund_amount = refund.id, refund.amount
    return refund


def return_status(order: Order, returns: Sequence[Return]) -> str:
    statuses = {r.status for r in returns}
    if "approved" in statuses:
        return "in_progress"
    if "requested" in statuses:
        return "requested"
    units = ((li.shipped_quantity, li.returned_quantity) for li in order.line_items)
    return policy.settled_status(units)


async def _changed(
    ctx: Context,
    order: Order,
    found: Return,
    action: str,
    message: str,
    data: dict[str, Any] | None = None,
    *,
    refund: Refund | None = None,
) -> None:
    """After a change of `found`: the order's `return_status` and version, a timeline entry
    and the event, with what the customer's email needs."""
    found.updated_at = ctx.now
    await ctx.session.flush()
    order.return_status = return_status(order, await repository.of_order(ctx.session, order.id))
    touch(order, ctx.now)
    await ctx.session.flush()
    out = return_out(found, {li.id: li for li in order.line_items}, order.number)
    await timeline.record(
        ctx,
        order.id,
        action,
        message,
        {"return_id": found.id, "status": found.status, **(data or {})},
    )
    extra: dict[str, Any] = {"return": out.model_dump(mode="json")}
    if refund is not None:
        extra["refund"] = refunds.refund_out(refund, order).model_dump(mode="json")
    await publish(ctx, action, order, notify_customer=found.notify_customer, **extra)


def return_out(found: Return, lines: Mapping[str, LineItem], number: int) -> ReturnOut:
    return ReturnOut(
        id=found.id,
        order_id=found.order_id,
        order_number=number,
        status=found.status,
        resolution=found.resolution,
        line_items=[
            ReturnLineOut(
                line_item_id=line.line_item_id,
                sku=lines[line.line_item_id].sku,
                title=lines[line.line_item_id].title,
                unit_price=lines[line.line_item_id].unit_price,
                quantity=line.quantity,
                reason=line.reason,
                note=line.note,
                received_quantity=line.received_quantity,
                disposition=line.disposition,
                restocked_quantity=line.restocked_quantity,
                refunded_quantity=line.refunded_quantity,
            )
            for line in found.line_items
        ],
        exchange_line_items=[LineItemIn.model_validate(li) for li in found.exchange_line_items],
        currency=found.currency,
        expected_refund=found.expected_refund,
        customer_note=found.customer_note,
        note=found.note,
        override_policy=found.override_policy,
        notify_customer=found.notify_customer,
        items_required=found.items_required,
        ship_replacement_first=found.ship_replacement_first,
        return_shipping=(
            ReturnShipping.model_validate(found.return_shipping) if found.return_shipping else None
        ),
        return_by=found.return_by,
        decline_reason=found.decline_reason,
        refund_id=found.refund_id,
        refund_amount=found.refund_amount,
        deductions=[DeductionOut.model_validate(d) for d in found.deductions],
        exchange_order_id=found.exchange_order_id,
        exchange_credit=found.exchange_credit,
        created_by=ActorRef(id=found.actor_id, name=found.actor_name, role=found.actor_role),
        created_at=found.created_at,
        updated_at=found.updated_at,
        approved_at=found.approved_at,
        declined_at=found.declined_at,
        received_at=found.received_at,
        closed_at=found.closed_at,
        cancelled_at=found.cancelled_at,
    )


def _result(
    ctx: Context, found: Return, order: Order, refund: Refund | None = None
) -> ReturnResult:
    out = return_out(found, {li.id: li for li in order.line_items}, order.number)
    return ReturnResult(
        **dict(out),
        order=order_out(order, ctx.now, ctx.settings),
        refund=refunds.refund_out(refund, order) if refund else None,
    )


async def get_return(ctx: Context, return_id: str) -> ReturnOut:
    found = await repository.get(ctx.session, return_id)
    lines, numbers = await repository.lines_and_numbers(ctx.session, [found])
    return return_out(found, lines, numbers[found.order_id])


async def list_returns(
    ctx: Context, *, order_id: str | None, status: str | None, page: PageRequest
) -> ReturnList:
    found = await repository.list_returns(ctx.session, order_id=order_id, status=status, page=page)
    lines, numbers = await repository.lines_and_numbers(ctx.session, found.items)
    return ReturnList(
        data=[return_out(r, lines, numbers[r.order_id]) for r in found.items],
        next_cursor=found.next_cursor,
    )


async def order_returns(ctx: Context, order_id: str, page: PageRequest) -> ReturnList:
    """The order's returns, oldest first (404 when there is no such order)."""
    found = await repository.list_returns(
        ctx.session, order_id=order_id, status=None, page=page, oldest_first=True
    )
    if not found.items:
        await repository.check_order(ctx.session, order_id)
    lines, numbers = await repository.lines_and_numbers(ctx.session, found.items)
    return ReturnList(
        data=[return_out(r, lines, numbers[r.order_id]) for r in found.items],
        next_cursor=found.next_cursor,
    )
