"""Random lifecycles through the HTTP API, invariants checked after every step.

A Hypothesis state machine creates orders and fulfils, tracks, cancels, edits, refunds,
settles, retries failed refunds, captures and archives them in any order, as storefront or
ops, against a real uvicorn on loopback (in a thread with its own event loop; the machine
itself is synchronous). After each step it checks what must hold whatever the sequence:

* money: refunded + pending refunds <= paid, and the pending amount is the sum of the
  order's pending refunds;
* units, per line: fulfilled, restocked and refunded + pending <= quantity; shipped <=
  fulfilled, and shipped is what the order's live shipped parcels hold;
* a cancelled order never gains shipped units;
* edits: `outstanding == total - total_paid + refunds made for edits (pending or
  succeeded)`, and a line never holds fewer units than it shipped;
* retries: a failed refund is replaced at most once, by a refund of the same amount, units,
  reason and return, restocking nothing; a return points at its latest refund;
* returns: a line's units requested and returned are its open and received returns' units,
  never more than shipped; refunded, pending and exchanged units never exceed the line, nor
  refunds and exchange credit what was paid; units refunded or exchanged by returns never
  exceed those shipped;
* owed units: a `fulfilled` or `delivered` order has shipped every unit of every line but
  those a plain refund (not a return's) took back — a return's refund never lets a unit
  paid for go unshipped;
* a successful change bumps `version` and adds a timeline entry and an outbox event; a
  refused one changes nothing and is a 4xx problem with a `code`; nothing is ever 5xx.

`STATEFUL_EXAMPLES` and `STATEFUL_STEPS` run it longer (defaults 10 and 20).
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import uvicorn
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)

from order_service.app import create_app
from order_service.auth import service as keys
from order_service.auth.schemas import Role
from order_service.settings import Environment, Settings
from tests.factories import ADDRESS

EXAMPLES = int(os.environ.get("STATEFUL_EXAMPLES", "10"))
STEPS = int(os.environ.get("STATEFUL_STEPS", "20"))
MAX_ORDERS = 3
TIMEOUT = 15.0


@dataclass(frozen=True)
class Server:
    base_url: str
    keys: dict[str, str]


@pytest.fixture(scope="module")
def server(database_url: str) -> Iterator[Server]:
    """The app under uvicorn in a thread of its own: its event loop, engine and pool."""
    app_settings = Settings(
        env=Environment.test, database_url=database_url, webhook_allow_private_targets=True
    )
    ready = threading.Event()
    found: dict[str, Any] = {}

    async def main() -> None:
        app = create_app(app_settings)
        sessionmaker = app.state.services.sessionmaker
        async with sessionmaker() as session, session.begin():
            for role in Role:
                _, found[role.value] = await keys.create_key(
                    session, name=f"stateful {role}", role=role
                )
        config = uvicorn.Config(
            app, host="127.0.0.1", port=0, log_config=None, access_log=False, lifespan="on"
        )
        found["server"] = uvicorn.Server(config)
        serving = asyncio.create_task(found["server"].serve())
        for _ in range(1500):
            if found["server"].started or serving.done():
                break
            await asyncio.sleep(0.02)
        ready.set()
        await serving

    thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    thread.start()
    assert ready.wait(30), "uvicorn did not start"
    uv: uvicorn.Server = found.pop("server")
    assert uv.started
    port = uv.servers[0].sockets[0].getsockname()[1]
    yield Server(f"http://127.0.0.1:{port}", found)
    uv.should_exit = True
    thread.join(30)


def ago(**delta: float) -> str:
    return (datetime.now(UTC) - timedelta(**delta)).isoformat()


@dataclass
class Seen:
    """What the machine last saw of an order through the API."""

    version: int
    timeline: int
    outbox: int
    shipped_when_cancelled: int | None = None


class OrderLifecycle(RuleBasedStateMachine):
    orders = Bundle("orders")
    fulfillments = Bundle("fulfillments")
    refunds = Bundle("refunds")
    returns = Bundle("returns")

    def __init__(self, server: Server) -> None:
        super().__init__()
        self.http = httpx.Client(base_url=server.base_url, timeout=TIMEOUT)
        self.keys = server.keys
        self.seen: dict[str, Seen] = {}
        self.order_of: dict[str, str] = {}  # fulfilment or refund id -> order id
        self.failed: list[str] = []  # refunds settled failed, to retry

    def teardown(self) -> None:
        self.http.close()

    # plumbing ---------------------------------------------------------------------------

    def call(self, method: str, path: str, role: str = "ops", **kwargs: Any) -> httpx.Response:
        response = self.http.request(
            method, path, headers={"Authorization": f"Bearer {self.keys[role]}"}, **kwargs
        )
        assert response.status_code < 500, f"{method} {path}: {response.text}"
        if response.status_code >= 400:
            assert response.headers["content-type"].startswith("application/problem+json")
            problem = response.json()
            assert problem["status"] == response.status_code
            assert isinstance(problem.get("code"), str) and problem["code"], problem
        return response

    def get(self, path: str) -> Any:
        response = self.call("GET", path, "admin")
        assert response.status_code == 200, response.text
        return response.json()

    def observe(self, order_id: str) -> Seen:
        order = self.get(f"/v1/orders/{order_id}")
        timeline = self.get(f"/v1/orders/{order_id}/events?limit=250")["data"]
        outbox = self.get(f"/v1/events?order_id={order_id}&limit=250")["data"]
        return Seen(order["version"], len(timeline), len(outbox))

    def change(
        self, order_id: str, method: str, path: str, role: str = "ops", *, always: bool = True,
        **kwargs: Any,
    ) -> httpx.Response | None:  # fmt: skip
        """Make a change to `order_id` and check it was all or nothing. Returns the
        response when it succeeded, None when it was refused."""
        before = self.seen[order_id]
        response = self.call(method, path, role, **kwargs)
        after = self.observe(order_id)
        after.shipped_when_cancelled = before.shipped_when_cancelled
        if response.status_code >= 400:
            assert after == before, f"refused {method} {path} still changed the order"
            return None
        changed = after.version > before.version
        assert changed or not always, f"{method} {path} succeeded without a new version"
        assert after.version >= before.version
        if changed:
            assert after.timeline > before.timeline, f"{method} {path}: no timeline entry"
            assert after.outbox > before.outbox, f"{method} {path}: no outbox event"
        else:
            assert after == before
        self.seen[order_id] = after
        return response

    def check(self, order_id: str) -> None:
        """The order's own counters against its refunds and parcels."""
        order = self.get(f"/v1/orders/{order_id}")
        refunds = self.get(f"/v1/orders/{order_id}/refunds?limit=250")["data"]
        parcels = self.get(f"/v1/orders/{order_id}/fulfillments?limit=250")["data"]
        pending = [r for r in refunds if r["status"] == "pending"]
        assert order["total_refund_pending"] == sum(r["amount"] for r in pending)
        for_edits = sum(
            r["amount"]
            for r in refunds
            if r["reason"] == "order_edited" and r["status"] in {"pending", "succeeded"}
        )
        assert order["total_edit_refunds"] == for_edits
        assert order["outstanding"] == order["total"] - order["total_paid"] + for_edits
        assert order["total_refunded"] == sum(
            r["amount"] for r in refunds if r["status"] == "succeeded"
        )
        by_id = {r["id"]: r for r in refunds}
        replaced = [r["retry_of"] for r in refunds if r["retry_of"]]
        assert len(replaced) == len(set(replaced)), "a failed refund was retried twice"
        for made in refunds:
            if made["retry_of"]:
                failed = by_id[made["retry_of"]]
                assert failed["status"] == "failed"
                for key in ("amount", "shipping_amount", "goodwill_amount", "reason", "return_id"):
                    assert made[key] == failed[key], key
                assert [(li["line_item_id"], li["quantity"], li["amount"], li["restock"])
                        for li in made["line_items"]] == [
                    (li["line_item_id"], li["quantity"], li["amount"], False)
                    for li in failed["line_items"]
                ]  # fmt: skip
        returns = self.get(f"/v1/orders/{order_id}/returns?limit=250")["data"]
        for found in returns:
            if found["refund_id"]:
                # a return points at its latest refund, never at one replaced since
                assert by_id[found["refund_id"]]["return_id"] == found["id"]
                assert found["refund_id"] not in replaced
        for line in order["line_items"]:
            assert line["return_requested_quantity"] == sum(
                rl["quantity"]
                for r in returns
                if r["status"] in {"requested", "approved"}
                for rl in r["line_items"]
                if rl["line_item_id"] == line["id"]
            )
            assert line["returned_quantity"] == sum(
                rl["received_quantity"]
                for r in returns
                for rl in r["line_items"]
                if rl["line_item_id"] == line["id"]
            )
            shipped = sum(
                pl["quantity"]
                for p in parcels
                if p["status"] == "shipped"
                for pl in p["line_items"]
                if pl["line_item_id"] == line["id"]
            )
            assert line["shipped_quantity"] == shipped, (line, parcels)
            assert line["refund_pending_quantity"] == sum(
                rl["quantity"]
                for r in pending
                for rl in r["line_items"]
                if rl["line_item_id"] == line["id"]
            )
            held = [r for r in refunds if r["status"] in {"pending", "succeeded"}]
            by_returns, plain = (
                sum(
                    rl["quantity"]
                    for r in held
                    if (r["return_id"] is not None) == for_returns
                    for rl in r["line_items"]
                    if rl["line_item_id"] == line["id"]
                )
                for for_returns in (True, False)
            )
            assert by_returns + line["exchanged_quantity"] <= shipped, (line, refunds)
            if order["fulfillment_status"] in {"fulfilled", "delivered"}:
                assert not line["requires_shipping"] or (shipped + plain >= line["quantity"]), (
                    "units paid for will not ship",
                    line,
                    refunds,
                )

    # rules --------------------------------------------------------------------------------

    @initialize(target=orders)
    def first_order(self) -> str:
        return self._create("paid", 0, 2, 1, True)

    @precondition(lambda self: len(self.seen) < MAX_ORDERS)
    @rule(
        target=orders,
        payment=st.sampled_from(["paid", "authorized"]),
        age_hours=st.sampled_from([0, 2, 24 * 40]),
        first=st.integers(1, 3),
        second=st.integers(1, 2),
        second_refundable=st.booleans(),
    )
    def create(
        self, payment: str, age_hours: int, first: int, second: int, second_refundable: bool
    ) -> str:
        return self._create(payment, age_hours, first, second, second_refundable)

    def _create(
        self, payment: str, age_hours: int, first: int, second: int, refundable: bool
    ) -> str:
        body = {
            "customer": {"email": "state@example.com", "name": "State"},
            "currency": "USD",
            "line_items": [
                {"sku": "TEE", "title": "Tee", "quantity": first, "unit_price": 1999},
                {
                    "sku": "MUG",
                    "title": "Mug",
                    "quantity": second,
                    "unit_price": 1250,
                    "refundable": refundable,
                },
            ],
            "shipping_lines": [{"title": "Standard", "price": 500}],
            "tax_lines": [{"title": "VAT", "amount": 300}],
            "discounts": [{"code": "WELCOME", "amount": 200}],
            "shipping_address": ADDRESS,
            "payment": {"status": payment, "gateway": "stripe", "reference": "ch_1"},
            "processed_at": ago(hours=age_hours),
        }
        response = self.call("POST", "/v1/orders", "storefront", json=body)
        assert response.status_code == 201, response.text
        order_id: str = response.json()["id"]
        seen = self.observe(order_id)
        assert (seen.version, seen.timeline, seen.outbox) == (1, 1, 1)
        self.seen[order_id] = seen
        return order_id

    @rule(
        target=fulfillments,
        order_id=orders,
        status=st.sampled_from(["pending", "shipped"]),
        units=st.lists(st.integers(0, 3), min_size=2, max_size=2) | st.none(),
    )
    def fulfil(self, order_id: str, status: str, units: list[int] | None) -> Any:
        body: dict[str, Any] = {"status": status, "carrier": "UPS", "tracking_number": "1Z9"}
        if units is not None:
            order = self.get(f"/v1/orders/{order_id}")
            body["line_items"] = [
                {"line_item_id": line["id"], "quantity": n}
                for line, n in zip(order["line_items"], units, strict=False)
                if n
            ]
            if not body["line_items"]:
                return multiple()
        response = self.change(order_id, "POST", f"/v1/orders/{order_id}/fulfillments", json=body)
        if response is None:
            return multiple()
        fulfillment_id: str = response.json()["id"]
        self.order_of[fulfillment_id] = order_id
        return fulfillment_id

    @rule(fulfillment_id=fulfillments)
    def ship(self, fulfillment_id: str) -> None:
        self.change(
            self.order_of[fulfillment_id],
            "PATCH",
            f"/v1/fulfillments/{fulfillment_id}",
            always=False,
            json={"status": "shipped"},
        )

    @rule(
        fulfillment_id=fulfillments,
        status=st.sampled_from(
            ["label_printed", "in_transit", "out_for_delivery", "delayed", "delivered", "failure"]
        ),
        minutes_ago=st.integers(0, 600),
    )
    def track(self, fulfillment_id: str, status: str, minutes_ago: int) -> None:
        self.change(
            self.order_of[fulfillment_id],
            "POST",
            f"/v1/fulfillments/{fulfillment_id}/tracking-events",
            always=False,  # the very same report twice is recorded once
            json={"status": status, "occurred_at": ago(minutes=minutes_ago)},
        )

    @rule(fulfillment_id=fulfillments)
    def cancel_fulfillment(self, fulfillment_id: str) -> None:
        self.change(
            self.order_of[fulfillment_id],
            "POST",
            f"/v1/fulfillments/{fulfillment_id}/cancel",
            always=False,  # cancelling a cancelled parcel changes nothing
        )

    @rule(order_id=orders, as_customer=st.booleans(), restock=st.booleans(), now=st.integers(0, 2))
    def cancel(self, order_id: str, as_customer: bool, restock: bool, now: int) -> None:
        if now:  # a third as often as the other rules: a cancelled order's life is short
            return
        order = self.get(f"/v1/orders/{order_id}")
        body = {"reason": "customer" if as_customer else "inventory", "restock": restock}
        role = "storefront" if as_customer else "ops"
        path = f"/v1/orders/{order_id}/cancel"
        if self.change(order_id, "POST", path, role, json=body) is not None:
            shipped = sum(line["shipped_quantity"] for line in order["line_items"])
            assert shipped == 0, "an order with shipped units was cancelled"
            self.seen[order_id].shipped_when_cancelled = shipped

    @rule(
        target=refunds,
        order_id=orders,
        as_customer=st.booleans(),
        units=st.lists(st.integers(0, 2), min_size=2, max_size=2),
        restock=st.booleans(),
        shipping=st.booleans(),
        goodwill=st.sampled_from([0, 0, 150, 100_000]),
        override=st.booleans(),
    )
    def refund(
        self,
        order_id: str,
        as_customer: bool,
        units: list[int],
        restock: bool,
        shipping: bool,
        goodwill: int,
        override: bool,
    ) -> Any:
        order = self.get(f"/v1/orders/{order_id}")
        body: dict[str, Any] = {
            "line_items": [
                {"line_item_id": line["id"], "quantity": n, "restock": restock}
                for line, n in zip(order["line_items"], units, strict=False)
                if n
            ],
            "reason": "damaged",
        }
        if shipping:
            body["shipping"] = {"full": True}
        if goodwill:
            body["amount"] = goodwill
        if override:
            body |= {"override_policy": True, "note": "ops says so"}
        role = "storefront" if as_customer else "ops"
        response = self.change(order_id, "POST", f"/v1/orders/{order_id}/refunds", role, json=body)
        if response is None:
            return multiple()
        refund = response.json()
        assert refund["status"] == "pending"
        self.order_of[refund["id"]] = order_id
        return refund["id"]

    @rule(
        target=refunds,
        refund_id=consumes(refunds),
        outcome=st.sampled_from(["succeeded", "failed", "failed, then retried"]),
    )
    def settle(self, refund_id: str, outcome: str) -> Any:
        """Settle a pending refund; a failed one may be retried at once (and any failed one
        later, by `retry_refund`): the retry joins the refunds to settle."""
        body = {"status": "succeeded", "reference": "re_1"} if outcome == "succeeded" else {
            "status": "failed", "failure_reason": "card closed"
        }  # fmt: skip
        path = f"/v1/refunds/{refund_id}/settle"
        assert self.change(self.order_of[refund_id], "POST", path, json=body) is not None
        if outcome == "succeeded":
            return multiple()
        self.failed.append(refund_id)
        return self._retry(refund_id, False) if outcome != "failed" else multiple()

    @precondition(lambda self: self.failed)
    @rule(target=refunds, data=st.data(), to_store_credit=st.booleans())
    def retry_refund(self, data: st.DataObject, to_store_credit: bool) -> Any:
        """Any failed refund, again: refused once it was retried, or when its units or money
        were refunded since."""
        return self._retry(data.draw(st.sampled_from(self.failed)), to_store_credit)

    def _retry(self, refund_id: str, to_store_credit: bool) -> Any:
        order_id = self.order_of[refund_id]
        body = {"method": "store_credit"} if to_store_credit else {}
        path = f"/v1/refunds/{refund_id}/retry"
        response = self.change(order_id, "POST", path, json=body)
        if response is None:
            return multiple()
        made = response.json()
        assert (made["retry_of"], made["status"]) == (refund_id, "pending")
        self.order_of[made["id"]] = order_id
        return made["id"]

    @rule(order_id=orders, full=st.booleans())
    def capture(self, order_id: str, full: bool) -> None:
        """Capture what is outstanding, or (`full`) the whole authorisation, which an edit
        that lowered the total makes too much: refused, changing nothing."""
        order = self.get(f"/v1/orders/{order_id}")
        uncaptured = order["total_authorized"] - order["total_paid"]
        if order["financial_status"] != "authorized":
            return
        amount = uncaptured if full else min(uncaptured, order["outstanding"])
        body = {"kind": "capture", "amount": max(amount, 1), "status": "success"}
        self.change(order_id, "POST", f"/v1/orders/{order_id}/transactions", json=body)

    @rule(order_id=orders)
    def pay_the_rest(self, order_id: str) -> None:
        """A sale for what an edit that raised the total left outstanding."""
        order = self.get(f"/v1/orders/{order_id}")
        if order["financial_status"] != "partially_paid" or order["outstanding"] <= 0:
            return
        body = {"kind": "sale", "amount": order["outstanding"], "status": "success"}
        self.change(order_id, "POST", f"/v1/orders/{order_id}/transactions", json=body)

    @rule(
        target=refunds,
        order_id=orders,
        as_customer=st.booleans(),
        quantities=st.lists(st.integers(0, 4) | st.none(), min_size=2, max_size=2),
        add=st.integers(0, 2),
        restock=st.booleans(),
        refund=st.booleans(),
    )
    def edit(
        self,
        order_id: str,
        as_customer: bool,
        quantities: list[int | None],
        add: int,
        restock: bool,
        refund: bool,
    ) -> Any:
        """Change quantities, remove and add lines; a refund it makes joins the bundle the
        payments service settles."""
        order = self.get(f"/v1/orders/{order_id}")
        body: dict[str, Any] = {
            "line_items": [
                {"line_item_id": line["id"], "quantity": q}
                for line, q in zip(order["line_items"], quantities, strict=False)
                if q is not None
            ],
            "restock": restock,
            "refund": refund or as_customer,
        }
        if add:
            body["add_line_items"] = [
                {"sku": "CAP", "title": "Cap", "quantity": add, "unit_price": 850}
            ]
        role = "storefront" if as_customer else "ops"
        response = self.change(order_id, "POST", f"/v1/orders/{order_id}/edits", role, json=body)
        if response is None:
            return multiple()
        edit = response.json()
        after = edit["order"]
        assert edit["total_before"] == order["total"]
        assert edit["total_after"] == after["total"]
        assert edit["outstanding_after"] == after["outstanding"]
        assert after["status"] == "open"
        if edit["refund"]:
            assert edit["refund"]["reason"] == "order_edited"
            assert edit["refund"]["amount"] <= order["total"] - after["total"]
            self.order_of[edit["refund"]["id"]] = order_id
            return edit["refund"]["id"]
        return multiple()

    @rule(
        target=returns,
        order_id=orders,
        as_customer=st.booleans(),
        units=st.lists(st.integers(0, 2), min_size=2, max_size=2),
        resolution=st.sampled_from(["refund", "refund", "store_credit", "exchange"]),
        override=st.booleans(),
    )
    def request_return(
        self, order_id: str, as_customer: bool, units: list[int], resolution: str, override: bool
    ) -> Any:
        order = self.get(f"/v1/orders/{order_id}")
        body: dict[str, Any] = {
            "line_items": [
                {"line_item_id": line["id"], "quantity": n, "reason": "size_or_fit"}
                for line, n in zip(order["line_items"], units, strict=False)
                if n
            ],
            "resolution": resolution,
        }
        if not body["line_items"]:
            return multiple()
        if resolution == "exchange":
            body["exchange_line_items"] = [
                {"sku": "TEE-L", "title": "Tee L", "quantity": 1, "unit_price": 2100}
            ]
        if override and not as_customer:
            body |= {"override_policy": True, "note": "ops says so"}
        role = "storefront" if as_customer else "ops"
        response = self.change(order_id, "POST", f"/v1/orders/{order_id}/returns", role, json=body)
        if response is None:
            return multiple()
        found = response.json()
        assert found["status"] == "requested"
        self.order_of[found["id"]] = order_id
        return found["id"]

    @rule(
        target=refunds,
        return_id=returns,
        action=st.sampled_from(
            ["approve", "approve", "claim", "decline", "receive", "receive", "cancel", "close"]
        ),
        refund=st.booleans(),
        deduction=st.sampled_from([0, 0, 100, 10**6]),
        missing=st.booleans(),
    )
    def act_on_return(
        self, return_id: str, action: str, refund: bool, deduction: int, missing: bool
    ) -> Any:
        """Any action in any state: the lifecycle refuses what does not fit; a refund it
        makes joins the bundle the payments service settles."""
        order_id = self.order_of[return_id]
        found = self.get(f"/v1/returns/{return_id}")
        body: dict[str, Any] = {}
        if action == "claim":
            action, body = "approve", {"items_required": False}
        elif action == "receive":
            body = {"refund": refund}
            if deduction:
                body["deductions"] = [{"reason": "restocking_fee", "amount": deduction}]
            if missing:
                body["line_items"] = [
                    {"line_item_id": line["line_item_id"], "quantity": 1, "disposition": "missing"}
                    for line in found["line_items"][:1]
                ]
        elif action == "decline":
            body = {"decline_reason": "no_proof"}
        elif action == "close":
            body = {"refund": refund}
        role = "storefront" if action == "cancel" and refund else "ops"
        path = f"/v1/returns/{return_id}/{action}"
        response = self.change(order_id, "POST", path, role, json=body)
        if response is None:
            return multiple()
        result = response.json()
        if result["refund"]:
            assert result["refund"]["return_id"] == return_id
            self.order_of[result["refund"]["id"]] = order_id
            return result["refund"]["id"]
        return multiple()

    @rule(order_id=orders, now=st.integers(0, 2))
    def archive(self, order_id: str, now: int) -> None:
        if now:
            return
        self.change(order_id, "POST", f"/v1/orders/{order_id}/archive", always=False)

    # after every step -----------------------------------------------------------------------

    @invariant()
    def invariants_hold(self) -> None:
        for order_id, seen in self.seen.items():
            order = self.get(f"/v1/orders/{order_id}")
            assert order["version"] == seen.version, "an order changed behind the machine's back"
            assert (
                order["total_refunded"]
                + order["total_refund_pending"]
                + order["total_exchange_credit"]
                <= order["total_paid"]
            )
            delivered = order["fulfillment_status"] == "delivered"
            assert delivered == (order["delivered_at"] is not None), "delivered without a date"
            shipped = 0
            for line in order["line_items"]:
                quantity = line["quantity"]
                assert 0 <= line["fulfilled_quantity"] <= quantity, line
                assert 0 <= line["shipped_quantity"] <= line["fulfilled_quantity"], line
                assert 0 <= line["restocked_quantity"] <= quantity, line
                assert (
                    line["refunded_quantity"]
                    + line["refund_pending_quantity"]
                    + line["exchanged_quantity"]
                    <= quantity
                ), line
                returns = line["return_requested_quantity"] + line["returned_quantity"]
                assert returns <= line["shipped_quantity"], line
                assert quantity >= 0 and line["removed_quantity"] >= 0, line
                shipped += line["shipped_quantity"]
            if seen.shipped_when_cancelled is not None:
                assert order["status"] == "cancelled"
                assert shipped <= seen.shipped_when_cancelled, "a cancelled order shipped units"
        for order_id in self.seen:
            self.check(order_id)


def test_order_lifecycles_keep_their_invariants(server: Server) -> None:
    run_state_machine_as_test(
        lambda: OrderLifecycle(server),
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=STEPS,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
