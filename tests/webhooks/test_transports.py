"""Transports other than HTTP: the log, a plugin found through entry points, and NATS
JetStream (against the real server on 127.0.0.1:4222)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest
from standardwebhooks import Webhook

from order_service.webhooks.transports import Transports
from tests.factories import create_order, problem
from tests.webhooks import memory
from tests.webhooks.conftest import Runner, create_endpoint, eventually

NATS_URL = "nats://127.0.0.1:4222"


async def _delivered(client: httpx.AsyncClient, ops: dict[str, str], endpoint: str) -> bool:
    data = (await client.get(f"/v1/webhook-endpoints/{endpoint}/deliveries", headers=ops)).json()[
        "data"
    ]
    return bool(data) and all(d["status"] == "succeeded" for d in data)


async def test_log_transport(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    storefront: dict[str, str],
    ops: dict[str, str],
    run_dispatcher: Runner,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await run_dispatcher()
    endpoint = await create_endpoint(client, admin, "log://dev")
    caplog.set_level("INFO", logger="order_service.webhooks")
    await create_order(client, storefront)
    await eventually(lambda: _delivered(client, ops, endpoint["id"]))
    assert any("order.created" in r.getMessage() for r in caplog.records)


async def test_plugin_transport_from_an_entry_point(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    storefront: dict[str, str],
    ops: dict[str, str],
    run_dispatcher: Runner,
    app: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    problem(
        await client.post(
            "/v1/webhook-endpoints", json={"url": "mem://inbox", "events": ["*"]}, headers=admin
        ),
        422,
        "invalid_webhook_url",
    )
    dist = tmp_path / "order_service_memory-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: order-service-memory\n")
    (dist / "entry_points.txt").write_text(
        "[order_service.transports]\nmem = tests.webhooks.memory:MemoryTransport\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    app.state.services.transports = Transports(app.state.services.settings)
    assert "mem" in app.state.services.transports.schemes
    await run_dispatcher()
    endpoint = await create_endpoint(client, admin, "mem://inbox")
    order = await create_order(client, storefront)
    await eventually(lambda: _delivered(client, ops, endpoint["id"]))
    url, message = memory.SENT[-1]
    assert url == "mem://inbox"
    assert json.loads(message.body)["data"]["order"]["id"] == order["id"]
    Webhook(endpoint["secret"]).verify(message.body, dict(message.headers))


async def test_nats_jetstream_transport(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    storefront: dict[str, str],
    ops: dict[str, str],
    run_dispatcher: Runner,
) -> None:
    name = f"orders_test_{uuid.uuid4().hex[:8]}"
    subject = f"{name}.events"
    conn = await nats.connect(NATS_URL)
    js = conn.jetstream()
    await js.add_stream(name=name, subjects=[f"{name}.>"])
    try:
        await run_dispatcher()
        endpoint = await create_endpoint(client, admin, f"{NATS_URL}/{subject}")
        missing = await create_endpoint(client, admin, f"{NATS_URL}/nostream_{name}.x")
        order = await create_order(client, storefront)
        await eventually(lambda: _delivered(client, ops, endpoint["id"]))
        subscription = await js.pull_subscribe(subject, durable=f"{name}_reader")
        (msg,) = await subscription.fetch(1, timeout=5)
        headers = dict(msg.headers or {})
        payload = Webhook(endpoint["secret"]).verify(msg.data, headers)
        assert payload["type"] == "order.created"
        assert payload["data"]["order"]["id"] == order["id"]
        assert headers["Nats-Msg-Id"] == headers["webhook-id"]
        await msg.ack()

        # no stream captures the subject: the publish fails and is retried, never lost
        async def failed_attempt() -> bool:
            data = (
                await client.get(f"/v1/webhook-endpoints/{missing['id']}/deliveries", headers=ops)
            ).json()["data"]
            return bool(data and data[0]["attempts"])

        await eventually(failed_attempt)
        data = (
            await client.get(f"/v1/webhook-endpoints/{missing['id']}/deliveries", headers=ops)
        ).json()["data"]
        assert data[0]["attempts"][0]["error"]
        assert data[0]["status"] in {"pending", "failed"}
    finally:
        await js.delete_stream(name)
        await conn.close()
