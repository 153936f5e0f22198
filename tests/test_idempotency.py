from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import func, select
from starlette.requests import Request

from order_service.http import idempotency
from order_service.orders.models import Order
from tests.factories import order_body, problem


async def test_replay_returns_the_first_response(
    client: httpx.AsyncClient, storefront: dict[str, str]
) -> None:
    headers = {**storefront, "Idempotency-Key": "checkout-1"}
    first = await client.post("/v1/orders", json=order_body(), headers=headers)
    second = await client.post("/v1/orders", json=order_body(), headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert second.content == first.content
    assert second.headers["location"] == first.headers["location"]
    listed = await client.get("/v1/orders", headers=storefront)
    assert len(listed.json()["data"]) == 1


async def test_equal_json_with_other_key_order_is_a_replay(
    client: httpx.AsyncClient, storefront: dict[str, str]
) -> None:
    headers = {**storefront, "Idempotency-Key": "k", "content-type": "application/json"}
    body = order_body()
    first = await client.post("/v1/orders", json=body, headers=headers)
    reordered = dict(reversed(list(body.items())))
    import json

    second = await client.post(
        "/v1/orders", content=json.dumps(reordered, indent=2).encode(), headers=headers
    )
    assert second.headers.get("idempotent-replayed") == "true"
    assert second.json()["id"] == first.json()["id"]


async def test_same_key_different_body_is_422(
    client: httpx.AsyncClient, storefront: dict[str, str]
) -> None:
    headers = {**storefront, "Idempotency-Key": "checkout-2"}
    await client.post("/v1/orders", json=order_body(), headers=headers)
    response = await client.post("/v1/orders", json=order_body(note="changed"), headers=headers)
    problem(response, 422, "idempotency_key_reused")


async def test_keys_are_scoped_to_the_api_key(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str]
) -> None:
    a = await client.post(
        "/v1/orders", json=order_body(), headers={**storefront, "Idempotency-Key": "same"}
    )
    b = await client.post(
        "/v1/orders", json=order_body(), headers={**ops, "Idempotency-Key": "same"}
    )
    assert a.status_code == b.status_code == 201
    assert a.json()["id"] != b.json()["id"]
    assert "idempotent-replayed" not in b.headers


async def test_failed_request_is_not_saved_and_can_be_retried(
    client: httpx.AsyncClient, storefront: dict[str, str]
) -> None:
    headers = {**storefront, "Idempotency-Key": "retry-me"}
    bad = await client.post("/v1/orders", json=order_body(currency="ZZZ"), headers=headers)
    assert bad.status_code == 422
    good = await client.post("/v1/orders", json=order_body(), headers=headers)
    assert good.status_code == 201
    assert "idempotent-replayed" not in good.headers


async def test_key_length_is_bounded(client: httpx.AsyncClient, storefront: dict[str, str]) -> None:
    ok = await client.post(
        "/v1/orders", json=order_body(), headers={**storefront, "Idempotency-Key": "k" * 255}
    )
    assert ok.status_code == 201
    too_long = await client.post(
        "/v1/orders", json=order_body(), headers={**storefront, "Idempotency-Key": "k" * 256}
    )
    problem(too_long, 400, "invalid_idempotency_key")


async def test_twelve_identical_requests_racing_create_one_order(
    client: httpx.AsyncClient, storefront: dict[str, str], db: object
) -> None:
    headers = {**storefront, "Idempotency-Key": "race"}
    responses = await asyncio.gather(
        *(client.post("/v1/orders", json=order_body(), headers=headers) for _ in range(12))
    )
    statuses = sorted(r.status_code for r in responses)
    assert set(statuses) <= {201, 409}, statuses
    created = [r for r in responses if r.status_code == 201]
    assert len({r.json()["id"] for r in created}) == 1
    originals = [r for r in created if "idempotent-replayed" not in r.headers]
    assert len(originals) == 1
    for r in responses:
        if r.status_code == 409:
            problem(r, 409, "idempotency_request_in_progress")
            assert r.headers["retry-after"] == "1"
    async with db() as session:  # type: ignore[operator]
        assert await session.scalar(select(func.count()).select_from(Order)) == 1
    # once the first has committed, every retry is a replay
    again = await client.post("/v1/orders", json=order_body(), headers=headers)
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == originals[0].json()["id"]


@pytest.mark.parametrize(
    "path", ["/v1/orders", "/v1/orders/ord_1/refunds", "/a?b#c\\d", "//x;y/%20/é", "/"]
)
def test_the_recorded_path_is_the_urls(path: str) -> None:
    """Fingerprints and records hold `request.url.path`, which `_path` reads without the URL:
    a change would make every saved key look reused with another request."""
    scope = {
        "type": "http",
        "method": "POST",
        "scheme": "http",
        "server": ("127.0.0.1", 8000),
        "path": path,
        "query_string": b"q=1",
        "headers": [(b"host", b"orders.example")],
    }
    request = Request(scope)
    assert idempotency._path(request) == request.url.path
