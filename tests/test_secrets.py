"""Secrets are shown once: in the response that made them, nowhere in the database or logs,
and not in a replay of that response."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.engine import make_url

from order_service.app import create_app
from order_service.kit import embedded, secrecy
from order_service.kit.logs import JsonFormatter
from order_service.settings import Environment, Settings
from order_service.webhooks import signing
from tests.factories import create_order, problem


async def _dump(database_url: str) -> str:
    """The whole database as `pg_dump` writes it."""
    url = make_url(database_url).set(drivername="postgresql")
    process = await asyncio.create_subprocess_exec(
        str(embedded.bin_dir() / "pg_dump"),
        "--dbname",
        url.render_as_string(hide_password=False),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    return out.decode()


def _forms(secret: str) -> list[str]:
    """How a secret could sit in a dump: as text, without its prefix, in a bytea's hex, and
    (a webhook secret) as the hex of the key bytes it encodes."""
    forms = [secret, secret[10:], secret.encode().hex()]
    if secret.startswith("whsec_"):
        forms.append(base64.b64decode(secret.removeprefix("whsec_")).hex())
    return forms


def _keyed(headers: dict[str, str], key: str) -> dict[str, str]:
    return {**headers, "Idempotency-Key": key}


async def test_no_secret_is_kept_in_the_database_or_the_logs(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    storefront: dict[str, str],
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    key = await client.post(
        "/v1/api-keys", json={"name": "pos", "role": "ops"}, headers=_keyed(admin, "k-1")
    )
    assert key.status_code == 201, key.text
    endpoint = await client.post(
        "/v1/webhook-endpoints",
        json={"url": "log://audit", "events": ["*"]},
        headers=_keyed(admin, "w-1"),
    )
    assert endpoint.status_code == 201, endpoint.text
    rotated = await client.post(
        f"/v1/webhook-endpoints/{endpoint.json()['id']}/rotate-secret",
        headers=_keyed(admin, "r-1"),
    )
    assert rotated.status_code == 200, rotated.text
    ping = await client.post(f"/v1/webhook-endpoints/{endpoint.json()['id']}/ping", headers=admin)
    assert ping.json()["ok"] is True
    await create_order(client, storefront)
    secrets = [key.json()["key"], endpoint.json()["secret"], rotated.json()["secret"]]
    assert all(secrets)

    assert settings.database_url
    dump = await _dump(settings.database_url)
    assert "COPY public.idempotency_keys" in dump and "COPY public.webhook_endpoints" in dump
    logged = "\n".join(JsonFormatter().format(record) for record in caplog.records)
    assert "/v1/api-keys" in logged
    for secret in secrets:
        for form in _forms(secret):
            assert form not in dump, f"{form} is in the database"
            assert form not in logged, f"{form} is in the logs"


async def test_a_replay_shows_the_resource_without_the_secret(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    created = await client.post(
        "/v1/webhook-endpoints",
        json={"url": "log://audit", "events": ["order.created"]},
        headers=_keyed(admin, "w-2"),
    )
    again = await client.post(
        "/v1/webhook-endpoints",
        json={"url": "log://audit", "events": ["order.created"]},
        headers=_keyed(admin, "w-2"),
    )
    assert created.status_code == again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert created.json()["secret"].startswith("whsec_")
    assert again.json() == {**created.json(), "secret": None}

    url = f"/v1/webhook-endpoints/{created.json()['id']}/rotate-secret"
    rotated = await client.post(url, headers=_keyed(admin, "r-2"))
    replayed = await client.post(url, headers=_keyed(admin, "r-2"))
    assert rotated.status_code == replayed.status_code == 200
    assert replayed.headers["idempotent-replayed"] == "true"
    assert rotated.json()["secret"] not in (None, created.json()["secret"])
    assert replayed.json() == {**rotated.json(), "secret": None}


async def test_a_replay_after_revocation_shows_no_key_and_the_key_stays_revoked(
    client: httpx.AsyncClient, admin: dict[str, str], db: Any
) -> None:
    body = {"name": "till 4", "role": "ops"}
    created = await client.post("/v1/api-keys", json=body, headers=_keyed(admin, "k-2"))
    assert created.status_code == 201, created.text
    issued = created.json()["key"]
    assert issued.startswith("osk_")
    bearer = {"Authorization": f"Bearer {issued}"}
    assert (await client.get("/v1/orders", headers=bearer)).status_code == 200
    revoked = await client.delete(f"/v1/api-keys/{created.json()['id']}", headers=admin)
    assert revoked.status_code == 200

    replayed = await client.post("/v1/api-keys", json=body, headers=_keyed(admin, "k-2"))
    assert replayed.status_code == 201
    assert replayed.headers["idempotent-replayed"] == "true"
    assert replayed.json() == {**created.json(), "key": None}
    async with db() as session:
        records = (await session.execute(text("SELECT response_body FROM idempotency_keys"))).all()
    assert [json.loads(r.response_body)["key"] for r in records] == [None]
    problem(await client.get("/v1/orders", headers=bearer), 401, "unauthenticated")


def test_production_needs_an_encryption_key_of_32_characters() -> None:
    production = {
        "env": Environment.production,
        "database_url": "postgresql://db/orders",
        "cursor_secret": "c" * 32,
    }
    with pytest.raises(ValidationError, match="ORDER_SERVICE_ENCRYPTION_KEY is required"):
        Settings(**production)
    with pytest.raises(ValidationError, match="encryption_key"):
        Settings(**production, encryption_key="short")
    configured = Settings(**production, encryption_key="x" * 32)
    assert "x" * 32 not in repr(configured)


def test_a_secret_opens_only_with_the_key_it_was_sealed_with() -> None:
    secret = signing.generate_secret()
    sealed = secrecy.Vault("k" * 32).seal(secret)
    assert secret not in sealed
    assert secrecy.Vault("k" * 32).open(sealed) == secret
    with pytest.raises(secrecy.SecretUnreadable, match="ORDER_SERVICE_ENCRYPTION_KEY"):
        secrecy.Vault("j" * 32).open(sealed)


async def test_a_ping_after_the_encryption_key_changed_says_so(
    client: httpx.AsyncClient, admin: dict[str, str], database_url: str
) -> None:
    """A secret the configured key cannot read is a failed attempt naming the cause (the
    endpoint's deliveries and the ping show it), not a 500."""
    endpoint = (
        await client.post(
            "/v1/webhook-endpoints",
            json={"url": "http://127.0.0.1:9/hook", "events": ["*"]},
            headers=admin,
        )
    ).json()
    other_key = Settings(
        env=Environment.test,
        database_url=database_url,
        webhook_allow_private_targets=True,
        encryption_key="another key of at least thirty-two characters",
    )
    app = create_app(other_key)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as changed:
        ping = await changed.post(f"/v1/webhook-endpoints/{endpoint['id']}/ping", headers=admin)
    await app.state.services.engine.dispose()
    assert ping.status_code == 200, ping.text
    assert ping.json()["ok"] is False
    assert "ORDER_SERVICE_ENCRYPTION_KEY" in ping.json()["error"]
