"""Refund use cases. Every one locks the order row first, so concurrent refunds,
cancellations and settlements of one order run one after another and the limits hold."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, assert_never

from order_service.auth.actor import Actor
from order_service.context import Context
from order_service.edits import policy as edit_policy
from order_service.fulfillments import service as fulfillments
from order_service.fulfillments.models import Fulfillment
from order_service.kit import metrics, money, times
from order_service.kit.errors import DomainError
from order_service.kit.ids import new_id
from order_service.kit.pagination import PageRequest
from order_service.orders import repository as orders
from order_service.orders import timeline
from order_service.orders.models import LineItem, Order, PaymentTransaction
from order_service.orders.service import (
    check_version,
    emit_restock,
    follow_money,
    publish,
    touch,
)
from order_service.refunds import errors, policy, repository
from order_service.refunds.models import Refund, RefundLineItem
from order_service.refunds.policy import RefundRefusal
from order_service.refunds.schemas import (
    ActorRef,
    LinePreview,
    RefundCreate,
    RefundLineOut,
    RefundList,
    RefundOut,
    RefundPreview,
    RefundRetry,
    RefundSettle,
    ShippingPreview,
)
from order_service.returns import repository as returns
from order_service.settings import Settings


def money_state(order: Order) -> policy.OrderMoney:
    return policy.OrderMoney(
        lines=[
            policy.Line(
                id=li.id,
                quantity=li.quantity,
                unit_price=li.unit_price,
                refundable=li.refundable,
                refunded_quantity=li.refunded_quantity
                + li.refund_pending_quantity
                + li.exchanged_quantity,
                held_quantity=li.return_requested_quantity,
            )
            for li in order.line_items
        ],
        subtotal=order.subtotal,
        shipping_total=order.shipping_total,
        tax_total=order.tax_total,
        discount_total=order.discount_total,
        taxes_included=order.taxes_included,
        paid=order.total_paid,
        refunded=order.total_refunded + order.total_refund_pending + order.total_exchange_credit,
        shipping_refunded=order.shipping_refunded + order.shipping_refund_pending,
        processed_at=order.processed_at,
        delivered_at=order.delivered_at,
        shipped=any(li.shipped_quantity for li in order.line_items),
    )


def _request(body: RefundCreate) -> policy.Request:
    return policy.Request(
        lines=[policy.LineRequest(li.line_item_id, li.quantity) for li in body.line_items],
        shipping_full=bool(body.shipping and body.shipping.full),
        shipping_amount=body.shipping.amount if body.shipping else None,
        goodwill=body.amount or 0,
        override=body.override_policy,
    )


def _check_caller(body: RefundCreate, actor: Actor) -> None:
    if body.override_policy:
        if not actor.is_merchant:
            raise errors.OverrideNotAllowed(
                "Storefront keys act for customers: the refund policy always applies."
            )
        if not (body.note and body.note.strip()):
            raise errors.OverrideRequiresNote(
                "Say in `note` why the policy is overridden; it goes on the order's timeline."
            )
    if body.amount and not actor.is_merchant:
        raise errors.GoodwillNotAllowed("Goodwill amounts need an ops or admin key.")


def _decide(order: Order, body: RefundCreate, now: datetime, settings: Settings) -> policy.Decision:
    return policy.decide(money_state(order), _request(body), now=now, window=settings.refund_window)


def refusal(decision: policy.Decision, currency: str) -> DomainError:
    """The problem for a refused refund: its first reason names it, and it lists them all."""
    extra: dict[str, Any] = {
        "codes": decision.codes,
        "refundable_amount": decision.available,
        "lines": [
            {"line_item_id": d.line_item_id, "code": d.code} for d in decision.lines if d.code
        ],
    }
    code = decision.codes[0]
    match code:
        case RefundRefusal.refund_exceeds_refundable:
            return errors.RefundExceedsRefundable(
                f"At most {money.display(decision.available, currency)} can still be refunded "
                "on this order, and no line more units than were bought and not yet refunded.",
                **extra,
            )
        case RefundRefusal.refund_window_expired:
            return errors.RefundWindowExpired(
                "The refund window for this order has passed.", **extra
            )
        case RefundRefusal.item_not_refundable:
            return errors.ItemNotRefundable("A requested item is final sale.", **extra)
        case RefundRefusal.line_item_not_found:
            return errors.LineItemNotFound(
                "A requested line_item_id is not on this order.", **extra
            )
        case RefundRefusal.shipping_not_refundable:
            return errors.ShippingNotRefundable(
                "Shipping is refundable only before anything has shipped.", **extra
            )
        case RefundRefusal.order_not_paid:
            return errors.OrderNotPaid(
                "Nothing has been captured on this order, so nothing can be refunded; "
                "void the authorisation or cancel the order instead.",
                **extra,
            )
        case RefundRefusal.refund_empty:
            return errors.RefundEmpty("Name line_items, shipping or an amount to refund.", **extra)
        case _:
            assert_never(code)


def preview_out(
    order: Order, decision: policy.Decision, body: RefundCreate, settings: Settings
) -> RefundPreview:
    return RefundPreview(
        amount=decision.amount,
        currency=order.currency,
        line_items=[
            LinePreview(
                line_item_id=d.line_item_id,
                quantity=d.quantity,
                amount=d.amount,
                eligible=d.eligible,
                code=d.code,
            )
            for d in decision.lines
        ],
        shipping=ShippingPreview(
            amount=decision.shipping,
            eligible=decision.shipping_eligible,
            code=decision.shipping_code,
        ),
        goodwill_amount=decision.goodwill,
        eligible=decision.allowed,
        codes=decision.codes,
        refundable_amount=decision.available,
        refund_window_ends_at=policy.window_ends(money_state(order), settings.refund_window),
        expected_processing_time=policy.PROCESSING_TIME[body.method.value][0],
    )


async def calculate(ctx: Context, order_id: str, body: RefundCreate) -> RefundPreview:
    _check_caller(body, ctx.actor)
    order = await orders.get(ctx.session, order_id)
    return preview_out(order, _decide(order, body, ctx.now, ctx.settings), body, ctx.settings)


@dataclass(frozen=True, slots=True)
class RefundLine:
    line: LineItem
    quantity: int
    amount: int
    restock: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class NewRefund:
    """A refund to record, priced and checked by its caller: a refund request, a
    cancellation, an edit that lowered the total, or a return."""

    amount: int
    method: str
    reason: str
    note: str | None
    notify_customer: bool
    lines: list[RefundLine] = field(default_factory=list)
    shipping: int = 0
    goodwill: int = 0
    override: bool = False
    return_id: str | None = None
    """The return it pays for: its units had shipped, so refunding them leaves every other
    unit owed (`return_refunded_quantity`)."""
    retry_of: str | None = None
    """The failed refund this one replaces."""


async def record_refund(
    ctx: Context,
    order: Order,
    new: NewRefund,
    known_fulfillments: list[Fulfillment] | None = None,
) -> Refund:
    """Write a pending refund and hold its money and units; the caller holds the order lock
    and has checked the limits (the CHECK constraints are the last guard).
    `known_fulfillments`: the order's, if the caller has them (`fulfillments.current`)."""
    row: dict[str, Any] = {
        "id": new_id("rf"),
        "order_id": order.id,
        "status": "pending",
        "amount": new.amount,
        "shipping_amount": new.shipping,
        "goodwill_amount": new.goodwill,
        "currency": order.currency,
        "method": new.method,
        "reason": new.reason,
        "note": new.note,
        "notify_customer": new.notify_customer,
        "override_policy": new.override,
        "actor_id": ctx.actor.id,
        "actor_name": ctx.actor.name,
        "actor_role": ctx.actor.role.value,
        "created_at": ctx.now,
        "return_id": new.return_id,
        "retry_of": new.retry_of,
    }
    line_rows: list[dict[str, Any]] = []
    restocked: list[tuple[LineItem, int]] = []
    for position, item in enumerate(new.lines):
        restock_now = 0
        if item.restock:
            restock_now = min(item.quantity, item.line.quantity - item.line.restocked_quantity)
            item.line.restocked_quantity += restock_now
            if restock_now:
                restocked.append((item.line, restock_now))
        item.line.refund_pending_quantity += item.quantity
        if new.return_id is not None:
            item.line.return_refunded_quantity += item.quantity
        line_rows.append(
            {
                "refund_id": row["id"],
                "line_item_id": item.line.id,
                "position": position,
                "quantity": item.quantity,
                "amount": item.amount,
                "restock": item.restock,
                "restocked_quantity": restock_now,
            }
        )
    order.total_refund_pending += new.amount
    order.shipping_refund_pending += new.shipping
    touch(order, ctx.now)
    await fulfillments.recount(ctx, order, known_fulfillments)
    await _insert(ctx, row, line_rows)
    # Presented from what was written; never added to the session (the rows are above).
    refund = Refund(**row, line_items=[RefundLineItem(**line) for line in line_rows])
    metrics.on_commit(ctx.session, metrics.REFUNDED_AMOUNT, new.amount, currency=order.currency)
    payload = refund_out(refund, order)
    await timeline.record(
        ctx,
        order.id,
        "refund.created",
        f"Refund of {money.display(new.amount, order.currency)} to "
        f"{new.method.replace('_', ' ')} requested"
        + (f" in place of failed refund {new.retry_of}" if new.retry_of else "")
        + (" (refund policy overridden)" if new.override else "")
        + (f": {new.note}" if new.note else "."),
        {
            "refund_id": refund.id,
            "amount": new.amount,
            "override_policy": new.override,
            "reason": new.reason,
            "return_id": new.return_id,
            "retry_of": new.retry_of,
        },
    )
    await publish(
        ctx,
        "refund.created",
        order,
        refund=payload.model_dump(mode="json"),
        notify_customer=new.notify_customer,
    )
    if restocked:
        await emit_restock(ctx, order, restocked, f"refund {refund.id}")
    return refund


