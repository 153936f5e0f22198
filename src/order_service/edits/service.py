"""Editing an order: the policy check and every effect — lines, totals, the refund of a
lower total, restock, fulfilment status, timeline and events — in one transaction under
the order's row lock, so edits serialise with each other and with cancellations,
fulfilments and refunds of the same order."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, assert_never

from sqlalchemy.ext.asyncio import AsyncSession

from order_service.auth.actor import Actor
from order_service.cancellations import errors as cancel_errors
from order_service.context import Context
from order_service.edits import errors, policy, repository
from order_service.edits.models import OrderEdit
from order_service.edits.policy import EditRefusal
from order_service.edits.schemas import (
    EditList,
    EditOut,
    EditPreview,
    EditReason,
    EditRequest,
    EditResult,
    FieldChange,
    LineChange,
    RefundPlan,
)
from order_service.fulfillments import service as fulfillments
from order_service.kit import errors as common
from order_service.kit import money, times
from order_service.kit.ids import new_id
from order_service.kit.pagination import PageRequest
from order_service.orders import repository as orders
from order_service.orders import timeline
from order_service.orders.models import LineItem, Order
from order_service.orders.policy import financial_status
from order_service.orders.presenter import order_fields, order_out
from order_service.orders.schemas import OrderOut
from order_service.orders.service import (
    check_version,
    emit_restock,
    invalid,
    new_line,
    publish,
    touch,
)
from order_service.refunds import errors as refund_errors
from order_service.refunds import service as refunds
from order_service.refunds.models import Refund
from order_service.refunds.schemas import ActorRef
from order_service.settings import Settings

MAX_LINES = 250
_REPLACEABLE = ("shipping_lines", "tax_lines", "discounts")


def _check_caller(body: EditRequest, actor: Actor) -> None:
    if actor.is_merchant:
        return
    if body.shipping_lines is not None:
        raise errors.EditFieldNotAllowed(
            "Storefront keys change quantities, lines, the shipping address, tax lines and "
            "discounts; shipping lines need an ops or admin key."
        )
    if not body.refund:
        raise cancel_errors.RefundRequired(
            "A customer's edit always refunds what they paid above the new total."
        )


def _state(order: Order) -> policy.OrderState:
    return policy.OrderState(
        status=order.status,
        fulfillment_status=order.fulfillment_status,
        processed_at=order.processed_at,
        lines=[
            policy.Line(
                id=li.id,
                quantity=li.quantity,
                unit_price=li.unit_price,
                fulfilled_quantity=li.fulfilled_quantity,
                shipped_quantity=li.shipped_quantity,
                refunded_quantity=li.refunded_quantity + li.refund_pending_quantity,
                restocked_quantity=li.restocked_quantity,
            )
            for li in order.line_items
        ],
        shipping=[line["price"] for line in order.shipping_lines],
        taxes=[line["amount"] for line in order.tax_lines],
        discounts=[line["amount"] for line in order.discounts],
        taxes_included=order.taxes_included,
        total=order.total,
        paid=order.total_paid,
        refunded=order.total_refunded + order.total_refund_pending,
        edit_refunds=order.total_edit_refunds,
    )


def _request(order: Order, body: EditRequest) -> policy.Request:
    known = {li.id for li in order.line_items}
    unknown = [li.line_item_id for li in body.line_items if li.line_item_id not in known]
    if unknown:
        raise refund_errors.LineItemNotFound(
            f"Not a line of this order: {', '.join(unknown)}.", line_item_ids=unknown
        )
    return policy.Request(
        quantities={li.line_item_id: li.quantity for li in body.line_items},
        added=[(li.quantity, li.unit_price) for li in body.add_line_items],
        shipping=None if body.shipping_lines is None else [s.price for s in body.shipping_lines],
        taxes=None if body.tax_lines is None else [t.amount for t in body.tax_lines],
        discounts=None if body.discounts is None else [d.amount for d in body.discounts],
        refund=body.refund,
    )


def refusal(
    code: EditRefusal,
    order: Order,
    settings: Settings,
    lines: Sequence[policy.LineOutcome] = (),
) -> common.DomainError:
    match code:
        case EditRefusal.order_not_open:
            return common.OrderNotOpen(f"Order #{order.number} is {order.status}.")
        case EditRefusal.order_in_fulfillment:
            return cancel_errors.OrderInFulfillment(
                "The order is being picked or shipped; contact support to change it."
            )
        case EditRefusal.edit_window_expired:
            return errors.EditWindowExpired(
                "Orders can be edited by the customer within "
                f"{times.duration(settings.edit_window)} of being placed; that time has passed."
            )
        case EditRefusal.line_item_not_editable:
            below = [line for line in lines if line.quantity_after < line.minimum]
            return errors.LineItemNotEditable(
                "A line cannot go below the units already picked, shipped or refunded: "
                + ", ".join(f"{line.line_item_id} keeps at least {line.minimum}" for line in below)
                + ".",
                lines=[
                    {"line_item_id": line.line_item_id, "minimum_quantity": line.minimum}
                    for line in below
                ],
            )
        case EditRefusal.edit_empties_order:
            return errors.EditEmptiesOrder(
                "The edit would leave no item on the order; cancel the order instead."
            )
        case _:
            assert_never(code)


@dataclass(slots=True)
class Plan:
    """What the edit does, computed once and applied to the order's rows (a commit) or to
    copies of them (a preview)."""

    decision: policy.Decision
    quantities: dict[str, int]
    added: list[dict[str, Any]]
    """New line item rows."""
    values: dict[str, Any]
    """New values of the order's columns."""
    changes: list[LineChange] = field(default_factory=list)
    field_changes: list[FieldChange] = field(default_factory=list)


