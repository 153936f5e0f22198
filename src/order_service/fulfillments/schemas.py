from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints

from order_service.fulfillments.policy import KNOWN_CARRIERS
from order_service.kit.schema_types import SOME_TEXT, OptionalText, Quantity, UtcDatetime
from order_service.orders.schemas import Input

TrackingNumber = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9 \-]{0,63}$"),
]
_PORT = r"(?:[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"
TRACKING_URL = (
    rf"^[Hh][Tt][Tt][Pp][Ss]?://[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*\.?(?::{_PORT})?"
    r"(?:[/?#][^\s\x00]*)?$"
)
"""An http(s) URL a customer's browser can open: a host name or IPv4 address, a port from 1
to 65535, then any path, query and fragment (without whitespace). No user info, no IPv6
literal."""
TrackingUrl = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=2048, pattern=TRACKING_URL)
]
Carrier = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=SOME_TEXT)
]
ServiceLevel = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=SOME_TEXT)
]

_CARRIER_HELP = (
    "Carrier name as customers know it. For "
    + ", ".join(KNOWN_CARRIERS)
    + " the tracking URL is built from the tracking number when none is given."
)


class FulfillmentStatus(StrEnum):
    pending = "pending"
    shipped = "shipped"
    cancelled = "cancelled"


class ShipmentStatus(StrEnum):
    label_printed = "label_printed"
    in_transit = "in_transit"
    delayed = "delayed"
    out_for_delivery = "out_for_delivery"
    attempted_delivery = "attempted_delivery"
    ready_for_pickup = "ready_for_pickup"
    failure = "failure"
    delivered = "delivered"


class FulfillmentLineIn(Input):
    line_item_id: Annotated[str, StringConstraints(min_length=1, max_length=40)]
    quantity: Quantity


class FulfillmentCreate(Input):
    line_items: list[FulfillmentLineIn] | None = Field(
        default=None,
        min_length=1,
        max_length=250,
        description="Units in this parcel. Left out: every unit that requires shipping and "
        "is not yet in a fulfilment.",
    )
    carrier: Carrier | None = Field(default=None, description=_CARRIER_HELP, examples=["UPS"])
    service: ServiceLevel | None = Field(
        default=None,
        description="Service level, e.g. `standard`, `express`, `international`.",
        examples=["standard"],
    )
    tracking_number: TrackingNumber | None = Field(default=None, examples=["1Z999AA10123456784"])
    tracking_url: TrackingUrl | None = Field(
        default=None, description="Overrides the URL built from the carrier's pattern."
    )
    status: Literal["pending", "shipped"] = Field(
        default="shipped",
        description="`pending`: being picked and packed (the customer can no longer cancel); "
        "`shipped`: handed to the carrier.",
    )
    notify_customer: bool = Field(
        default=True, description="Passed on in the events, for the shipping email."
    )


class FulfillmentUpdate(Input):
    carrier: Carrier | None = None
    service: ServiceLevel | None = None
    tracking_number: TrackingNumber | None = None
    tracking_url: TrackingUrl | None = Field(
        default=None,
        description="Left out while `carrier` or `tracking_number` changes: rebuilt from the "
        "carrier's pattern (null for an unknown carrier).",
    )
    status: Literal["shipped"] | None = Field(
        default=None, description="`shipped` marks a `pending` fulfilment as handed over."
    )
    notify_customer: bool | None = None


class TrackingEventCreate(Input):
    status: ShipmentStatus
    occurred_at: UtcDatetime = Field(description="When the carrier saw it happen.")
    location: OptionalText = Field(default=None, examples=["Oslo, NO"])
    message: Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)] | None = None
    estimated_delivery_at: UtcDatetime | None = None


class FulfillmentLineOut(BaseModel):
    line_item_id: str
    sku: str
    title: str
    quantity: int


class TrackingEventOut(BaseModel):
    id: str
    status: ShipmentStatus
    occurred_at: datetime
    location: str | None
    message: str | None
    estimated_delivery_at: datetime | None
    applied: bool = Field(
        description="False when the report arrived after a later one and changed nothing."
    )
    created_at: datetime


class FulfillmentOut(BaseModel):
    id: str = Field(examples=["ful_01jd2m3n4p5q6r7s8t9v0w1x2y"])
    order_id: str
    status: FulfillmentStatus
    shipment_status: ShipmentStatus | None = Field(
        description="The carrier's latest word, merged from tracking events by `occurred_at`."
    )
    shipment_status_at: datetime | None
    carrier: str | None
    service: str | None
    tracking_number: str | None
    tracking_url: str | None
    notify_customer: bool
    line_items: list[FulfillmentLineOut]
    estimated_delivery_at: datetime | None
    shipped_at: datetime | None
    delivered_at: datetime | None
    cancelled_at: datetime | None
    tracking_events: list[TrackingEventOut] = Field(description="Oldest `occurred_at` first.")
    created_at: datetime
    updated_at: datetime


class FulfillmentList(BaseModel):
    data: list[FulfillmentOut]
    next_cursor: str | None
