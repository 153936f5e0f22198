from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest

from order_service.app import create_app
from tests.factories import problem
from tests.webhooks.conftest import create_endpoint, fast_settings

URL = "https://hooks.example.com/orders"


async def test_create_shows_the_secret_once(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    created = await create_endpoint(
        client,
        admin,
        "http://127.0.0.1:9/x",
        events=["order.created", "refund.created"],
        description="emails",
    )
    assert created["id"].startswith("whe_")
    assert created["secret"].startswith("whsec_")
    assert len(base64.b64decode(created["secret"].removeprefix("whsec_"))) >= 24
    assert created["events"] == ["order.created", "refund.created"]
    assert created["enabled"] is True and created["disabled_reason"] is None
    fetched = (await client.get(f"/v1/webhook-endpoints/{created['id']}", headers=admin)).json()
    assert "secret" not in fetched
    assert fetched["description"] == "emails"
    listed = (await client.get("/v1/webhook-endpoints", headers=admin)).json()
    assert [e["id"] for e in listed["data"]] == [created["id"]]
    assert "secret" not in listed["data"][0]


async def test_star_swallows_other_topics_and_duplicates_collapse(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    star = await create_endpoint(client, admin, "log://a", events=["order.created", "*"])
    assert star["events"] == ["*"]
    dup = await create_endpoint(client, admin, "log://b", events=["order.created"] * 3)
    assert dup["events"] == ["order.created"]


async def test_list_is_paginated(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    ids = [(await create_endpoint(client, admin, f"log://{i}"))["id"] for i in range(3)]
    first = (await client.get("/v1/webhook-endpoints?limit=2", headers=admin)).json()
    second = (
        await client.get(
            f"/v1/webhook-endpoints?limit=2&cursor={first['next_cursor']}", headers=admin
        )
    ).json()
    assert [e["id"] for e in first["data"] + second["data"]] == ids[::-1]
    assert second["next_cursor"] is None


async def test_patch_changes_only_what_is_sent(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    endpoint = await create_endpoint(client, admin, "log://x", description="before")
    url = f"/v1/webhook-endpoints/{endpoint['id']}"
    response = await client.patch(url, json={"enabled": False}, headers=admin)
    assert response.status_code == 200
    body = response.json()
    assert body["enabled"] is False and body["disabled_reason"] == "manual"
    assert body["description"] == "before"
    body = (
        await client.patch(
            url, json={"enabled": True, "events": ["order.cancelled"]}, headers=admin
        )
    ).json()
    assert body["enabled"] is True and body["disabled_reason"] is None
    assert body["events"] == ["order.cancelled"]
    problem(
        await client.patch(url, json={"url": "ftp://files.example.com"}, headers=admin),
        422,
        "invalid_webhook_url",
    )


async def test_delete(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    endpoint = await create_endpoint(client, admin, "log://x")
    url = f"/v1/webhook-endpoints/{endpoint['id']}"
    assert (await client.delete(url, headers=admin)).status_code == 204
    problem(await client.get(url, headers=admin), 404, "webhook_endpoint_not_found")
    problem(await client.delete(url, headers=admin), 404, "webhook_endpoint_not_found")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"url": "ftp://files.example.com/x", "events": ["*"]}, "invalid_webhook_url"),
        ({"url": "hooks.example.com/x", "events": ["*"]}, "invalid_webhook_url"),
        ({"url": "https:///nohost", "events": ["*"]}, "invalid_webhook_url"),
        ({"url": "https://example.com:99999/x", "events": ["*"]}, "invalid_webhook_url"),
        ({"url": "https://93.184.215.14:0/x", "events": ["*"]}, "invalid_webhook_url"),
        ({"url": "nats://93.184.215.14:0/orders.events", "events": ["*"]}, "invalid_webhook_url"),
        ({"url": "nats://127.0.0.1:4222/bad subject", "events": ["*"]}, "invalid_webhook_url"),
        ({"url": "a://[", "events": ["*"]}, "invalid_webhook_url"),
        ({"url": URL, "events": ["order.exploded"]}, "validation_error"),
        ({"url": URL, "events": []}, "validation_error"),
        ({"url": URL}, "validation_error"),
        ({"url": URL, "events": ["*"], "secret": "mine"}, "validation_error"),
        ({"url": "x" * 3000, "events": ["*"]}, "validation_error"),
    ],
)
async def test_invalid_endpoints_are_refused_with_a_stable_code(
    client: httpx.AsyncClient, admin: dict[str, str], body: dict[str, Any], code: str
) -> None:
    response = await client.post("/v1/webhook-endpoints", json=body, headers=admin)
    problem(response, 422, code)


async def test_unknown_endpoint_is_404(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    for method, suffix in [
        ("GET", ""),
        ("PATCH", ""),
        ("POST", "/rotate-secret"),
        ("POST", "/ping"),
        ("GET", "/deliveries"),
    ]:
        response = await client.request(
            method,
            f"/v1/webhook-endpoints/whe_nope{suffix}",
            headers=admin,
            json={} if method == "PATCH" else None,
        )
        problem(response, 404, "webhook_endpoint_not_found")


async def test_only_admins_manage_endpoints(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    ops: dict[str, str],
    storefront: dict[str, str],
) -> None:
    endpoint = await create_endpoint(client, admin, "log://x")
    one = f"/v1/webhook-endpoints/{endpoint['id']}"
    calls = [
        ("POST", "/v1/webhook-endpoints", {"url": URL, "events": ["*"]}),
        ("GET", "/v1/webhook-endpoints", None),
        ("GET", one, None),
        ("PATCH", one, {"enabled": False}),
        ("DELETE", one, None),
        ("POST", f"{one}/rotate-secret", None),
        ("POST", f"{one}/ping", None),
    ]
    for method, path, body in calls:
        for headers in (ops, storefront):
            problem(
                await client.request(method, path, json=body, headers=headers), 403, "forbidden"
            )
        problem(await client.request(method, path, json=body), 401, "unauthenticated")
    # ops investigate deliveries; storefronts do not
    assert (await client.get(f"{one}/deliveries", headers=ops)).status_code == 200
    problem(await client.get(f"{one}/deliveries", headers=storefront), 403, "forbidden")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://localhost:8080/hook",
        "https://10.1.2.3/hook",
        "https://192.168.0.10/hook",
        "https://172.16.5.4/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/latest/meta-data/",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://[2002:a01:203::1]/hook",
        "http://[2002:a9fe:a9fe::]/latest/meta-data/",
        "http://[64:ff9b::a01:203]/hook",
        "http://[::a01:203]/hook",
        "http://[2001:0:5db8:d70e::f5fe:fcfc]/hook",
        "nats://[2002:7f00:1::]:4222/orders.events",
        "http://0.0.0.0/hook",
        "http://100.100.100.200/hook",
        "nats://127.0.0.1:4222/orders.events",
    ],
)
async def test_private_targets_are_refused_unless_allowed(
    database_url: str, admin: dict[str, str], url: str
) -> None:
    app = create_app(fast_settings(database_url, webhook_allow_private_targets=False))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as strict:
        response = await strict.post(
            "/v1/webhook-endpoints", json={"url": url, "events": ["*"]}, headers=admin
        )
        body = problem(response, 422, "webhook_target_not_allowed")
        assert "public" in body["detail"]
    await app.state.services.engine.dispose()


async def test_public_and_trusted_targets_are_accepted(
    database_url: str, admin: dict[str, str]
) -> None:
    app = create_app(
        fast_settings(
            database_url,
            webhook_allow_private_targets=False,
            webhook_trusted_hosts="nats.internal.test,127.0.0.1:4222",
        )
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as strict:
        for url in (
            "https://93.184.215.14/hook",
            "https://[2002:5db8:d70e::1]/hook",
            "https://[64:ff9b::5db8:d70e]/hook",
            "nats://127.0.0.1:4222/orders.events",
            "http://nats.internal.test/whatever",
        ):
            response = await strict.post(
                "/v1/webhook-endpoints", json={"url": url, "events": ["*"]}, headers=admin
            )
            assert response.status_code == 201, (url, response.text)
        problem(
            await strict.post(
                "/v1/webhook-endpoints",
                json={"url": "http://host.invalid/x", "events": ["*"]},
                headers=admin,
            ),
            422,
            "webhook_url_unresolvable",
        )
    await app.state.services.engine.dispose()
