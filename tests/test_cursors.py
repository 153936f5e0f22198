"""Cursors are signed: one the service did not issue is refused as the client's mistake (400
`invalid_cursor`), and so are out-of-range numbers, even in a cursor it signed (422 or an empty
page): never a database error."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from order_service.app import create_app
from order_service.kit.pagination import Cursors
from order_service.settings import DEVELOPMENT_CURSOR_SECRET, Settings
from tests.factories import create_order, problem
from tests.helpers import fulfil

BIGINT_MAX = 2**63 - 1


def forged(*values: Any) -> str:
    """Unpadded base64url JSON holding `values`: what an unsigned cursor would look like."""
    raw = json.dumps(list(values)).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def signed(app: Any, *values: Any) -> str:
    """A cursor holding `values` signed with the service's own key, as if it had issued it."""
    cursor: str = app.state.services.cursors.issue(*values)
    return cursor


NOT_AN_INTEGER = [BIGINT_MAX + 1, -BIGINT_MAX - 2, 10**40, "1001", 1.5, True, None, [1], {}]
NOT_AN_ID = [1, "ord\x00", "\ud800", True, None, ["a"]]


@pytest.fixture
async def lists(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> dict[str, tuple[str, list[Any]]]:
    """Every cursor-paginated list, with values its cursor must refuse."""
    endpoint = await client.post(
        "/v1/webhook-endpoints",
        json={"url": "http://127.0.0.1:9/hooks", "events": ["*"]},
        headers=admin,
    )
    assert endpoint.status_code == 201, endpoint.text
    order = await create_order(client, admin)
    await fulfil(client, admin, order)
    refund = await client.post(
        f"/v1/orders/{order['id']}/refunds",
        json={"line_items": [{"line_item_id": order["line_items"][0]["id"], "quantity": 1}]},
        headers=admin,
    )
    assert refund.status_code == 201, refund.text
    return {
        "/v1/orders": ("number", NOT_AN_INTEGER),
        "/v1/events": ("sequence", NOT_AN_INTEGER),
        f"/v1/orders/{order['id']}/events": ("timeline id", NOT_AN_INTEGER),
        f"/v1/webhook-endpoints/{endpoint.json()['id']}/deliveries": ("sequence", NOT_AN_INTEGER),
        "/v1/api-keys": ("id", NOT_AN_ID),
        "/v1/webhook-endpoints": ("id", NOT_AN_ID),
        "/v1/refunds": ("id", NOT_AN_ID),
        f"/v1/orders/{order['id']}/refunds": ("id", NOT_AN_ID),
        f"/v1/orders/{order['id']}/fulfillments": ("id", NOT_AN_ID),
    }


async def test_every_list_refuses_cursors_it_did_not_issue(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    app: Any,
    lists: dict[str, tuple[str, list[Any]]],
) -> None:
    other_key = Cursors(b"not the service's key, 32 bytes.")
    for path, (key, refused) in lists.items():
        good = 1001 if key != "id" else "~"
        unsigned = [forged(good), forged(), forged(1, 2), "bm90IGpzb24", "AAAA", "!"]
        # values a signed cursor may not hold either: defence in depth, should the key leak
        wrong = [signed(app, value) for value in refused] + [signed(app), signed(app, 1, 2)]
        for cursor in [*unsigned, other_key.issue(good), *wrong]:
            response = await client.get(path, params={"cursor": cursor}, headers=admin)
            problem(response, 400, "invalid_cursor")


async def test_a_cursor_changed_by_the_client_is_refused(
    client: httpx.AsyncClient, storefront: dict[str, str]
) -> None:
    for _ in range(3):
        await create_order(client, storefront)
    issued = (await client.get("/v1/orders?limit=1", headers=storefront)).json()["next_cursor"]
    raw = bytearray(base64.urlsafe_b64decode(issued + "=" * (-len(issued) % 4)))
    for index in (0, len(raw) - 2):  # the signature, then the order number it signs
        changed = raw.copy()
        changed[index] ^= 1
        cursor = base64.urlsafe_b64encode(bytes(changed)).decode().rstrip("=")
        response = await client.get("/v1/orders", params={"cursor": cursor}, headers=storefront)
        problem(response, 400, "invalid_cursor")


async def test_processes_with_the_same_secret_read_each_other_s_cursors(
    client: httpx.AsyncClient, storefront: dict[str, str], settings: Settings
) -> None:
    """Several processes (or hosts) serve one database: the secret is a setting, not made
    per process, and a cursor one issued is read by another; another secret refuses it."""
    for _ in range(3):
        await create_order(client, storefront)
    issued = (await client.get("/v1/orders?limit=1", headers=storefront)).json()["next_cursor"]
    for secret, status in (("x" * 32, 400), (None, 200)):
        other = create_app(
            Settings(env=settings.env, database_url=settings.database_url, cursor_secret=secret)
        )
        transport = httpx.ASGITransport(app=other)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as peer:
            response = await peer.get("/v1/orders", params={"cursor": issued}, headers=storefront)
        await other.state.services.engine.dispose()
        assert response.status_code == status, response.text


def test_production_refuses_to_start_without_a_cursor_secret() -> None:
    production = {
        "env": "production",
        "database_url": "postgresql://db/orders",
        "encryption_key": "e" * 32,
    }
    for secret in (None, DEVELOPMENT_CURSOR_SECRET, "too short"):
        with pytest.raises(ValidationError, match=r"(?i)cursor_secret"):
            Settings(**production, cursor_secret=secret)
    configured = Settings(**production, cursor_secret="s" * 32)
    assert configured.cursor_key == b"s" * 32
    assert "s" * 32 not in repr(configured)


async def test_cursors_at_the_edges_of_their_column_are_pages(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    app: Any,
    lists: dict[str, tuple[str, list[Any]]],
) -> None:
    for path, (key, _) in lists.items():
        edges = [BIGINT_MAX, -BIGINT_MAX - 1] if key != "id" else ["~", ""]
        for value in edges:
            cursor = signed(app, value)
            response = await client.get(path, params={"cursor": cursor}, headers=admin)
            assert response.status_code == 200, (path, value, response.text)
    everything = await client.get(
        "/v1/orders", params={"cursor": signed(app, BIGINT_MAX)}, headers=admin
    )
    assert len(everything.json()["data"]) == 1
    nothing = await client.get(
        "/v1/orders", params={"cursor": signed(app, -BIGINT_MAX - 1)}, headers=admin
    )
    assert nothing.json()["data"] == []


async def test_the_service_s_own_cursors_still_page(
    client: httpx.AsyncClient, storefront: dict[str, str]
) -> None:
    made = [(await create_order(client, storefront))["id"] for _ in range(3)]
    first = (await client.get("/v1/orders?limit=2", headers=storefront)).json()
    rest = await client.get(
        "/v1/orders", params={"limit": 2, "cursor": first["next_cursor"]}, headers=storefront
    )
    assert [o["id"] for o in first["data"] + rest.json()["data"]] == made[::-1]
    assert rest.json()["next_cursor"] is None


async def test_order_numbers_beyond_bigint_are_a_validation_problem(
    client: httpx.AsyncClient, storefront: dict[str, str]
) -> None:
    await create_order(client, storefront)
    body = problem(
        await client.get(f"/v1/orders?number={BIGINT_MAX + 1}", headers=storefront),
        422,
        "validation_error",
    )
    assert body["errors"][0]["field"] == "number"
    response = await client.get(f"/v1/orders?number={BIGINT_MAX}", headers=storefront)
    assert response.status_code == 200, response.text
    assert response.json() == {"data": [], "next_cursor": None}


async def test_a_search_for_a_number_beyond_bigint_finds_nothing(
    client: httpx.AsyncClient, storefront: dict[str, str]
) -> None:
    order = await create_order(client, storefront)
    for q in (str(BIGINT_MAX + 1), f"#{10**200}", str(BIGINT_MAX)):
        response = await client.get("/v1/orders", params={"q": q}, headers=storefront)
        assert response.status_code == 200, (q, response.text)
        assert response.json()["data"] == [], q
    found = await client.get("/v1/orders", params={"q": f"#{order['number']}"}, headers=storefront)
    assert [o["id"] for o in found.json()["data"]] == [order["id"]]


async def test_only_ascii_digits_are_an_order_number(
    client: httpx.AsyncClient, storefront: dict[str, str]
) -> None:
    order = await create_order(client, storefront)
    assert order["number"] == 1001
    # Arabic-Indic and fullwidth 1001, and characters str.isdigit() accepts but int() refuses
    for q in ("\u0661\u0660\u0660\u0661", "\uff11\uff10\uff10\uff11", "\u00b2", "1\u2460"):
        response = await client.get("/v1/orders", params={"q": q}, headers=storefront)
        assert response.status_code == 200, (q, response.text)
        assert response.json()["data"] == [], q


async def test_timestamps_beyond_the_years_python_has_are_a_validation_problem(
    client: httpx.AsyncClient, storefront: dict[str, str]
) -> None:
    for name, value in (
        ("created_after", "9999-12-31T23:00:00-05:00"),
        ("created_before", "0001-01-01T00:00:00+05:00"),
    ):
        response = await client.get("/v1/orders", params={name: value}, headers=storefront)
        assert problem(response, 422, "validation_error")["errors"][0]["field"] == name