async def _insert(ctx: Context, row: dict[str, Any], lines: list[dict[str, Any]]) -> None:
    """The refund and its lines, held in the request's outbox for its last statement (the
    ORM's unit of work for them was a fifth of a refund's API CPU), else inserted at once.
    Nothing reads them back before the request ends; the CHECK constraints and the
    one-cancellation index hold either way."""
    if ctx.outbox is None:
        await repository.insert(ctx.session, row, lines)
        return
    ctx.outbox.hold("refund", repository.INSERT, row)
    for line in lines:
        ctx.outbox.hold("refund_lines", repository.INSERT_LINE, line)


async def create_refund(
    ctx: Context, order_id: str, body: RefundCreate, if_match: int | None
) -> tuple[Refund, Order]:
    _check_caller(body, ctx.actor)
    order = await orders.get(ctx.session, order_id, lock=True)
    check_version(order, if_match)
    decision = _decide(order, body, ctx.now, ctx.settings)
    if not decision.allowed:
        raise refusal(decision, order.currency)
    # Read before anything changes, so reading them costs no flush of its own.
    current = await fulfillments.current(ctx.session, order)
    by_id = {li.id: li for li in order.line_items}
    lines = [
        RefundLine(by_id[req.line_item_id], req.quantity, d.amount, req.restock)
        for req, d in zip(body.line_items, decision.lines, strict=True)
    ]
    new = NewRefund(
        lines=lines,
        shipping=decision.shipping,
        goodwill=decision.goodwill,
        amount=decision.amount,
        method=body.method.value,
        reason=body.reason.value,
        note=body.note,
        notify_customer=body.notify_customer,
        override=body.override_policy,
    )
    refund = await record_refund(ctx, order, new, current)
    return refund, order


