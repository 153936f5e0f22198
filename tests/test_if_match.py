"""`If-Match` on every operation that changes an order: declared in the spec, and a stale
one refused with 412 before anything changes, whichever resource the path names (for a
fulfilment, a return or a refund it is the order's version that is checked)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import httpx

from order_service.cli import openapi_spec
from tests.factories import problem
from tests.returns.helpers import requested, shipped_order, units

_RESOURCE_PATHS = ("/v1/orders/{order_id}", "/v1/fulfillments/", "/v1/returns/", "/v1/refunds/")


def order_changing_operations() -> set[tuple[str, str]]:
    """Every operation of the spec that writes to an order or to a resource of one
    (fulfilment, return, refund): all but reads and previews (`calculate`)."""
    return {
        (method.upper(), path)
        for path, methods in openapi_spec()["paths"].items()
        if path.startswith(_RESOURCE_PATHS) and not path.endswith("/calculate")
        for method in methods
        if method in {"post", "put", "patch", "delete"}
    }


def test_every_order_changing_operation_documents_if_match() -> None:
    spec = openapi_spec()["paths"]
    missing = []
    for method, path in sorted(order_changing_operations()):
        op = spec[path][method.lower()]
        headers = {p["name"] for p in op.get("parameters", []) if p["in"] == "header"}
        problems = op["responses"].get("400", {}).get("content", {})
        codes = set(next(iter(problems.values()), {}).get("examples", {}))
        if "If-Match" not in headers or "412" not in op["responses"]:
            missing.append(f"{method} {path}: If-Match or 412")
        if "invalid_if_match" not in codes:
            missing.append(f"{method} {path}: 400 invalid_if_match")
    assert missing == []


async def test_a_stale_if_match_changes_nothing_anywhere(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str],
    admin: dict[str, str],
) -> None:  # fmt: skip
    """One order with a parcel, a requested return and a pending refund; each operation sent
    with the ETag of the version before it is 412 with `current_version`, and the order, its
    timeline and the list of orders are as they were."""
    order = await shipped_order(client, storefront, ops)
    tee = order["line_items"][0]["id"]
    returned = await requested(client, storefront, order, 1)
    refund = await client.post(
        f"/v1/orders/{order['id']}/refunds",
        json={"line_items": [{"line_item_id": tee, "quantity": 1}], "reason": "damaged"},
        headers=ops,
    )
    assert refund.status_code == 201, refund.text
    parcels = await client.get(f"/v1/orders/{order['id']}/fulfillments", headers=ops)
    ids = {
        "order_id": order["id"],
        "fulfillment_id": parcels.json()["data"][0]["id"],
        "return_id": returned["id"],
        "refund_id": refund.json()["id"],
    }
    tracking = {"status": "in_transit", "occurred_at": datetime.now(UTC).isoformat()}
    cases: dict[tuple[str, str], dict[str, Any] | None] = {
        ("PATCH", "/v1/orders/{order_id}"): {"note": "x"},
        ("DELETE", "/v1/orders/{order_id}"): None,
        ("POST", "/v1/orders/{order_id}/archive"): None,
        ("POST", "/v1/orders/{order_id}/unarchive"): None,
        ("POST", "/v1/orders/{order_id}/transactions"): {"kind": "sale", "amount": 100},
        ("POST", "/v1/orders/{order_id}/cancel"): {"reason": "other"},
        ("POST", "/v1/orders/{order_id}/edits"): {"note": "x"},
        ("POST", "/v1/orders/{order_id}/refunds"): {"amount": 100, "note": "goodwill"},
        ("POST", "/v1/orders/{order_id}/returns"): {"line_items": units(order, 1)},
        ("POST", "/v1/orders/{order_id}/reorder"): None,
        ("POST", "/v1/orders/{order_id}/fulfillments"): {},
        ("PATCH", "/v1/fulfillments/{fulfillment_id}"): {"carrier": "DHL"},
        ("POST", "/v1/fulfillments/{fulfillment_id}/cancel"): None,
        ("POST", "/v1/fulfillments/{fulfillment_id}/tracking-events"): tracking,
        ("POST", "/v1/returns/{return_id}/approve"): {},
        ("POST", "/v1/returns/{return_id}/decline"): {"decline_reason": "other"},
        ("POST", "/v1/returns/{return_id}/receive"): {},
        ("POST", "/v1/returns/{return_id}/cancel"): {},
        ("POST", "/v1/returns/{return_id}/close"): {},
        ("POST", "/v1/refunds/{refund_id}/settle"): {"status": "succeeded"},
        ("POST", "/v1/refunds/{refund_id}/retry"): {},
    }
    assert set(cases) == order_changing_operations(), "add a case for each new operation"

    url = f"/v1/orders/{order['id']}"
    before = (await client.get(url, headers=ops)).json()
    timeline = (await client.get(f"{url}/events", headers=ops)).json()
    orders = (await client.get("/v1/orders", headers=ops)).json()
    stale = {**admin, "If-Match": f'"{before["version"] - 1}"'}
    for (method, template), body in cases.items():
        path = re.sub(r"\{(\w+)\}", lambda m: ids[m[1]], template)
        response = await client.request(method, path, json=body, headers=stale)
        found = problem(response, 412, "precondition_failed")
        assert found["current_version"] == before["version"], (method, template)
        assert (await client.get(url, headers=ops)).json() == before, (method, template)
    assert (await client.get(f"{url}/events", headers=ops)).json() == timeline
    assert (await client.get("/v1/orders", headers=ops)).json() == orders