def _plan(ctx: Context, order: Order, body: EditRequest) -> Plan:
    """Check the request against the order and the policy and work out its effect;
    the policy's refusal is in `decision.code` (input errors are raised)."""
    _check_caller(body, ctx.actor)
    decision = policy.decide(
        _state(order),
        _request(order, body),
        merchant=ctx.actor.is_merchant,
        now=ctx.now,
        window=ctx.settings.edit_window,
    )
    if decision.totals.total < 0:
        raise invalid("discounts", "discounts exceed the order's subtotal and shipping")
    by_id = {li.id: li for li in order.line_items}
    changes = []
    for outcome in decision.lines:
        line = by_id[outcome.line_item_id]
        removed = max(outcome.quantity_before - outcome.quantity_after, 0)
        changes.append(
            LineChange(
                line_item_id=line.id,
                sku=line.sku,
                title=line.title,
                quantity_before=outcome.quantity_before,
                quantity_after=outcome.quantity_after,
                amount_delta=outcome.amount_delta,
                restocked_quantity=removed if body.restock else 0,
            )
        )
    position = max((li.position for li in order.line_items), default=-1) + 1
    added = []
    for offset, li in enumerate(body.add_line_items):
        row = new_line(order.id, position + offset, li, order.processed_at)
        added.append(row)
        changes.append(
            LineChange(
                line_item_id=row["id"],
                sku=li.sku,
                title=li.title,
                quantity_before=0,
                quantity_after=li.quantity,
                amount_delta=li.quantity * li.unit_price,
                restocked_quantity=0,
            )
        )
    values: dict[str, Any] = {}
    field_changes = []
    sent: dict[str, Any] = {}
    if body.shipping_address is not None:
        sent["shipping_address"] = body.shipping_address.model_dump()
    for name in _REPLACEABLE:
        if (lines := getattr(body, name)) is not None:
            sent[name] = [line.model_dump() for line in lines]
    for name, after in sent.items():
        before = getattr(order, name)
        if after != before:
            values[name] = after
            field_changes.append(FieldChange(field=name, before=before, after=after))
    if not changes and not field_changes:
        raise errors.EditEmpty("Nothing in the request differs from the order as it is.")
    quantities = {o.line_item_id: o.quantity_after for o in decision.lines}
    left = sum(1 for li in order.line_items if quantities.get(li.id, li.quantity)) + len(added)
    if left > MAX_LINES:
        raise invalid("add_line_items", f"an order has at most {MAX_LINES} lines with units")
    totals = decision.totals
    edit_refunds = order.total_edit_refunds + decision.refund
    values |= {
        "subtotal": totals.subtotal,
        "shipping_total": totals.shipping_total,
        "tax_total": totals.tax_total,
        "discount_total": totals.discount_total,
        "total": totals.total,
        "total_edit_refunds": edit_refunds,
        "financial_status": financial_status(
            total=totals.total,
            authorized=order.total_authorized,
            paid=order.total_paid,
            refunded=order.total_refunded,
            edit_refunds=edit_refunds,
            current=order.financial_status,
        ),
    }
    return Plan(decision, quantities, added, values, changes, field_changes)


