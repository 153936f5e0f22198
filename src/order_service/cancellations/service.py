"""Cancelling an order: the policy check and every effect, in one transaction under the
order's row lock, so ten concurrent cancels give one cancellation, one refund, one restock."""

from __future__ import annotations

from typing import assert_never

from order_service.cancellations import errors, policy
from order_service.cancellations.policy import CancellationRefusal
from order_service.cancellations.schemas import (
    Cancellation,
    CancelReason,
    CancelRequest,
    Party,
)
from order_service.context import Context
from order_service.fulfillments import service as fulfillments
from order_service.fulfillments.models import Fulfillment
from order_service.kit import errors as common
from order_service.kit import metrics, times
from order_service.kit.ids import new_id
from order_service.orders import repository as orders
from order_service.orders import timeline
from order_service.orders.models import LineItem, Order, PaymentTransaction
from order_service.orders.presenter import cancellation_state
from order_service.orders.service import (
    check_version,
    emit_restock,
    follow_money,
    publish,
    touch,
)
from order_service.refunds import policy as refund_policy
from order_service.refunds import service as refunds
from order_service.refunds.models import Refund
from order_service.refunds.schemas import RefundOut
from order_service.settings import Settings


def decision_for(ctx: Context, order: Order) -> policy.Decision:
    return policy.decide(
        cancellation_state(order),
        merchant=ctx.actor.is_merchant,
        now=ctx.now,
        window=ctx.settings.customer_cancel_window,
    )


async def status(ctx: Context, order_id: str) -> Cancellation:
    order = await orders.get(ctx.session, order_id)
    decision = decision_for(ctx, order)
    return Cancellation(
        cancellable=decision.cancellable,
        until=decision.until,
        code=decision.code,
        policy=Party.merchant if ctx.actor.is_merchant else Party.customer,
        window_seconds=int(ctx.settings.customer_cancel_window.total_seconds()),
    )


def refusal(code: CancellationRefusal, order: Order, settings: Settings) -> common.DomainError:
    match code:
        case CancellationRefusal.order_already_cancelled:
            return errors.OrderAlreadyCancelled(
                f"Order #{order.number} was cancelled"
                + (f" at {times.rfc3339(order.cancelled_at)}." if order.cancelled_at else ".")
            )
        case CancellationRefusal.order_already_fulfilled:
            return errors.OrderAlreadyFulfilled(
                "Items of this order have shipped; refund them instead."
            )
        case CancellationRefusal.order_in_fulfillment:
            return errors.OrderInFulfillment(
                "The order is being picked or shipped; contact support."
            )
        case CancellationRefusal.cancellation_window_expired:
            return errors.CancellationWindowExpired(
                "Orders can be cancelled by the customer within "
                f"{times.duration(settings.customer_cancel_window)} of being placed; that time has "
                "passed."
            )
        case CancellationRefusal.order_not_open:
            return common.OrderNotOpen(f"Order #{order.number} is {order.status}.")
        case _:
            assert_never(code)


