"""Transports other than HTTP: the log, a plugin found through entry points, and NATS
JetStream (against the real server on 127.0.0.1:4222)."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest
from standardwebhooks import Webhook

from order_service.app import create_app
from order_service.kit import secrecy
from order_service.settings import Environment
from order_service.webhooks.transports import Message, NatsTransport, Transports
from tests.factories import create_order, problem
from tests.webhooks import memory
from tests.webhooks.conftest import Runner, create_endpoint, eventually, fast_settings
from tests.webhooks.fake_nats import FakeNats

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


async def test_log_endpoints_are_refused_in_production(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    database_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """They would write every message, customer data included, to the service log."""
    made_before = await create_endpoint(client, admin, "log://dev")
    other = await create_endpoint(client, admin, "https://93.184.215.14/hook")
    app = create_app(
        fast_settings(
            database_url,
            env=Environment.production,
            webhook_allow_private_targets=False,
            # the key the endpoints above were sealed with
            encryption_key=secrecy.DEVELOPMENT_KEY,
            cursor_secret="c" * 32,
        )
    )
    caplog.set_level("INFO", logger="order_service.webhooks")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as production:
        response = await production.post(
            "/v1/webhook-endpoints", json={"url": "log://x", "events": ["*"]}, headers=admin
        )
        assert "production" in problem(response, 422, "webhook_transport_not_allowed")["detail"]
        response = await production.patch(
            f"/v1/webhook-endpoints/{other['id']}", json={"url": "log://x"}, headers=admin
        )
        problem(response, 422, "webhook_transport_not_allowed")
        # one made before is not written to the log either
        ping = await production.post(
            f"/v1/webhook-endpoints/{made_before['id']}/ping", headers=admin
        )
        assert ping.status_code == 200
        assert ping.json()["ok"] is False
        assert "production" in ping.json()["error"]
    await app.state.services.engine.dispose()
    assert not [r for r in caplog.records if "webhook.ping" in r.getMessage()]


async def test_nats_endpoints_without_the_nats_client_are_refused(
    client: httpx.AsyncClient, admin: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """nats-py is the optional `nats` extra: without it, creating a nats:// endpoint is a
    422 that says what to install (a None entry in sys.modules makes its import fail)."""
    monkeypatch.setitem(sys.modules, "nats", None)
    response = await client.post(
        "/v1/webhook-endpoints",
        json={"url": f"{NATS_URL}/orders.events", "events": ["*"]},
        headers=admin,
    )
    assert (
        "order-service[nats]" in problem(response, 422, "webhook_transport_unavailable")["detail"]
    )


def test_the_service_starts_without_the_nats_client(database_url: str) -> None:
    """Nothing imports nats-py until a nats:// endpoint is used."""
    script = f"""
import sys
sys.modules["nats"] = None
from order_service import cli, worker
from order_service.app import create_app
from order_service.settings import Environment, Settings
create_app(Settings(env=Environment.test, database_url={database_url!r}))
"""
    done = subprocess.run(  # noqa: S603 - this interpreter and our own script
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr


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


async def test_nats_never_follows_the_servers_a_server_announces(database_url: str) -> None:
    """A NATS server lists other servers in its INFO (`connect_urls`); a client that
    reconnected to them would reach addresses nobody checked. The transport reconnects only
    to the endpoint's own server."""
    internal = await FakeNats().start()
    server = await FakeNats(connect_urls=[f"127.0.0.1:{internal.port}"]).start()
    settings = fast_settings(
        database_url,
        webhook_allow_private_targets=False,
        webhook_trusted_hosts=f"127.0.0.1:{server.port}",
    )
    transport = NatsTransport(settings)
    url = f"nats://127.0.0.1:{server.port}/orders.events"
    message = Message(id="msg_1", type="order.created", body=b"{}", headers={"webhook-id": "1"})
    try:
        assert (await transport.send(url, message)).ok
        assert server.published[0].subject == "orders.events"

        await server.stop()

        async def settled() -> bool:
            closed = all(conn.is_closed for conn in transport.connections.values())
            return internal.accepted > 0 or closed

        await eventually(settled)
        assert internal.accepted == 0
        gone = await transport.send(url, message)  # fails at once; the schedule retries it
        assert not gone.ok
        assert gone.error
        assert "Connect call failed" in gone.error

        await server.start()  # back on the same port
        assert (await transport.send(url, message)).ok
        assert len(server.published) == 2
        assert internal.accepted == 0
    finally:
        await transport.aclose()
        await server.stop()
        await internal.stop()
