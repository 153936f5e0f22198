"""`GET /v1/policies`: the policies in force, in words and numbers, for storefronts."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from order_service.http.context import AnyContext
from order_service.http.problems import responses
from order_service.http.routing import TransactionalRoute
from order_service.kit import errors, times
from order_service.refunds.policy import PROCESSING_TIME
from order_service.returns.schemas import Resolution, ReturnReason
from order_service.settings import Settings

router = APIRouter(prefix="/v1/policies", tags=["policies"], route_class=TransactionalRoute)


class CancellationPolicy(BaseModel):
    customer_window_seconds: int
    summary: str = Field(description="Ready to show to customers.")


class EditPolicy(BaseModel):
    customer_window_seconds: int = Field(
        description="How long after placing an order the customer may edit it "
        "(`CUSTOMER_EDIT_WINDOW`), as long as it has not entered fulfilment."
    )
    customer_changes: list[str] = Field(description="What a customer's edit may change.")
    merchant_changes: list[str] = Field(description="What an ops edit may change.")
    summary: str = Field(description="Ready to show to customers.")


class RefundMethodInfo(BaseModel):
    method: str
    expected_processing_time: str
    expected_processing_days: int


class RefundPolicy(BaseModel):
    window_days: float
    window_seconds: int
    summary: str
    methods: list[RefundMethodInfo]


class ReturnPolicy(BaseModel):
    window_days: float
    window_seconds: int = Field(
        description="How long after delivery (or shipping, when no delivery was reported) a "
        "customer may request a return (`RETURN_WINDOW`)."
    )
    auto_approve: bool = Field(
        description="Whether customers' requests are approved at once (`RETURN_AUTO_APPROVE`)."
    )
    resolutions: list[str]
    reasons: list[str]
    summary: str = Field(description="Ready to show to customers.")


class Support(BaseModel):
    email: str
    url: str


class Policies(BaseModel):
    cancellation: CancellationPolicy
    edit: EditPolicy
    refund: RefundPolicy
    returns: ReturnPolicy
    handling_days: int = Field(description="Business days from order to dispatch.")
    support: Support


def policies(settings: Settings) -> Policies:
    cancel = int(settings.customer_cancel_window.total_seconds())
    refund = int(settings.refund_window.total_seconds())
    returned = int(settings.return_window.total_seconds())
    return Policies(
        cancellation=CancellationPolicy(
            customer_window_seconds=cancel,
            summary="You can cancel your order within "
            f"{times.duration(settings.customer_cancel_window)} of placing it, "
            "as long as we have not started preparing it. Everything you paid is refunded.",
        ),
        edit=EditPolicy(
            customer_window_seconds=int(settings.edit_window.total_seconds()),
            customer_changes=[
                "line_items",
                "add_line_items",
                "shipping_address",
                "tax_lines",
                "discounts",
            ],
            merchant_changes=[
                "line_items",
                "add_line_items",
                "shipping_address",
                "shipping_lines",
                "tax_lines",
                "discounts",
            ],
            summary="You can change the quantities and items of your order, or where it "
            f"ships, within {times.duration(settings.edit_window)} of placing it, as long as "
            "we have not started preparing it. If the new total is lower, the difference is "
            "refunded at once; if it is higher, you pay the difference.",
        ),
        refund=RefundPolicy(
            window_days=round(refund / 86400, 2),
            window_seconds=refund,
            summary="Items can be returned for a refund within "
            f"{times.duration(settings.refund_window)} of "
            "delivery, except final-sale items. Shipping is refunded if your order had not "
            "shipped yet.",
            methods=[
                RefundMethodInfo(
                    method=method, expected_processing_time=text, expected_processing_days=days
                )
                for method, (text, days) in PROCESSING_TIME.items()
            ],
        ),
        returns=ReturnPolicy(
            window_days=round(returned / 86400, 2),
            window_seconds=returned,
            auto_approve=settings.return_auto_approve,
            resolutions=[r.value for r in Resolution],
            reasons=[r.value for r in ReturnReason],
            summary="You can return items within "
            f"{times.duration(settings.return_window)} of delivery, except final-sale items: "
            "start a return from your order, send the items back with the instructions we "
            "give you, and choose a refund, store credit or an exchange. The refund is made "
            "when the items reach us.",
        ),
        handling_days=settings.handling_days,
        support=Support(email=settings.support_email, url=settings.support_url),
    )


@router.get(
    "",
    response_model=Policies,
    responses=responses(errors.Unauthenticated),
    description="""
The cancellation, edit, refund and return policy in force — the numbers this service enforces
(`CUSTOMER_CANCEL_WINDOW`, `CUSTOMER_EDIT_WINDOW`, `REFUND_WINDOW`, `RETURN_WINDOW`,
`RETURN_AUTO_APPROVE`, `HANDLING_DAYS`) and
sentences a storefront can show customers as they are. Roles: any.
""",
)
async def get_policies(ctx: AnyContext) -> Policies:
    """The policies in force"""
    return policies(ctx.settings)