async def settle(
    ctx: Context, refund_id: str, body: RefundSettle, if_match: int | None
) -> tuple[Refund, Order]:
    """The payments service reports the outcome. Success moves the money from pending to
    refunded; failure releases it (and the units) for another refund."""
    found = await repository.get(ctx.session, refund_id)
    order = await orders.get(ctx.session, found.order_id, lock=True)
    check_version(order, if_match)
    refund = await repository.get(ctx.session, refund_id, lock=True)
    if refund.status != "pending":
        raise errors.RefundAlreadySettled(
            f"Refund {refund.id} already {refund.status}"
            + (f" at {times.rfc3339(refund.settled_at)}." if refund.settled_at else "."),
            refund_status=refund.status,
        )
    succeeded = body.status == "succeeded"
    by_id = {li.id: li for li in order.line_items}
    order.total_refund_pending -= refund.amount
    order.shipping_refund_pending -= refund.shipping_amount
    for item in refund.line_items:
        line = by_id[item.line_item_id]
        line.refund_pending_quantity -= item.quantity
        if succeeded:
            line.refunded_quantity += item.quantity
        elif refund.return_id is not None:
            line.return_refunded_quantity -= item.quantity
    if succeeded:
        order.total_refunded += refund.amount
        order.shipping_refunded += refund.shipping_amount
        ctx.session.add(
            PaymentTransaction(
                id=new_id("txn"),
                order_id=order.id,
                kind="refund",
                status="success",
                amount=refund.amount,
                fee=0,
                currency=order.currency,
                gateway=order.payment_gateway,
                reference=body.reference,
                created_at=ctx.now,
            )
        )
    elif refund.reason == "order_edited":
        # The shop owes the customer again what the edit lowered the total by.
        order.total_edit_refunds -= refund.amount
    # Either outcome can move it: a success refunds, a failed edit refund changes what the
    # customer owes.
    follow_money(order)
    refund.status = body.status
    refund.reference = body.reference
    refund.failure_reason = body.failure_reason
    refund.settled_at = ctx.now
    touch(order, ctx.now)
    if not succeeded:
        await fulfillments.recount(ctx, order)
    await ctx.session.flush()
    await timeline.record(
        ctx,
        order.id,
        f"refund.{body.status}",
        f"Refund of {money.display(refund.amount, order.currency)} "
        + ("succeeded." if succeeded else f"failed: {body.failure_reason or 'no reason given'}."),
        {"refund_id": refund.id, "reference": body.reference},
    )
    await publish(
        ctx,
        f"refund.{body.status}",
        order,
        refund=refund_out(refund, order).model_dump(mode="json"),
        notify_customer=refund.notify_customer,
    )
    return refund, order


