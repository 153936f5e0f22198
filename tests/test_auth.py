"""Who may do what: every endpoint group against every role."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.factories import Keys, create_order, order_body, problem

ORDER = "ord_00000000000000000000000000"
# (method, path, json, roles allowed)
MATRIX: list[tuple[str, str, Any, set[str]]] = [
    ("POST", "/v1/orders", order_body(), {"storefront", "ops", "admin"}),
    ("GET", "/v1/orders", None, {"storefront", "ops", "admin"}),
    ("GET", "/v1/orders/{id}", None, {"storefront", "ops", "admin"}),
    ("PATCH", "/v1/orders/{id}", {"note": "x"}, {"ops", "admin"}),
    ("POST", "/v1/orders/{id}/archive", None, {"ops", "admin"}),
    ("POST", "/v1/orders/{id}/unarchive", None, {"ops", "admin"}),
    ("POST", "/v1/orders/{id}/transactions", {"kind": "void"}, {"ops", "admin"}),
    ("GET", "/v1/orders/{id}/events", None, {"ops", "admin"}),
    ("GET", "/v1/orders/{id}/cancellation", None, {"storefront", "ops", "admin"}),
    ("POST", "/v1/orders/{id}/refunds/calculate", {}, {"storefront", "ops", "admin"}),
    ("GET", "/v1/orders/{id}/refunds", None, {"storefront", "ops", "admin"}),
    ("POST", "/v1/orders/{id}/refunds", {}, {"storefront", "ops", "admin"}),
    ("GET", "/v1/refunds", None, {"ops", "admin"}),
    ("POST", "/v1/refunds/rf_none/settle", {"status": "failed"}, {"ops", "admin"}),
    ("POST", "/v1/orders/{id}/reorder", None, {"storefront", "ops", "admin"}),
    ("POST", "/v1/orders/{id}/cancel", None, {"storefront", "ops", "admin"}),
    ("DELETE", "/v1/orders/{id}", None, {"admin"}),
    ("GET", "/v1/events", None, {"ops", "admin"}),
    ("GET", "/v1/api-keys", None, {"admin"}),
    ("POST", "/v1/api-keys", {"name": "n", "role": "ops"}, {"admin"}),
    ("DELETE", "/v1/api-keys/key_none", None, {"admin"}),
]


@pytest.mark.parametrize(("method", "path", "body", "allowed"), MATRIX)
async def test_role_matrix(
    client: httpx.AsyncClient,
    api_keys: Keys,
    method: str,
    path: str,
    body: Any,
    allowed: set[str],
) -> None:
    order = await create_order(client, api_keys.headers("storefront"), payment=None)
    url = path.format(id=order["id"])
    for role in ("storefront", "ops", "admin"):
        response = await client.request(method, url, json=body, headers=api_keys.headers(role))
        if role in allowed:
            assert response.status_code not in (401, 403), (role, response.text)
        else:
            problem(response, 403, "forbidden")

    missing = await client.request(method, url, json=body)
    problem(missing, 401, "unauthenticated")
    assert missing.headers["www-authenticate"] == "Bearer"
    unknown = await client.request(
        method, url, json=body, headers={"Authorization": "Bearer osk_nope"}
    )
    problem(unknown, 401, "unauthenticated")
    basic = await client.request(method, url, json=body, headers={"Authorization": "Basic eDp5"})
    problem(basic, 401, "unauthenticated")


async def test_issue_use_list_and_revoke_a_key(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    created = await client.post(
        "/v1/api-keys", json={"name": "web", "role": "storefront"}, headers=admin
    )
    assert created.status_code == 201
    issued = created.json()
    assert issued["key"].startswith("osk_")
    assert issued["prefix"] == issued["key"][:10]
    new_key = {"Authorization": f"Bearer {issued['key']}"}
    assert (await client.get("/v1/orders", headers=new_key)).status_code == 200

    listed = (await client.get("/v1/api-keys", headers=admin)).json()["data"]
    assert issued["id"] in [k["id"] for k in listed]
    assert all("key" not in k for k in listed)

    revoked = await client.delete(f"/v1/api-keys/{issued['id']}", headers=admin)
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    problem(await client.get("/v1/orders", headers=new_key), 401, "unauthenticated")
    problem(
        await client.delete("/v1/api-keys/key_missing", headers=admin), 404, "api_key_not_found"
    )


async def test_a_post_with_an_idempotency_key_authenticates_alike(
    client: httpx.AsyncClient, api_keys: Keys
) -> None:
    """With an Idempotency-Key the key is looked up in the statement that takes the key's
    lock, not by itself: unknown, revoked and malformed keys, other schemes and roles must
    come out exactly as without one."""
    admin = api_keys.headers("admin")
    issued = (
        await client.post("/v1/api-keys", json={"name": "web", "role": "storefront"}, headers=admin)
    ).json()

    def keyed(authorization: str) -> dict[str, str]:
        return {"Authorization": authorization, "Idempotency-Key": uuid.uuid4().hex}

    body = order_body()
    created = await client.post("/v1/orders", json=body, headers=keyed(f"Bearer {issued['key']}"))
    assert created.status_code == 201, created.text
    # The scheme is case-insensitive (RFC 7235).
    lower = await client.post("/v1/orders", json=body, headers=keyed(f"bearer {issued['key']}"))
    assert lower.status_code == 201, lower.text
    problem(
        await client.post("/v1/api-keys", json={"name": "n", "role": "ops"},
                          headers=keyed(f"Bearer {issued['key']}")),
        403, "forbidden",
    )  # fmt: skip
    for authorization in ("Bearer osk_nope", "Basic eDp5", "Bearer", "Bearer  ", ""):
        problem(
            await client.post("/v1/orders", json=body, headers=keyed(authorization)),
            401,
            "unauthenticated",
        )
    await client.delete(f"/v1/api-keys/{issued['id']}", headers=admin)
    problem(
        await client.post("/v1/orders", json=body, headers=keyed(f"Bearer {issued['key']}")),
        401,
        "unauthenticated",
    )
    # Another live key in the same breath still works (nothing is cached across requests).
    assert (
        await client.post("/v1/orders", json=body, headers=keyed(f"Bearer {api_keys.ops}"))
    ).status_code == 201


async def test_only_the_hash_of_a_key_is_stored(
    client: httpx.AsyncClient, admin: dict[str, str], db: Any
) -> None:
    from sqlalchemy import text

    created = (
        await client.post("/v1/api-keys", json={"name": "x", "role": "ops"}, headers=admin)
    ).json()
    async with db() as session:
        rows = (await session.execute(text("SELECT * FROM api_keys"))).all()
    dumped = repr(rows)
    assert created["key"] not in dumped
    assert created["key"][10:] not in dumped


async def test_invalid_role_is_a_validation_problem(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    response = await client.post("/v1/api-keys", json={"name": "x", "role": "root"}, headers=admin)
    body = problem(response, 422, "validation_error")
    assert body["errors"][0]["field"] == "role"
