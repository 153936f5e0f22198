"""Pure fulfilment rules: no session, no clock.

* how carrier tracking reports merge into a shipment status, whatever order they arrive in;
* what an order's `fulfillment_status` is, given its units;
* tracking URLs of well-known carriers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

FULFILLMENT_STATUSES = ("pending", "shipped", "cancelled")

SHIPMENT_STATUSES = (
    "label_printed",
    "in_transit",
    "delayed",
    "out_for_delivery",
    "attempted_delivery",
    "ready_for_pickup",
    "failure",
    "delivered",
)
"""In the order that breaks ties between reports stamped with the same instant."""

_RANK = {status: rank for rank, status in enumerate(SHIPMENT_STATUSES)}

NOT_YET_SHIPPED = frozenset({"label_printed"})
"""Reports that do not say the carrier has the parcel; every other one does."""


@dataclass(frozen=True, slots=True)
class Report:
    status: str
    occurred_at: datetime


def precedence(report: Report) -> tuple[bool, datetime, int]:
    """Delivery is final; otherwise the later report wins, ties broken by `SHIPMENT_STATUSES`.

    Taking the maximum by this key makes merging commutative, associative and idempotent:
    the status depends on the set of reports, never on when each arrived.
    """
    return (report.status == "delivered", report.occurred_at, _RANK[report.status])


def supersedes(new: Report, current: Report | None) -> bool:
    """Does `new` move a shipment whose latest word is `current`?"""
    return current is None or precedence(new) > precedence(current)


def merge(current: Report | None, new: Report) -> Report:
    if current is None or precedence(new) > precedence(current):
        return new
    return current


def latest(reports: Iterable[Report]) -> Report | None:
    result: Report | None = None
    for report in reports:
        result = merge(result, report)
    return result


@dataclass(frozen=True, slots=True)
class Units:
    """An order's units that need shipping, summed over its line items."""

    ordered: int
    allocated: int
    """In fulfilments that are not cancelled (pending or shipped)."""
    shipped: int
    delivered: int


def order_fulfillment_status(units: Units) -> str:
    """`delivered` once every unit has shipped and every shipped unit is delivered;
    `fulfilled` once every unit has shipped; `partially_fulfilled` when some have;
    `in_progress` while units are only being picked; `unfulfilled` otherwise."""
    assert 0 <= units.delivered <= units.shipped <= units.allocated <= units.ordered, units
    if units.ordered > 0 and units.shipped == units.ordered:
        return "delivered" if units.delivered == units.shipped else "fulfilled"
    if units.shipped > 0:
        return "partially_fulfilled"
    if units.allocated > 0:
        return "in_progress"
    return "unfulfilled"


_CARRIER_URLS = {
    "ups": "https://www.ups.com/track?tracknum={number}",
    "usps": "https://tools.usps.com/go/TrackConfirmAction?tLabels={number}",
    "fedex": "https://www.fedex.com/fedextrack/?trknbr={number}",
    "dhl": "https://www.dhl.com/global-en/home/tracking/tracking-express.html"
    "?submit=1&tracking-id={number}",
    "royalmail": "https://www.royalmail.com/track-your-item#/tracking-results/{number}",
    "postnord": "https://tracking.postnord.com/tracking.html?id={number}",
    "bring": "https://tracking.bring.com/tracking/{number}",
    "dpd": "https://tracking.dpd.de/status/en_US/parcel/{number}",
    "gls": "https://gls-group.com/track/{number}",
    "canadapost": "https://www.canadapost-postescanada.ca/track-reperage/en#/details/{number}",
}
_ALIASES = {
    "unitedparcelservice": "ups",
    "unitedstatespostalservice": "usps",
    "federalexpress": "fedex",
    "dhlexpress": "dhl",
    "royalmailgroup": "royalmail",
    "postnordsverige": "postnord",
    "postnorddanmark": "postnord",
    "posten": "bring",
    "postenbring": "bring",
}
KNOWN_CARRIERS = (
    "UPS",
    "USPS",
    "FedEx",
    "DHL",
    "Royal Mail",
    "PostNord",
    "Bring",
    "DPD",
    "GLS",
    "Canada Post",
)


def carrier_key(carrier: str) -> str:
    key = re.sub(r"[^a-z0-9]", "", carrier.lower())
    return _ALIASES.get(key, key)


def tracking_url(carrier: str | None, tracking_number: str | None) -> str | None:
    """The public tracking page for a known carrier, or None."""
    if not carrier or not tracking_number:
        return None
    pattern = _CARRIER_URLS.get(carrier_key(carrier))
    if pattern is None:
        return None
    return pattern.format(number=quote(tracking_number.replace(" ", ""), safe=""))
