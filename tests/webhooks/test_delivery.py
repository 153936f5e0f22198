"""End to end: orders change, a real dispatcher signs and sends, a loopback receiver checks."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from order_service.webhooks import metrics
from tests.conftest import Clock
from tests.factories import create_order, problem
from tests.webhooks.conftest import Runner, create_endpoint, eventually
from tests.webhooks.receiver import Receiver, Request


async def deliveries(client: httpx.AsyncClient, ops: dict[str, str], endpoint: str) -> Any:
    response = await client.get(f"/v1/webhook-endpoints/{endpoint}/deliveries", headers=ops)
    assert response.status_code == 200, response.text
    return response.json()["data"]


async def test_events_arrive_signed_and_verifiable(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    storefront: dict[str, str],
    ops: dict[str, str],
    receiver: Receiver,
    run_dispatcher: Runner,
) -> None:
    await run_dispatcher()
    endpoint = await create_endpoint(client, admin, receiver.url, events=["order.created"])
    order = await create_order(client, storefront)
    (request,) = await receiver.wait_for(1)
    payload = Webhook(endpoint["secret"]).verify(request.body, request.headers)
    assert payload["type"] == "order.created"
    assert payload["data"]["order"]["id"] == order["id"]
    assert payload["data"]["order"]["version"] == order["version"]
    assert payload["timestamp"].endswith("Z")
    event = (await client.get(f"/v1/events?order_id={order['id']}", headers=ops)).json()["data"][0]
    assert request.headers["webhook-id"] == event["id"]
    assert payload["data"] == event["data"]
    assert request.headers["content-type"] == "application/json"
    # a different secret does not verify
    other = await create_endpoint(client, admin, "log://other")
    with pytest.raises(WebhookVerificationError, match="signature"):
        Webhook(other["secret"]).verify(request.body, request.headers)
    await eventually(
        lambda: _status(client, ops, endpoint["id"], "succeeded"),
    )


async def _status(
    client: httpx.AsyncClient, ops: dict[str, str], endpoint: str, status: str
) -> bool:
    found = await deliveries(client, ops, endpoint)
    return bool(found) and all(d["status"] == status for d in found)


async def test_unsubscribed_topics_are_not_sent(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    storefront: dict[str, str],
    ops: dict[str, str],
    receiver: Receiver,
    run_dispatcher: Runner,
) -> None:
    await run_dispatcher()
    endpoint = await create_endpoint(client, admin, receiver.url, events=["order.cancelled"])
    await create_order(client, storefront)
    await asyncio.sleep(0.5)
    assert receiver.requests == []
    assert await deliveries(client, ops, endpoint["id"]) == []


async def test_failures_are_retried_with_the_same_id_and_every_attempt_is_listed(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    storefront: dict[str, str],
    ops: dict[str, str],
    receiver: Receiver,
    run_dispatcher: Runner,
) -> None:
    replies = iter([(500, {}, b"boom"), (503, {"retry-after": "1"}, b""), (204, {}, b"")])
    receiver.respond = lambda _: next(replies)
    await run_dispatcher()
    endpoint = await create_endpoint(client, admin, receiver.url)
    await create_order(client, storefront)
    requests = await receiver.wait_for(3)
    assert len({r.id for r in requests}) == 1
    for r in requests:
        Webhook(endpoint["secret"]).verify(r.body, r.headers)
    assert requests[1].at - requests[0].at >= 0.15  # the schedule: 0.2 s
    assert requests[2].at - requests[1].at >= 0.95  # Retry-After: 1 beats the schedule
    await eventually(lambda: _status(client, ops, endpoint["id"], "succeeded"))
    (delivery,) = await deliveries(client, ops, endpoint["id"])
    assert delivery["attempt_count"] == 3
    assert [a["status_code"] for a in delivery["attempts"]] == [500, 503, 204]
    assert delivery["attempts"][0]["error"] == "HTTP 500: boom"
    assert delivery["attempts"][0]["next_retry_at"] is not None
    assert delivery["attempts"][2]["error"] is None
    assert delivery["attempts"][2]["next_retry_at"] is None
    assert all(a["duration_ms"] >= 0 for a in delivery["attempts"])
    endpoint_now = (
        await client.get(f"/v1/webhook-endpoints/{endpoint['id']}", headers=admin)
    ).json()
    assert endpoint_now["failing_since"] is None


async def test_exhausted_deliveries_fail_and_can_be_redelivered(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    storefront: dict[str, str],
    ops: dict[str, str],
    receiver: Receiver,
    run_dispatcher: Runner,
) -> None:
    receiver.respond = lambda _: (500, {}, b"")
    await run_dispatcher()
    endpoint = await create_endpoint(client, admin, receiver.url)
    await create_order(client, storefront)
    await receiver.wait_for(4)  # first attempt + 3 retries
    await eventually(lambda: _status(client, ops, endpoint["id"], "failed"))
    (failed,) = await deliveries(client, ops, endpoint["id"])
    assert failed["attempt_count"] == 4 and failed["next_attempt_at"] is None
    await asyncio.sleep(0.5)
    assert len(receiver.requests) == 4

    receiver.respond = lambda _: (200, {}, b"")
    redelivered = await client.post(f"/v1/events/{failed['event_id']}/redeliver", headers=ops)
    assert redelivered.status_code == 202, redelivered.text
    assert [d["status"] for d in redelivered.json()["data"]] == ["pending"]
    await receiver.wait_for(5)
    assert receiver.requests[4].id == receiver.requests[0].id == failed["event_id"]
    await eventually(lambda: _status(client, ops, endpoint["id"], "succeeded"))
    (done,) = await deliveries(client, ops, endpoint["id"])
    assert len(done["attempts"]) == 5


async def test_redelivery_targets_and_refusals(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    storefront: dict[str, str],
    ops: dict[str, str],
    receiver: Receiver,
    run_dispatcher: Runner,
) -> None:
    order = await create_order(client, storefront)  # before any endpoint exists
    events = (await client.get(f"/v1/events?order_id={order['id']}", headers=ops)).json()
    event_id = events["data"][0]["id"]
    url = f"/v1/events/{event_id}/redeliver"
    problem(await client.post(url, headers=ops), 409, "no_subscribed_endpoints")
    problem(await client.post("/v1/events/evt_nope/redeliver", headers=ops), 404, "not_found")
    problem(await client.post(url, headers=storefront), 403, "forbidden")
    problem(
        await client.post(url, json={"endpoint_id": "whe_nope"}, headers=ops),
        404,
        "webhook_endpoint_not_found",
    )
    off = await create_endpoint(client, admin, receiver.url, enabled=False)
    problem(
        await client.post(url, json={"endpoint_id": off["id"]}, headers=ops),
        409,
        "webhook_endpoint_disabled",
    )
    late = await create_endpoint(client, admin, receiver.url)
    await run_dispatcher()
    response = await client.post(url, json={"endpoint_id": late["id"]}, headers=ops)
    assert response.status_code == 202
    (request,) = await receiver.wait_for(1)
    assert request.id == event_id
    Webhook(late["secret"]).verify(request.body, request.headers)


async def test_410_disables_the_endpoint_until_re_enabled(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    storefront: dict[str, str],
    ops: dict[str, str],
    receiver: Receiver,
    run_dispatcher: Runner,
) -> None:
    receiver.respond = lambda _: (410, {}, b"gone")
    await run_dispatcher()
    endpoint = await create_endpoint(client, admin, receiver.url)
    url = f"/v1/webhook-endpoints/{endpoint['id']}"
    before = REGISTRY.get_sample_value(
        "order_service_webhook_endpoints_disabled_total", {"reason": "gone"}
    )
    order = await create_order(client, storefront)
    await receiver.wait_for(1)

    async def disabled() -> bool:
        return (await client.get(url, headers=admin)).json()["enabled"] is False

    await eventually(disabled)
    body = (await client.get(url, headers=admin)).json()
    assert body["disabled_reason"] == "gone" and body["disabled_at"]
    assert (await deliveries(client, ops, endpoint["id"]))[0]["status"] == "failed"
    after = REGISTRY.get_sample_value(
        "order_service_webhook_endpoints_disabled_total", {"reason": "gone"}
    )
    assert after == (before or 0) + 1
    scraped = (await client.get("/metrics")).text
    assert "order_service_webhook_disabled_endpoints 1.0" in scraped
    # nothing more is sent or queued while disabled
    await client.post(f"/v1/orders/{order['id']}/archive", headers=ops)
    await asyncio.sleep(0.5)
    assert len(receiver.requests) == 1
    assert (await client.post(f"{url}/ping", headers=admin)).status_code == 409
    # re-enabled, it receives again
    receiver.respond = lambda _: (200, {}, b"")
    assert (await client.patch(url, json={"enabled": True}, headers=admin)).status_code == 200
    await create_order(client, storefront)
    await receiver.wait_for(2)


async def test_an_endpoint_failing_for_days_is_disabled(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    storefront: dict[str, str],
    receiver: Receiver,
    run_dispatcher: Runner,
    clock: Clock,
) -> None:
    receiver.respond = lambda _: (500, {}, b"")
    await run_dispatcher()
    endpoint = await create_endpoint(client, admin, receiver.url)
    url = f"/v1/webhook-endpoints/{endpoint['id']}"
    await create_order(client, storefront)
    await receiver.wait_for(1)
    await eventually(lambda: _json_field(client, url, admin, "failing_since", expect_set=True))
    clock.advance(timedelta(days=3, minutes=1))
    await eventually(lambda: _json_field(client, url, admin, "enabled", expect_set=False))
    body = (await client.get(url, headers=admin)).json()
    assert body["disabled_reason"] == "failing"
    await client.get("/metrics")
    assert REGISTRY.get_sample_value("order_service_webhook_disabled_endpoints") == 1


async def _json_field(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], field: str, *, expect_set: bool
) -> bool:
    return bool((await client.get(url, headers=headers)).json()[field]) is expect_set


async def test_events_of_one_order_arrive_in_order(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    storefront: dict[str, str],
    ops: dict[str, str],
    receiver: Receiver,
    run_dispatcher: Runner,
) -> None:
    seen: dict[str, int] = {}

    def flaky(request: Request) -> tuple[int, dict[str, str], bytes]:
        # every event fails on its first attempt: later events must wait for the retry
        seen[request.id] = seen.get(request.id, 0) + 1
        return (500, {}, b"") if seen[request.id] == 1 else (200, {}, b"")

    receiver.respond = flaky
    endpoint = await create_endpoint(client, admin, receiver.url)
    order = await create_order(client, storefront)
    other = await create_order(client, storefront)
    for tag in ("a", "b", "c"):
        response = await client.patch(
            f"/v1/orders/{order['id']}", json={"tags": [tag]}, headers=ops
        )
        assert response.status_code == 200, response.text
    await run_dispatcher()
    await run_dispatcher()  # two workers must still keep the order
    await eventually(lambda: _status(client, ops, endpoint["id"], "succeeded"))
    emitted = (await client.get(f"/v1/events?order_id={order['id']}", headers=ops)).json()
    expected = [e["id"] for e in reversed(emitted["data"])]
    assert len(expected) == 4
    mine = [r.id for r in receiver.requests if r.json["data"]["order"]["id"] == order["id"]]
    assert mine == [i for i in expected for _ in (1, 2)]  # each: failed, then delivered
    assert any(r.json["data"]["order"]["id"] == other["id"] for r in receiver.requests)


async def test_secret_rotation_signs_with_both_secrets_for_a_day(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    storefront: dict[str, str],
    receiver: Receiver,
    run_dispatcher: Runner,
    clock: Clock,
) -> None:
    await run_dispatcher()
    endpoint = await create_endpoint(client, admin, receiver.url)
    old = endpoint["secret"]
    rotated = await client.post(
        f"/v1/webhook-endpoints/{endpoint['id']}/rotate-secret", headers=admin
    )
    assert rotated.status_code == 200
    new = rotated.json()["secret"]
    assert new != old and new.startswith("whsec_")
    assert rotated.json()["previous_secret_expires_at"]
    await create_order(client, storefront)
    (request,) = await receiver.wait_for(1)
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    Webhook(new).verify(request.body, request.headers)
    Webhook(old).verify(request.body, request.headers)

    clock.advance(timedelta(hours=24, seconds=1))
    await create_order(client, storefront)
    await receiver.wait_for(2)
    assert len(receiver.requests[1].headers["webhook-signature"].split(" ")) == 1


async def test_ping_reports_how_the_endpoint_answered(
    client: httpx.AsyncClient, admin: dict[str, str], receiver: Receiver
) -> None:
    endpoint = await create_endpoint(client, admin, receiver.url)
    response = await client.post(f"/v1/webhook-endpoints/{endpoint['id']}/ping", headers=admin)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["ok"] is True and result["status_code"] == 200 and result["error"] is None
    (request,) = receiver.requests
    payload = Webhook(endpoint["secret"]).verify(request.body, request.headers)
    assert payload["type"] == "webhook.ping"
    assert request.headers["webhook-id"] == result["webhook_id"]

    receiver.respond = lambda _: (302, {"location": "http://169.254.169.254/"}, b"")
    result = (
        await client.post(f"/v1/webhook-endpoints/{endpoint['id']}/ping", headers=admin)
    ).json()
    assert result["ok"] is False and result["status_code"] == 302
    assert "not followed" in result["error"]
    assert len(receiver.requests) == 2  # the redirect was not followed

    closed = await create_endpoint(client, admin, "http://127.0.0.1:9/nothing-listens")
    result = (await client.post(f"/v1/webhook-endpoints/{closed['id']}/ping", headers=admin)).json()
    assert result["ok"] is False and result["status_code"] is None and "Connect" in result["error"]


async def test_private_targets_are_checked_again_at_delivery(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    storefront: dict[str, str],
    ops: dict[str, str],
    receiver: Receiver,
    run_dispatcher: Runner,
    app: Any,
) -> None:
    """The endpoint was accepted (private targets allowed then); a dispatcher running with
    the rule in force refuses to send to it, as it would after a DNS change."""
    from order_service.http.context import Services
    from tests.webhooks.conftest import fast_settings

    endpoint = await create_endpoint(client, admin, receiver.url)
    base = app.state.services
    strict = Services(
        settings=fast_settings(base.settings.database_url, webhook_allow_private_targets=False),
        engine=base.engine,
        sessionmaker=base.sessionmaker,
        clock=base.clock,
    )
    await run_dispatcher(strict)
    await create_order(client, storefront)

    async def refused() -> bool:
        found = await deliveries(client, ops, endpoint["id"])
        return bool(found and found[0]["attempts"])

    await eventually(refused)
    attempt = (await deliveries(client, ops, endpoint["id"]))[0]["attempts"][0]
    assert "not a public address" in attempt["error"] and attempt["status_code"] is None
    assert receiver.requests == []
    await strict.transports.aclose()


async def test_backlog_metrics(
    client: httpx.AsyncClient, admin: dict[str, str], storefront: dict[str, str]
) -> None:
    await create_endpoint(client, admin, "log://nobody-dispatches")
    await create_order(client, storefront)
    await create_order(client, storefront)
    text = (await client.get("/metrics")).text
    assert "order_service_webhook_backlog 2.0" in text
    assert REGISTRY.get_sample_value("order_service_webhook_oldest_pending_seconds") is not None
    assert metrics.BACKLOG._value.get() == 2


async def test_a_keyed_request_delivers_each_event_once_and_in_order(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    storefront: dict[str, str],
    ops: dict[str, str],
    receiver: Receiver,
    run_dispatcher: Runner,
) -> None:
    """The events of a request with an Idempotency-Key are written with its replay record,
    in one statement: a cancellation's three must keep their order, fan out, wake the
    dispatcher, and a replay must add none."""
    await run_dispatcher()
    endpoint = await create_endpoint(client, admin, receiver.url)
    order = await create_order(client, storefront)
    await receiver.wait_for(1)
    headers = {**storefront, "Idempotency-Key": "cancel-once"}
    first = await client.post(f"/v1/orders/{order['id']}/cancel", headers=headers)
    assert first.status_code == 200, first.text
    replay = await client.post(f"/v1/orders/{order['id']}/cancel", headers=headers)
    assert replay.headers["idempotent-replayed"] == "true"

    arrived = await receiver.wait_for(4)
    types = [Webhook(endpoint["secret"]).verify(r.body, r.headers)["type"] for r in arrived]
    assert types == ["order.created", "refund.created", "order.cancelled", "order.restock"]
    events = (await client.get(f"/v1/events?order_id={order['id']}", headers=ops)).json()["data"]
    assert [e["type"] for e in reversed(events)] == types
    assert [r.headers["webhook-id"] for r in arrived] == [e["id"] for e in reversed(events)]
    await asyncio.sleep(0.3)  # nothing more comes
    assert len(receiver.requests) == 4
    listed = await deliveries(client, ops, endpoint["id"])
    assert sorted(d["event_id"] for d in listed) == sorted(e["id"] for e in events)
    assert all(d["id"].startswith("whd_") and len(d["id"]) == 30 for d in listed)