async def retry(
    ctx: Context, refund_id: str, body: RefundRetry, if_match: int | None
) -> tuple[Refund, Order]:
    """A new pending refund in place of a failed one: the same amount, units, shipping,
    reason and return, within the limits but not the policy (the customer is owed it)."""
    found = await repository.get(ctx.session, refund_id)
    order = await orders.get(ctx.session, found.order_id, lock=True)
    check_version(order, if_match)
    # Read again under the order's lock, which settling and retrying it take first.
    failed = await repository.get(ctx.session, refund_id, lock=True)
    if failed.status != "failed":
        raise errors.RefundNotFailed(
            f"Refund {failed.id} is {failed.status}; only a failed refund can be retried.",
            refund_status=failed.status,
        )
    if retried := await repository.retry_of(ctx.session, failed.id):
        raise errors.RefundAlreadyRetried(
            f"Refund {failed.id} was retried by refund {retried}; retry that one if it failed.",
            retry_id=retried,
        )
    edited = failed.reason == "order_edited"
    owed = (
        -edit_policy.outstanding(
            total=order.total, paid=order.total_paid, edit_refunds=order.total_edit_refunds
        )
        if edited
        else None
    )
    decision = policy.decide_retry(
        money_state(order),
        [
            policy.PricedLine(item.line_item_id, item.quantity, item.amount)
            for item in failed.line_items
        ],
        shipping=failed.shipping_amount,
        goodwill=failed.goodwill_amount,
        amount=failed.amount,
        owed=owed,
    )
    if not decision.allowed:
        raise refusal(decision, order.currency)
    current = await fulfillments.current(ctx.session, order)
    by_id = {li.id: li for li in order.line_items}
    new = NewRefund(
        # Units the failed refund restocked stay restocked; none is restocked twice.
        lines=[
            RefundLine(by_id[item.line_item_id], item.quantity, item.amount, restock=False)
            for item in failed.line_items
        ],
        shipping=failed.shipping_amount,
        goodwill=failed.goodwill_amount,
        amount=failed.amount,
        method=(body.method.value if body.method else failed.method),
        reason=failed.reason,
        note=failed.note if body.note is None else body.note,
        notify_customer=(
            failed.notify_customer if body.notify_customer is None else body.notify_customer
        ),
        override=failed.override_policy,
        return_id=failed.return_id,
        retry_of=failed.id,
    )
    if edited:
        # Counted as the edit's refund again, as the failure stopped counting it; before
        # it is recorded, so its events show the order as it will be.
        order.total_edit_refunds += failed.amount
        follow_money(order)
    refund = await record_refund(ctx, order, new, current)
    if failed.return_id:
        await returns.replace_refund(
            ctx.session, failed.return_id, failed.id, refund.id, now=ctx.now
        )
    return refund, order