async def cancel(ctx: Context, order_id: str, body: CancelRequest, if_match: int | None) -> Order:
    reason = body.reason or (CancelReason.other if ctx.actor.is_merchant else CancelReason.customer)
    if not ctx.actor.is_merchant:
        if reason is not CancelReason.customer:
            raise errors.CancelReasonNotAllowed("Storefront keys cancel with reason `customer`.")
        if not body.refund:
            raise errors.RefundRequired("Customers always get back what they paid.")

    order = await orders.get(ctx.session, order_id, lock=True)
    check_version(order, if_match)
    decision = decision_for(ctx, order)
    if not decision.cancellable:
        assert decision.code is not None
        raise refusal(decision.code, order, ctx.settings)

    # Read once under the lock and passed on: each step reading them afresh cost a flush
    # and a round trip more.
    current = await fulfillments.current(ctx.session, order)
    released = await fulfillments.release_pending(ctx, order, current)
    order.status = "cancelled"
    order.cancelled_at = ctx.now
    order.cancel_reason = reason.value
    order.cancelled_by = "merchant" if ctx.actor.is_merchant else "customer"
    voided = _void_authorization(ctx, order)
    # Before the refund (which restocks nothing), so its flush writes the lines once.
    restocked = _restock_unfulfilled(order.line_items) if body.restock else []
    refund = None
    if body.refund:
        refund = await _refund_everything(ctx, order, current, body)
    touch(order, ctx.now)
    await ctx.session.flush()
    metrics.on_commit(ctx.session, metrics.CANCELLATIONS, by=order.cancelled_by)

    await timeline.record(
        ctx,
        order.id,
        "order.cancelled",
        f"Cancelled by the {order.cancelled_by} ({ctx.actor.name}), reason {reason.value}"
        + (f": {body.note}" if body.note else "."),
        {
            "reason": reason.value,
            "by": order.cancelled_by,
            "voided": voided,
            "fulfillments_cancelled": released,
            "refund_id": refund.id if refund else None,
            "restocked": sum(q for _, q in restocked),
        },
    )
    refund_payload: RefundOut | None = refunds.refund_out(refund, order) if refund else None
    await publish(
        ctx,
        "order.cancelled",
        order,
        cancellation={
            "reason": reason.value,
            "note": body.note,
            "by": order.cancelled_by,
            "actor": {"name": ctx.actor.name, "role": ctx.actor.role.value},
            "voided_amount": voided,
            "refund": refund_payload.model_dump(mode="json") if refund_payload else None,
            "restock": body.restock,
        },
        notify_customer=body.notify_customer,
    )
    if restocked:
        await emit_restock(ctx, order, restocked, "cancellation")
    return order


def _void_authorization(ctx: Context, order: Order) -> int:
    uncaptured = order.total_authorized - order.total_paid
    if uncaptured <= 0:
        return 0
    ctx.session.add(
        PaymentTransaction(
            id=new_id("txn"),
            order_id=order.id,
            kind="void",
            status="success",
            amount=uncaptured,
            fee=0,
            currency=order.currency,
            gateway=order.payment_gateway,
            reference=None,
            created_at=ctx.now,
        )
    )
    order.total_authorized = order.total_paid
    follow_money(order, "voided" if order.total_paid == 0 else None)
    return uncaptured


async def _refund_everything(
    ctx: Context, order: Order, current: list[Fulfillment], body: CancelRequest
) -> Refund | None:
    """A pending refund of everything paid and not yet refunded: every unit not refunded
    and the shipping, priced by the refund policy; what was paid caps it."""
    money = refunds.money_state(order)
    available = max(money.paid - money.refunded, 0)
    if available == 0:
        return None
    nets = refund_policy.nets(money)
    by_id = {li.id: li for li in order.line_items}
    lines = []
    for line in money.lines:
        units = line.quantity - line.refunded_quantity
        if units:
            amount = refund_policy.units_amount(
                nets.lines[line.id], line.quantity, line.refunded_quantity, units
            )
            lines.append(refunds.RefundLine(by_id[line.id], units, amount, restock=False))
    shipping = nets.shipping - money.shipping_refunded
    priced = sum(line.amount for line in lines) + shipping
    new = refunds.NewRefund(
        lines=lines,
        shipping=shipping,
        goodwill=max(available - priced, 0),
        amount=available,
        method=body.refund_method.value,
        reason="cancellation",
        note=body.note,
        notify_customer=body.notify_customer,
    )
    return await refunds.record_refund(ctx, order, new, current)


def _restock_unfulfilled(lines: list[LineItem]) -> list[tuple[LineItem, int]]:
    restocked = []
    for line in lines:
        units = line.quantity - line.fulfilled_quantity - line.restocked_quantity
        if units > 0:
            line.restocked_quantity += units
            restocked.append((line, units))
    return restocked