def _reason(body: EditRequest, actor: Actor) -> EditReason:
    return body.reason or (EditReason.other if actor.is_merchant else EditReason.customer_request)


async def calculate(ctx: Context, order_id: str, body: EditRequest) -> EditPreview:
    """What the edit would do, and whether the caller may make it now; writes nothing."""
    order = await orders.get(ctx.session, order_id)
    plan = _plan(ctx, order, body)
    columns = [c.key for c in Order.__table__.columns]
    row = {key: getattr(order, key) for key in columns} | plan.values
    line_columns = [c.key for c in LineItem.__table__.columns]
    lines = [
        {key: getattr(li, key) for key in line_columns}
        | ({"quantity": plan.quantities[li.id]} if li.id in plan.quantities else {})
        for li in order.line_items
    ] + plan.added
    decision = plan.decision
    refund = (
        RefundPlan(amount=decision.refund, currency=order.currency, method=body.refund_method)
        if decision.refund
        else None
    )
    return EditPreview(
        order_id=order.id,
        changes=plan.changes,
        field_changes=plan.field_changes,
        total_before=order.total,
        total_after=decision.totals.total,
        outstanding_before=decision.outstanding_before,
        outstanding_after=decision.outstanding_after,
        currency=order.currency,
        reason=_reason(body, ctx.actor),
        note=body.note,
        restock=body.restock,
        notify_customer=body.notify_customer,
        refund=refund,
        order=OrderOut.model_validate(order_fields(row, lines, ctx.now, ctx.settings)),
        editable=decision.editable,
        code=decision.code,
    )


async def edit(
    ctx: Context, order_id: str, body: EditRequest, if_match: int | None
) -> tuple[EditOut, Order]:
    order = await orders.get(ctx.session, order_id, lock=True)
    check_version(order, if_match)
    plan = _plan(ctx, order, body)
    decision = plan.decision
    if decision.code is not None:
        raise refusal(decision.code, order, ctx.settings, decision.lines)
    total_before = order.total
    # Read once under the lock, before anything changes (reading them flushes).
    current = await fulfillments.current(ctx.session, order)
    restocked: list[tuple[LineItem, int]] = []
    for li in order.line_items:
        if li.id in plan.quantities:
            removed = max(li.quantity - plan.quantities[li.id], 0)
            li.quantity = plan.quantities[li.id]
            li.removed_quantity += removed
            if removed and body.restock:
                restocked.append((li, removed))
    order.line_items.extend(LineItem(**row) for row in plan.added)
    for column, value in plan.values.items():
        setattr(order, column, value)
    # The version moves before any event of this change shows the order.
    touch(order, ctx.now)
    await fulfillments.recount(ctx, order, current, why="the order was edited")
    edit_id = new_id("edit")
    refund: Refund | None = None
    if decision.refund:
        new = refunds.NewRefund(
            amount=decision.refund,
            method=body.refund_method.value,
            reason="order_edited",
            note=body.note or f"Order edit {edit_id} lowered the total.",
            notify_customer=body.notify_customer,
        )
        refund = await refunds.record_refund(ctx, order, new, current)
    await ctx.session.flush()
    row = {
        "id": edit_id,
        "order_id": order.id,
        "reason": _reason(body, ctx.actor).value,
        "note": body.note,
        "changes": [change.model_dump(mode="json") for change in plan.changes],
        "field_changes": [change.model_dump(mode="json") for change in plan.field_changes],
        "total_before": total_before,
        "total_after": order.total,
        "outstanding_before": decision.outstanding_before,
        "outstanding_after": decision.outstanding_after,
        "currency": order.currency,
        "refund_id": refund.id if refund else None,
        "restock": body.restock,
        "refund": body.refund,
        "notify_customer": body.notify_customer,
        "actor_id": ctx.actor.id,
        "actor_name": ctx.actor.name,
        "actor_role": ctx.actor.role.value,
        "created_at": ctx.now,
    }
    await ctx.insert("order_edit", repository.INSERT, row)
    out = edit_out(OrderEdit(**row), refund)
    await timeline.record(
        ctx,
        order.id,
        "order.edited",
        _describe(out, ctx.actor),
        {
            "edit_id": edit_id,
            "reason": out.reason.value,
            "changes": row["changes"],
            "fields": [change.field for change in plan.field_changes],
            "total": {"from": out.total_before, "to": out.total_after},
            "outstanding": {"from": out.outstanding_before, "to": out.outstanding_after},
            "refund_id": row["refund_id"],
        },
    )
    await publish(
        ctx,
        "order.edited",
        order,
        edit=out.model_dump(mode="json"),
        notify_customer=body.notify_customer,
    )
    if restocked:
        await emit_restock(ctx, order, restocked, f"edit {edit_id}")
    return out, order