async def get_refund(ctx: Context, refund_id: str) -> RefundOut:
    refund = await repository.get(ctx.session, refund_id)
    return refund_out(refund, await repository.lines_of(ctx.session, [refund]))


async def list_refunds(
    ctx: Context, *, order_id: str | None, status: str | None, page: PageRequest
) -> RefundList:
    result = await repository.list_refunds(ctx.session, order_id=order_id, status=status, page=page)
    lines = await repository.lines_of(ctx.session, result.items)
    return RefundList(
        data=[refund_out(r, lines) for r in result.items], next_cursor=result.next_cursor
    )


async def order_refunds(ctx: Context, order_id: str, page: PageRequest) -> RefundList:
    """The order's refunds (404 when there is no such order)."""
    order = await orders.get(ctx.session, order_id)
    result = await repository.list_refunds(ctx.session, order_id=order_id, status=None, page=page)
    return RefundList(
        data=[refund_out(r, order) for r in result.items], next_cursor=result.next_cursor
    )


def refund_out(refund: Refund, order_or_lines: Order | Mapping[str, LineItem]) -> RefundOut:
    by_id = (
        {li.id: li for li in order_or_lines.line_items}
        if isinstance(order_or_lines, Order)
        else order_or_lines
    )
    text, days = policy.PROCESSING_TIME[refund.method]
    return RefundOut(
        id=refund.id,
        order_id=refund.order_id,
        status=refund.status,
        amount=refund.amount,
        currency=refund.currency,
        line_items=[
            RefundLineOut(
                line_item_id=item.line_item_id,
                sku=by_id[item.line_item_id].sku,
                title=by_id[item.line_item_id].title,
                quantity=item.quantity,
                amount=item.amount,
                restock=item.restock,
                restocked_quantity=item.restocked_quantity,
            )
            for item in refund.line_items
        ],
        shipping_amount=refund.shipping_amount,
        goodwill_amount=refund.goodwill_amount,
        method=refund.method,
        reason=refund.reason,
        note=refund.note,
        notify_customer=refund.notify_customer,
        override_policy=refund.override_policy,
        created_by=ActorRef(id=refund.actor_id, name=refund.actor_name, role=refund.actor_role),
        expected_processing_time=text,
        expected_processing_days=days,
        reference=refund.reference,
        failure_reason=refund.failure_reason,
        created_at=refund.created_at,
        settled_at=refund.settled_at,
        return_id=refund.return_id,
        retry_of=refund.retry_of,
    )
