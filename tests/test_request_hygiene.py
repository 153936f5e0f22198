"""Odd input every `/v1` operation meets the same way: found by fuzzing, kept fixed here."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Annotated, Any, get_args

import httpx
import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel, TypeAdapter, ValidationError

from order_service.app import create_app
from order_service.settings import Settings
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


NOT_INTEGERS = ["1.0", "1e2", "19.99", "19.999999999999999999", "2E0", "-0.0"]
"""Numbers a JSON parser reads as floats; `19.999999999999999999` was taken as 20."""


def with_number(body: dict[str, Any], written: str) -> bytes:
    """`body` as JSON with its `NUMBER` placeholders written `written`, character for
    character (a JSON encoder would write 1e2 as 100.0)."""
    return json.dumps(body).replace('"NUMBER"', written).encode()


def set_path(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    body = copy.deepcopy(body)
    *parents, last = path.split(".")
    node: Any = body
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    node[int(last) if last.isdigit() else last] = value
    return body


async def test_money_and_quantities_are_json_integers(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    order = await create_order(client, admin, payment={"status": "authorized"})
    line = order["line_items"][0]["id"]
    refund = {"line_items": [{"line_item_id": line, "quantity": 1}], "shipping": {"amount": 1}}
    cases = [
        ("/v1/orders", order_body(), "line_items.0.quantity"),
        ("/v1/orders", order_body(), "line_items.0.unit_price"),
        ("/v1/orders", order_body(), "shipping_lines.0.price"),
        ("/v1/orders", order_body(), "tax_lines.0.amount"),
        ("/v1/orders", order_body(), "discounts.0.amount"),
        ("/v1/orders", order_body(payment={"status": "paid", "fee": 1}), "payment.fee"),
        (f"/v1/orders/{order['id']}/transactions", {"kind": "capture", "amount": 1}, "amount"),
        (f"/v1/orders/{order['id']}/transactions", {"kind": "capture", "fee": 1}, "fee"),
        (f"/v1/orders/{order['id']}/refunds", refund, "line_items.0.quantity"),
        (f"/v1/orders/{order['id']}/refunds", refund, "shipping.amount"),
        (f"/v1/orders/{order['id']}/refunds", {"amount": 1}, "amount"),
        (f"/v1/orders/{order['id']}/refunds/calculate", refund, "line_items.0.quantity"),
        (
            f"/v1/orders/{order['id']}/fulfillments",
            {"line_items": [{"line_item_id": line, "quantity": 1}]},
            "line_items.0.quantity",
        ),
    ]
    for path, body, field in cases:
        for written in NOT_INTEGERS:
            response = await client.post(
                path,
                content=with_number(set_path(body, field, "NUMBER"), written),
                headers={**admin, "Content-Type": "application/json"},
            )
            refused = problem(response, 422, "validation_error")
            assert refused["errors"] == [
                {
                    "field": field,
                    "message": "must be a JSON integer, written without a fraction or exponent",
                    "type": "not_json_integer",
                }
            ], (path, written)
    unchanged = (await client.get(f"/v1/orders/{order['id']}", headers=admin)).json()
    assert unchanged["version"] == order["version"]
    listed = (await client.get("/v1/orders", headers=admin)).json()["data"]
    assert [o["id"] for o in listed] == [order["id"]]


def _request_models() -> Iterator[type[BaseModel]]:
    app = create_app(Settings(database_url="postgresql://unused/unused"))
    routes = [context.original_route for context in iter_route_contexts(app.routes)]
    seen: set[type[BaseModel]] = set()
    pending = [
        annotation
        for route in routes
        if isinstance(route, APIRoute) and route.body_field is not None
        for annotation in [
            route.body_field.field_info.annotation,
            *_nested(route.body_field.field_info.annotation),
        ]
    ]
    while pending:
        model = pending.pop()
        if isinstance(model, type) and issubclass(model, BaseModel) and model not in seen:
            seen.add(model)
            yield model
            for info in model.model_fields.values():
                pending += [info.annotation, *_nested(info.annotation)]


def _nested(annotation: Any) -> list[Any]:
    args = list(get_args(annotation))
    return args + [inner for arg in args for inner in _nested(arg)]


def test_no_request_body_takes_a_float_for_an_integer() -> None:
    """Every integer of every request body, money or count, present and future: `1.0` is
    refused (`1` taken), whatever other bounds the field has."""
    integers = set()
    for model in _request_models():
        for name, info in model.model_fields.items():
            if int in {info.annotation, *_nested(info.annotation)}:
                integers.add(f"{model.__name__}.{name}")
                annotated = Annotated[info.annotation, *info.metadata] if info.metadata else None
                adapter: TypeAdapter[Any] = TypeAdapter(annotated or info.annotation)
                with pytest.raises(ValidationError, match="not_json_integer"):
                    adapter.validate_python(1.0)
                with pytest.raises(ValidationError, match="not_json_integer"):
                    adapter.validate_json("1.0")
                assert adapter.validate_json("1") == 1
    assert integers >= {  # the walk found today's, so it will find tomorrow's
        "LineItemIn.quantity",
        "LineItemIn.unit_price",
        "ShippingLineIn.price",
        "TaxLineIn.amount",
        "DiscountIn.amount",
        "PaymentIn.fee",
        "TransactionCreate.amount",
        "TransactionCreate.fee",
        "RefundCreate.amount",
        "RefundLineIn.quantity",
        "ShippingRefundIn.amount",
        "FulfillmentLineIn.quantity",
    }


@pytest.mark.parametrize(
    "content_type", [None, "text/plain", "application/x-www-form-urlencoded", "application/xml"]
)
async def test_a_body_sent_as_anything_but_json_is_415(
    client: httpx.AsyncClient, admin: dict[str, str], content_type: str | None
) -> None:
    """It was a 422 "Input should be a valid dictionary" that did not say why."""
    order = await create_order(client, admin)
    headers = {**admin, **({"Content-Type": content_type} if content_type else {})}
    for path, body in [
        ("/v1/orders", order_body()),
        (f"/v1/orders/{order['id']}/cancel", {"reason": "other"}),
    ]:
        response = await client.post(path, content=json.dumps(body).encode(), headers=headers)
        refused = problem(response, 415, "unsupported_media_type")
        assert "Content-Type: application/json" in refused["detail"]
        assert (content_type or "no Content-Type") in refused["detail"]
    patched = await client.patch(
        f"/v1/orders/{order['id']}", content=b'{"note": "x"}', headers=headers
    )
    problem(patched, 415, "unsupported_media_type")
    listed = (await client.get("/v1/orders", headers=admin)).json()["data"]
    assert [o["id"] for o in listed] == [order["id"]]
    assert listed[0]["status"] == "open"


async def test_json_media_types_and_bodiless_posts_need_nothing_more(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    for content_type in ("application/json; charset=utf-8", "application/vnd.api+json"):
        response = await client.post(
            "/v1/orders",
            content=json.dumps(order_body()).encode(),
            headers={**admin, "Content-Type": content_type},
        )
        assert response.status_code == 201, response.text
    order = response.json()
    archived = await client.post(f"/v1/orders/{order['id']}/archive", headers=admin)
    assert archived.status_code == 200, archived.text
    # an optional body left out: no Content-Type needed
    reordered = await client.post(f"/v1/orders/{order['id']}/reorder", headers=admin)
    assert reordered.status_code == 201, reordered.text
