"""Capture real request/response examples for the OpenAPI docs.

Runs one realistic scenario through the app (a fresh database in the embedded PostgreSQL)
and writes what each operation really received and answered to
`src/order_service/openapi_examples.json`, which the app merges into its OpenAPI document.
Examples therefore always have the shape the code produces. Secrets are masked.

    .venv/bin/python openapi/capture_examples.py && make openapi
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from order_service.app import create_app
from order_service.auth import service as keys
from order_service.auth.schemas import Role
from order_service.kit import embedded, migrations
from order_service.settings import Environment, Settings

OUT = Path(__file__).parents[1] / "src" / "order_service" / "openapi_examples.json"
SECRET = re.compile(r"(osk_|whsec_)[A-Za-z0-9_\-+/=]{8,}")
ADDRESS = {
    "name": "Ann Example",
    "line1": "1 Main St",
    "line2": None,
    "city": "Oslo",
    "region": None,
    "postal_code": "0150",
    "country": "NO",
}


def _mask(value: Any) -> Any:
    text = json.dumps(value)
    text = SECRET.sub(lambda m: m.group(1) + "EXAMPLE" + "x" * 20, text)
    return json.loads(text)


class Recorder:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.examples: dict[str, dict[str, Any]] = {}

    async def call(
        self, operation: str, method: str, url: str, headers: dict[str, str], **kwargs: Any
    ) -> Any:
        response = await self.client.request(method, url, headers=headers, **kwargs)
        assert response.status_code < 300, (operation, response.status_code, response.text)
        entry = self.examples.setdefault(operation, {"responses": {}})
        if "json" in kwargs and kwargs["json"] is not None:
            entry.setdefault("request", _mask(kwargs["json"]))
        if response.content and response.headers.get("content-type", "").startswith(
            "application/json"
        ):
            entry["responses"].setdefault(str(response.status_code), _mask(response.json()))
            return response.json()
        return None


async def scenario(
    rec: Recorder, admin: dict[str, str], ops: dict[str, str], shop: dict[str, str]
) -> None:
    order_body = {
        "customer": {"email": "ann@example.com", "name": "Ann Example", "id": "c_1"},
        "currency": "USD",
        "line_items": [
            {"sku": "TEE-M", "title": "Tee", "quantity": 2, "unit_price": 1999},
            {"sku": "MUG", "title": "Mug", "quantity": 1, "unit_price": 1200},
        ],
        "shipping_lines": [{"title": "Standard", "price": 500}],
        "shipping_address": ADDRESS,
        "billing_address": ADDRESS,
        "payment": {"status": "paid", "gateway": "stripe", "reference": "ch_1"},
    }
    c = rec.call
    hook = await c(
        "create_webhook_endpoint",
        "POST",
        "/v1/webhook-endpoints",
        admin,
        json={
            "url": "log://customer-emails",
            "events": ["order.created", "refund.created"],
            "description": "customer emails",
        },
    )
    order = await c("create_order", "POST", "/v1/orders", shop, json=order_body)
    oid, tee, mug = order["id"], order["line_items"][0]["id"], order["line_items"][1]["id"]
    await c("get_order", "GET", f"/v1/orders/{oid}", shop)
    await c("list_orders", "GET", "/v1/orders", shop, params={"limit": 1})
    await c(
        "update_order",
        "PATCH",
        f"/v1/orders/{oid}",
        ops,
        json={"note": "Gift wrap, please", "tags": ["vip"]},
    )
    await c("get_cancellation", "GET", f"/v1/orders/{oid}/cancellation", shop)
    await c(
        "calculate_refund",
        "POST",
        f"/v1/orders/{oid}/refunds/calculate",
        shop,
        json={"line_items": [{"line_item_id": mug, "quantity": 1}]},
    )
    refund = await c(
        "create_refund",
        "POST",
        f"/v1/orders/{oid}/refunds",
        ops,
        json={
            "line_items": [{"line_item_id": mug, "quantity": 1, "restock": True}],
            "reason": "damaged",
            "note": "arrived chipped",
        },
    )
    await c(
        "settle_refund",
        "POST",
        f"/v1/refunds/{refund['id']}/settle",
        ops,
        json={"status": "succeeded", "reference": "re_3PqR"},
    )
    await c("get_refund", "GET", f"/v1/refunds/{refund['id']}", shop)
    await c("list_order_refunds", "GET", f"/v1/orders/{oid}/refunds", shop)
    await c("list_refunds", "GET", "/v1/refunds", ops, params={"limit": 1})
    parcel = await c(
        "create_fulfillment",
        "POST",
        f"/v1/orders/{oid}/fulfillments",
        ops,
        json={
            "line_items": [{"line_item_id": tee, "quantity": 2}],
            "carrier": "UPS",
            "service": "standard",
            "tracking_number": "1Z999AA10123456784",
            "status": "pending",
        },
    )
    pid = parcel["id"]
    await c(
        "update_fulfillment", "PATCH", f"/v1/fulfillments/{pid}", ops, json={"status": "shipped"}
    )
    # A carrier's report of a moment ago: tracking events never predate their order.
    now = datetime.now(UTC)
    await c(
        "add_tracking_event",
        "POST",
        f"/v1/fulfillments/{pid}/tracking-events",
        ops,
        json={
            "status": "in_transit",
            "occurred_at": now.isoformat(),
            "location": "Oslo hub",
            "estimated_delivery_at": (now + timedelta(days=2)).isoformat(),
        },
    )
    # the same report again, as an integration retrying it would: answered 200, not re-applied
    repeat = {"status": "in_transit", "occurred_at": now.isoformat()}
    await c(
        "add_tracking_event", "POST", f"/v1/fulfillments/{pid}/tracking-events", ops, json=repeat
    )
    await c("get_fulfillment", "GET", f"/v1/fulfillments/{pid}", shop)
    await c("list_fulfillments", "GET", f"/v1/orders/{oid}/fulfillments", shop)
    await c(
        "create_transaction",
        "POST",
        f"/v1/orders/{oid}/transactions",
        ops,
        json={
            "kind": "sale",
            "status": "failure",
            "gateway": "stripe",
            "error_message": "card declined",
        },
    )
    await c("order_timeline", "GET", f"/v1/orders/{oid}/events", ops, params={"limit": 3})

    second = await c("create_order", "POST", "/v1/orders", shop, json=order_body)
    await c(
        "cancel_order",
        "POST",
        f"/v1/orders/{second['id']}/cancel",
        shop,
        json={"reason": "customer", "note": "ordered the wrong size"},
    )
    await c(
        "reorder",
        "POST",
        f"/v1/orders/{second['id']}/reorder",
        shop,
        json={"payment": {"status": "authorized", "gateway": "stripe", "reference": "pi_2"}},
    )
    third = await c("create_order", "POST", "/v1/orders", shop, json=order_body)
    third_parcel = await c(
        "create_fulfillment",
        "POST",
        f"/v1/orders/{third['id']}/fulfillments",
        ops,
        json={"status": "pending", "carrier": "PostNord"},
    )
    await c("cancel_fulfillment", "POST", f"/v1/fulfillments/{third_parcel['id']}/cancel", ops)
    await c("archive_order", "POST", f"/v1/orders/{third['id']}/archive", ops)
    await c("unarchive_order", "POST", f"/v1/orders/{third['id']}/unarchive", ops)
    pending = await c(
        "create_order", "POST", "/v1/orders", shop, json={**order_body, "payment": None}
    )
    await c("delete_order", "DELETE", f"/v1/orders/{pending['id']}", admin)

    fourth = await c("create_order", "POST", "/v1/orders", shop, json=order_body)
    fourth_tee = fourth["line_items"][0]["id"]
    smaller = {"line_items": [{"line_item_id": fourth_tee, "quantity": 1}]}
    await c(
        "calculate_edit", "POST", f"/v1/orders/{fourth['id']}/edits/calculate", shop, json=smaller
    )
    await c("create_edit", "POST", f"/v1/orders/{fourth['id']}/edits", shop, json=smaller)
    await c(
        "create_edit",
        "POST",
        f"/v1/orders/{fourth['id']}/edits",
        ops,
        json={
            "add_line_items": [{"sku": "CAP", "title": "Cap", "quantity": 1, "unit_price": 1500}],
            "reason": "customer_request",
            "note": "asked by phone",
        },
    )
    await c("list_edits", "GET", f"/v1/orders/{fourth['id']}/edits", shop)

    fifth = await c("create_order", "POST", "/v1/orders", shop, json=order_body)
    await c(
        "create_fulfillment",
        "POST",
        f"/v1/orders/{fifth['id']}/fulfillments",
        ops,
        json={"status": "shipped", "carrier": "UPS", "tracking_number": "1Z999AA10123456784"},
    )
    fifth_tee = fifth["line_items"][0]["id"]
    ask = {
        "line_items": [
            {"line_item_id": fifth_tee, "quantity": 1, "reason": "size_or_fit", "note": "too small"}
        ],
        "resolution": "refund",
        "customer_note": "Could I get a refund for one of them?",
    }
    await c(
        "calculate_return", "POST", f"/v1/orders/{fifth['id']}/returns/calculate", shop, json=ask
    )
    asked = await c("request_return", "POST", f"/v1/orders/{fifth['id']}/returns", shop, json=ask)
    await c(
        "approve_return",
        "POST",
        f"/v1/returns/{asked['id']}/approve",
        ops,
        json={
            "return_shipping": {
                "carrier": "UPS",
                "tracking_number": "1ZRETURN0001",
                "label_url": "https://labels.example.com/1ZRETURN0001.pdf",
                "instructions": "Drop the parcel at any UPS access point.",
            },
            "return_by": (datetime.now(UTC) + timedelta(days=14)).isoformat(),
        },
    )
    received = await c(
        "receive_return",
        "POST",
        f"/v1/returns/{asked['id']}/receive",
        ops,
        json={
            "line_items": [{"line_item_id": fifth_tee, "quantity": 1, "disposition": "restock"}],
            "deductions": [{"reason": "restocking_fee", "amount": 200}],
        },
    )
    # the card was closed meanwhile: the refund fails and ops pay it back in store credit
    failed = received["refund"]["id"]
    await c(
        "settle_refund",
        "POST",
        f"/v1/refunds/{failed}/settle",
        ops,
        json={"status": "failed", "failure_reason": "card_closed"},
    )
    await c(
        "retry_refund",
        "POST",
        f"/v1/refunds/{failed}/retry",
        ops,
        json={"method": "store_credit", "note": "Card closed: store credit instead."},
    )
    await c("close_return", "POST", f"/v1/returns/{asked['id']}/close", ops, json={})
    await c("get_return", "GET", f"/v1/returns/{asked['id']}", shop)
    await c("list_order_returns", "GET", f"/v1/orders/{fifth['id']}/returns", shop)
    one = {"line_items": [{"line_item_id": fifth_tee, "quantity": 1, "reason": "changed_mind"}]}
    again = await c("request_return", "POST", f"/v1/orders/{fifth['id']}/returns", shop, json=one)
    await c(
        "decline_return",
        "POST",
        f"/v1/returns/{again['id']}/decline",
        ops,
        json={"decline_reason": "no_proof", "note": "Please send a photo of the label."},
    )
    last = await c("request_return", "POST", f"/v1/orders/{fifth['id']}/returns", shop, json=one)
    await c(
        "cancel_return",
        "POST",
        f"/v1/returns/{last['id']}/cancel",
        shop,
        json={"note": "I will keep it after all."},
    )
    await c("list_returns", "GET", "/v1/returns", ops, params={"limit": 1})

    await c("cancellation_report", "GET", "/v1/reports/cancellations", ops)
    await c("refund_report", "GET", "/v1/reports/refunds", ops)
    await c("return_report", "GET", "/v1/reports/returns", ops)
    await c("fulfillment_report", "GET", "/v1/reports/fulfillment", ops)
    await c("get_policies", "GET", "/v1/policies", shop)

    hid = hook["id"]
    await c("list_webhook_endpoints", "GET", "/v1/webhook-endpoints", admin)
    await c("get_webhook_endpoint", "GET", f"/v1/webhook-endpoints/{hid}", admin)
    await c(
        "update_webhook_endpoint",
        "PATCH",
        f"/v1/webhook-endpoints/{hid}",
        admin,
        json={"events": ["*"], "description": "every event, for the data warehouse"},
    )
    await c("rotate_webhook_secret", "POST", f"/v1/webhook-endpoints/{hid}/rotate-secret", admin)
    await c("ping_webhook_endpoint", "POST", f"/v1/webhook-endpoints/{hid}/ping", admin)
    events = await c(
        "list_events", "GET", "/v1/events", ops, params={"type": "refund.created", "limit": 1}
    )
    event_id = events["data"][0]["id"]
    await c("get_event", "GET", f"/v1/events/{event_id}", ops)
    await c(
        "redeliver_event",
        "POST",
        f"/v1/events/{event_id}/redeliver",
        admin,
        json={"endpoint_id": hid},
    )
    await c("list_webhook_deliveries", "GET", f"/v1/webhook-endpoints/{hid}/deliveries", ops)
    spare = await c(
        "create_webhook_endpoint",
        "POST",
        "/v1/webhook-endpoints",
        admin,
        json={"url": "log://spare", "events": ["*"]},
    )
    await c("delete_webhook_endpoint", "DELETE", f"/v1/webhook-endpoints/{spare['id']}", admin)

    issued = await c(
        "create_api_key",
        "POST",
        "/v1/api-keys",
        admin,
        json={"name": "web storefront", "role": "storefront"},
    )
    await c("list_api_keys", "GET", "/v1/api-keys", admin, params={"limit": 2})
    await c("revoke_api_key", "DELETE", f"/v1/api-keys/{issued['id']}", admin)
    await c("healthz", "GET", "/healthz", {})
    await c("readyz", "GET", "/readyz", {})


async def main() -> None:
    name = f"examples_{uuid.uuid4().hex[:8]}"
    url = embedded.start(".data/examples", name)
    await asyncio.to_thread(migrations.upgrade, url)
    settings = Settings(env=Environment.test, database_url=url, webhook_allow_private_targets=True)
    app = create_app(settings)
    sessionmaker = app.state.services.sessionmaker
    async with sessionmaker() as session, session.begin():
        issued = {
            role: (await keys.create_key(session, name=f"{role} key", role=role))[1]
            for role in Role
        }
    headers = {role.value: {"Authorization": f"Bearer {key}"} for role, key in issued.items()}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as client:
        recorder = Recorder(client)
        await scenario(recorder, headers["admin"], headers["ops"], headers["storefront"])
    await app.state.services.engine.dispose()
    OUT.write_text(json.dumps(recorder.examples, indent=2, sort_keys=True) + "\n")
    print(f"{len(recorder.examples)} operations written to {OUT}")


if __name__ == "__main__":
    asyncio.run(main())