def _describe(edit: EditOut, actor: Actor) -> str:
    """The timeline's sentence: who changed what, and the money."""
    parts = []
    for change in edit.changes:
        if change.quantity_before == 0:
            parts.append(f"added {change.quantity_after} x {change.sku}")
        elif change.quantity_after == 0:
            parts.append(f"removed {change.sku}")
        else:
            parts.append(f"{change.sku} {change.quantity_before} → {change.quantity_after}")
    parts += [change.field.replace("_", " ") for change in edit.field_changes]
    currency = edit.currency
    text = (
        f"Edited by {actor.name} ({actor.role.value}): {', '.join(parts)}; total "
        f"{money.display(edit.total_before, currency)} → "
        f"{money.display(edit.total_after, currency)}"
    )
    if edit.refund:
        text += f", {money.display(edit.refund.amount, currency)} refunded"
    if edit.outstanding_after:
        text += f", outstanding {money.display(edit.outstanding_after, currency)}"
    return text + (f": {edit.note}" if edit.note else ".")


def edit_out(edit: OrderEdit, refund: Refund | None) -> EditOut:
    return EditOut(
        id=edit.id,
        order_id=edit.order_id,
        changes=[LineChange.model_validate(change) for change in edit.changes],
        field_changes=[FieldChange.model_validate(change) for change in edit.field_changes],
        total_before=edit.total_before,
        total_after=edit.total_after,
        outstanding_before=edit.outstanding_before,
        outstanding_after=edit.outstanding_after,
        currency=edit.currency,
        reason=EditReason(edit.reason),
        note=edit.note,
        restock=edit.restock,
        notify_customer=edit.notify_customer,
        refund=refunds.refund_out(refund, {}) if refund else None,
        created_by=ActorRef(id=edit.actor_id, name=edit.actor_name, role=edit.actor_role),
        created_at=edit.created_at,
    )


def result(ctx: Context, edit: EditOut, order: Order) -> EditResult:
    return EditResult(**dict(edit), order=order_out(order, ctx.now, ctx.settings))


async def list_edits(session: AsyncSession, order_id: str, *, page: PageRequest) -> EditList:
    found = await repository.list_for_order(session, order_id, page=page)
    by_id = await repository.refunds_of(session, found.items)
    return EditList(
        data=[
            edit_out(edit, by_id.get(edit.refund_id) if edit.refund_id else None)
            for edit in found.items
        ],
        next_cursor=found.next_cursor,
    )
