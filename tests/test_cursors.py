"""Forged cursors and out-of-range numbers are refused as the client's mistake (400 or 422
problems) or answer an empty page: never a database error."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest

from tests.factories import create_order, problem
from tests.helpers import fulfil

BIGINT_MAX = 2**63 - 1


def forged(*values: Any) -> str:
    """A cursor in the service's format (unpadded base64url JSON) holding `values`."""
    raw = json.dumps(list(values)).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


NOT_AN_INTEGER = [BIGINT_MAX + 1, -BIGINT_MAX - 2, 10**40, "1001", 1.5, True, None, [1], {}]
NOT_AN_ID = [1, "ord\x00", "\ud800", True, None, ["a"]]
EITHER = [forged(), forged(1, 2), "bm90IGpzb24", "AAAA", "!"]


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
    client: httpx.AsyncClient, admin: dict[str, str], lists: dict[str, tuple[str, list[Any]]]
) -> None:
    for path, (_, refused) in lists.items():
        for cursor in [*(forged(value) for value in refused), *EITHER]:
            response = await client.get(path, params={"cursor": cursor}, headers=admin)
            problem(response, 400, "invalid_cursor")


async def test_cursors_at_the_edges_of_their_column_are_pages(
    client: httpx.AsyncClient, admin: dict[str, str], lists: dict[str, tuple[str, list[Any]]]
) -> None:
    for path, (key, _) in lists.items():
        edges = [BIGINT_MAX, -BIGINT_MAX - 1] if key != "id" else ["~", ""]
        for value in edges:
            response = await client.get(path, params={"cursor": forged(value)}, headers=admin)
            assert response.status_code == 200, (path, value, response.text)
    everything = await client.get(
        "/v1/orders", params={"cursor": forged(BIGINT_MAX)}, headers=admin
    )
    assert len(everything.json()["data"]) == 1
    nothing = await client.get(
        "/v1/orders", params={"cursor": forged(-BIGINT_MAX - 1)}, headers=admin
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
