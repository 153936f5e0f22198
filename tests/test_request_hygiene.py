"""Odd input every `/v1` operation meets the same way: found by fuzzing, kept fixed here."""

from __future__ import annotations

import httpx
import pytest

from tests.factories import create_order, order_body, problem


async def test_a_wrong_method_lists_every_method_of_the_path(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    collection = await client.request("OPTIONS", "/v1/orders", headers=admin)
    problem(collection, 405, "method_not_allowed")
    assert collection.headers["allow"] == "GET, POST"
    one = await client.request("PUT", "/v1/orders/ord_x", headers=admin)
    problem(one, 405, "method_not_allowed")
    assert one.headers["allow"] == "DELETE, GET, PATCH"


async def test_nul_characters_are_a_validation_error_not_a_server_error(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    body = order_body(note="leave at\x00door")
    body["line_items"][0]["title"] = "T\x00ee"
    created = problem(
        await client.post("/v1/orders", json=body, headers=admin), 422, "validation_error"
    )
    assert {e["field"] for e in created["errors"]} == {"note", "line_items.0.title"}
    listed = problem(
        await client.get("/v1/orders", params={"q": "a\x00"}, headers=admin),
        422,
        "validation_error",
    )
    assert listed["errors"][0]["field"] == "q"
    one = problem(await client.get("/v1/orders/ord%00x", headers=admin), 422, "validation_error")
    assert one["errors"][0]["field"] == "order_id"


async def test_if_match_must_be_an_etag(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    placed = await create_order(client, admin)
    url = f"/v1/orders/{placed['id']}"
    # "²" passes str.isdigit() but not int(): it was a 500.
    for value in ["null", '"²"'.encode("latin-1"), '"1' + "0" * 30 + '"']:
        response = await client.patch(url, json={"note": "x"}, headers={**admin, "If-Match": value})
        problem(response, 400, "invalid_if_match")
    version = placed["version"]
    for template in ["*", 'W/"{}"', " {} "]:
        value = template.format(version)
        response = await client.patch(
            url, json={"note": value}, headers={**admin, "If-Match": value}
        )
        assert response.status_code == 200, response.text
        version = response.json()["version"]


async def test_whole_numbers_may_be_written_with_a_fraction_of_zero(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    body = order_body()
    body["line_items"][0].update(quantity=2.0, unit_price=1999.0)
    created = await client.post("/v1/orders", json=body, headers=admin)
    assert created.status_code == 201, created.text
    assert created.json()["line_items"][0]["quantity"] == 2
    body["line_items"][0]["quantity"] = 2.5
    problem(await client.post("/v1/orders", json=body, headers=admin), 422, "validation_error")


async def test_an_empty_cursor_is_the_first_page(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    await create_order(client, admin)
    response = await client.get("/v1/orders?cursor=", headers=admin)
    assert response.status_code == 200, response.text
    assert len(response.json()["data"]) == 1
    problem(await client.get("/v1/orders?cursor=%3F", headers=admin), 400, "invalid_cursor")


async def test_blank_text_is_refused(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    body = order_body()
    body["line_items"][0]["sku"] = "   "
    invalid = problem(
        await client.post("/v1/orders", json=body, headers=admin), 422, "validation_error"
    )
    assert invalid["errors"][0]["field"] == "line_items.0.sku"


async def test_timestamps_are_rfc_3339_not_unix_times(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    for url in ["/v1/reports/fulfillment?to=0", "/v1/orders?created_after=-43766296"]:
        problem(await client.get(url, headers=admin), 422, "validation_error")
    body = order_body(processed_at=0)
    problem(await client.post("/v1/orders", json=body, headers=admin), 422, "validation_error")
    ok = await client.get("/v1/reports/fulfillment?to=2026-01-01T00:00:00Z", headers=admin)
    assert ok.status_code == 200, ok.text


@pytest.mark.parametrize("blank", ["\u0085", "\u00a0 ", "\x1c", "\ufeff"])
async def test_text_that_is_only_whitespace_is_refused_as_documented(
    client: httpx.AsyncClient, storefront: dict[str, str], blank: str
) -> None:
    """Found by fuzzing: NEL passed the documented not-blank pattern, then stripped to ''."""
    body = order_body(line_items=[{"sku": blank, "title": "T", "quantity": 1, "unit_price": 1}])
    response = await client.post("/v1/orders", json=body, headers=storefront)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "line_items.0.sku"
