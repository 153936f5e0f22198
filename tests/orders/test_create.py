from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.factories import create_order, order_body, problem
from tests.helpers import counting_statements


async def test_totals_are_computed_by_the_service(
    client: httpx.AsyncClient, storefront: dict[str, str]
) -> None:
    order = await create_order(client, storefront)
    assert order["subtotal"] == 2 * 1999 + 1200
    assert order["shipping_total"] == 500
    assert order["tax_total"] == 300
    assert order["discount_total"] == 200
    assert order["total"] == 5198 + 500 + 300 - 200
    assert order["total_paid"] == order["total"]
    assert order["financial_status"] == "paid"
    assert order["status"] == "open"
    assert order["fulfillment_status"] == "unfulfilled"
    assert order["number"] == 1001
    assert order["version"] == 1
    assert [li["total"] for li in order["line_items"]] == [3998, 1200]
    assert order["line_items"][1]["refundable"] is False


async def test_client_totals_are_refused_not_trusted(
    client: httpx.AsyncClient, storefront: dict[str, str]
) -> None:
    response = await client.post("/v1/orders", json=order_body(total=1), headers=storefront)
    body = problem(response, 422, "validation_error")
    assert body["errors"][0]["field"] == "total"


async def test_taxes_included_are_not_added_again(
    client: httpx.AsyncClient, storefront: dict[str, str]
) -> None:
    order = await create_order(client, storefront, taxes_included=True)
    assert order["tax_total"] == 300
    assert order["total"] == 5198 + 500 - 200


async def test_numbers_are_sequential_from_1001(
    client: httpx.AsyncClient, storefront: dict[str, str]
) -> None:
    numbers = [(await create_order(client, storefront))["number"] for _ in range(3)]
    assert numbers == [1001, 1002, 1003]


@pytest.mark.parametrize(
    ("currency", "exponent"), [("USD", 2), ("JPY", 0), ("KWD", 3), ("EUR", 2), ("CLP", 0)]
)
async def test_currency_exponents(
    client: httpx.AsyncClient, storefront: dict[str, str], currency: str, exponent: int
) -> None:
    order = await create_order(client, storefront, currency=currency)
    assert order["currency"] == currency
    assert order["currency_exponent"] == exponent
    assert isinstance(order["total"], int)


@pytest.mark.parametrize(
    "currency", ["usd", "XXX", "ABC", "US", "XAU", "BOV", "USN", "CLF", "UYW", "CHE", "XAD"]
)
async def test_unknown_or_unchargeable_currency_is_refused(
    client: httpx.AsyncClient, storefront: dict[str, str], currency: str
) -> None:
    response = await client.post(
        "/v1/orders", json=order_body(currency=currency), headers=storefront
    )
    body = problem(response, 422, "validation_error")
    assert body["errors"][0]["field"] == "currency"


def _line(**overrides: Any) -> list[dict[str, Any]]:
    return [{"sku": "A", "title": "A", "quantity": 1, "unit_price": 100, **overrides}]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"line_items": _line(quantity=0)}, "line_items.0.quantity"),
        ({"line_items": _line(quantity=10_001)}, "line_items.0.quantity"),
        ({"line_items": _line(quantity=1.5)}, "line_items.0.quantity"),
        ({"line_items": _line(unit_price=-1)}, "line_items.0.unit_price"),
        ({"line_items": _line(unit_price=19.99)}, "line_items.0.unit_price"),
        ({"line_items": _line(unit_price="1999")}, "line_items.0.unit_price"),
        ({"line_items": _line(sku="")}, "line_items.0.sku"),
        ({"line_items": _line(title="x" * 256)}, "line_items.0.title"),
        ({"line_items": []}, "line_items"),
        ({"line_items": _line() * 251}, "line_items"),
        ({"customer": {"email": "not-an-email"}}, "customer.email"),
        ({"customer": {"name": "no email"}}, "customer.email"),
        ({"shipping_lines": [{"title": "Ship", "price": -5}]}, "shipping_lines.0.price"),
        ({"discounts": [{"code": "X", "amount": 1.5}]}, "discounts.0.amount"),
        ({"processed_at": "2026-11-20T10:00:00"}, "processed_at"),
        (
            {"shipping_address": {"line1": "x", "city": "y", "country": "Norway"}},
            "shipping_address.country",
        ),
        ({"note": "x" * 5001}, "note"),
        ({"tags": ["x" * 65]}, "tags.0"),
        ({"payment": {"status": "refunded"}}, "payment.status"),
        ({"unexpected": 1}, "unexpected"),
    ],
)
async def test_each_invalid_field_is_named(
    client: httpx.AsyncClient, storefront: dict[str, str], overrides: dict[str, Any], field: str
) -> None:
    response = await client.post("/v1/orders", json=order_body(**overrides), headers=storefront)
    body = problem(response, 422, "validation_error")
    assert field in [e["field"] for e in body["errors"]], body["errors"]


async def test_250_line_items_are_accepted(
    client: httpx.AsyncClient, storefront: dict[str, str]
) -> None:
    lines = [{"sku": f"S{i}", "title": "T", "quantity": 1, "unit_price": 1} for i in range(250)]
    order = await create_order(client, storefront, line_items=lines)
    assert len(order["line_items"]) == 250
    assert [li["sku"] for li in order["line_items"]] == [f"S{i}" for i in range(250)]


async def test_discount_larger_than_the_order_is_refused(
    client: httpx.AsyncClient, storefront: dict[str, str]
) -> None:
    response = await client.post(
        "/v1/orders",
        json=order_body(discounts=[{"code": "ALL", "amount": 100_000}]),
        headers=storefront,
    )
    body = problem(response, 422, "invalid_order")
    assert body["errors"][0]["field"] == "discounts"


async def test_processed_at_in_the_past_is_kept_and_future_refused(
    client: httpx.AsyncClient, storefront: dict[str, str]
) -> None:
    order = await create_order(client, storefront, processed_at="2026-01-05T10:00:00+02:00")
    assert order["processed_at"] == "2026-01-05T08:00:00Z"
    # Monday 5 Jan + 2 business days
    assert order["estimated_dispatch_date"] == "2026-01-07"
    assert order["customer_cancellable_until"] is None

    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    response = await client.post(
        "/v1/orders", json=order_body(processed_at=future), headers=storefront
    )
    body = problem(response, 422, "invalid_order")
    assert body["errors"][0]["field"] == "processed_at"


async def test_processed_at_defaults_to_now_and_opens_the_cancel_window(
    client: httpx.AsyncClient, storefront: dict[str, str]
) -> None:
    before = datetime.now(UTC)
    order = await create_order(client, storefront)
    processed = datetime.fromisoformat(order["processed_at"])
    assert before - timedelta(seconds=1) <= processed <= datetime.now(UTC)
    until = datetime.fromisoformat(order["customer_cancellable_until"])
    assert until == processed + timedelta(hours=1)


async def test_estimated_dispatch_date_can_be_given(
    client: httpx.AsyncClient, storefront: dict[str, str]
) -> None:
    promised = (datetime.now(UTC) + timedelta(days=300)).date().isoformat()
    order = await create_order(client, storefront, estimated_dispatch_date=promised)
    assert order["estimated_dispatch_date"] == promised


@pytest.mark.parametrize(
    ("payment", "status", "paid", "authorized"),
    [
        ({"status": "paid"}, "paid", True, True),
        ({"status": "authorized"}, "authorized", False, True),
        ({"status": "pending"}, "pending", False, False),
        (None, "pending", False, False),
    ],
)
async def test_payment_state_at_checkout(
    client: httpx.AsyncClient,
    storefront: dict[str, str],
    payment: dict[str, Any] | None,
    status: str,
    paid: bool,
    authorized: bool,
) -> None:
    order = await create_order(client, storefront, payment=payment)
    assert order["financial_status"] == status
    assert order["total_paid"] == (order["total"] if paid else 0)
    assert order["total_authorized"] == (order["total"] if authorized else 0)


async def test_malformed_json_is_a_400_problem(
    client: httpx.AsyncClient, storefront: dict[str, str]
) -> None:
    response = await client.post(
        "/v1/orders",
        content=b'{"customer": ',
        headers={**storefront, "content-type": "application/json"},
    )
    problem(response, 400, "invalid_json")


async def test_body_over_one_mebibyte_is_413(
    client: httpx.AsyncClient, storefront: dict[str, str]
) -> None:
    response = await client.post(
        "/v1/orders", json=order_body(note="x" * (1024 * 1024)), headers=storefront
    )
    problem(response, 413, "payload_too_large")


async def test_chunked_body_over_the_limit_is_413(
    client: httpx.AsyncClient, storefront: dict[str, str]
) -> None:
    async def chunks() -> Any:
        for _ in range(20):
            yield b"x" * 65536

    response = await client.post(
        "/v1/orders", content=chunks(), headers={**storefront, "content-type": "application/json"}
    )
    problem(response, 413, "payload_too_large")


async def test_created_order_is_readable_with_location_and_etag(
    client: httpx.AsyncClient, storefront: dict[str, str]
) -> None:
    response = await client.post("/v1/orders", json=order_body(), headers=storefront)
    assert response.status_code == 201
    assert response.headers["etag"] == '"1"'
    got = await client.get(response.headers["location"], headers=storefront)
    assert got.status_code == 200
    assert got.json() == response.json()
    assert got.headers["etag"] == '"1"'


@pytest.mark.parametrize(
    ("email", "stored"),
    [("ann@example.test", "ann@example.test"), ("Ann@EXAMPLE.com", "Ann@example.com")],
)
async def test_any_well_formed_email_is_accepted_and_normalised(
    client: httpx.AsyncClient, storefront: dict[str, str], email: str, stored: str
) -> None:
    order = await create_order(client, storefront, customer={"email": email})
    assert order["customer"]["email"] == stored


async def test_a_keyed_creation_is_one_transaction_of_four_statements(
    client: httpx.AsyncClient, storefront: dict[str, str], app: Any
) -> None:
    await client.post("/v1/orders", json=order_body(), headers=storefront)  # warm
    headers = {**storefront, "Idempotency-Key": "k-1"}
    async with counting_statements(app, transaction_control=True) as statements:
        created = await client.post("/v1/orders", json=order_body(), headers=headers)
    assert created.status_code == 201, created.text
    # the key's lock with the API key's lookup, the key's record, the order with its lines,
    # then its event and timeline entry with the record of the response
    assert [s.split(maxsplit=1)[0] for s in statements] == [
        "BEGIN;", "SELECT", "SELECT", "WITH", "WITH", "COMMIT;",
    ], statements  # fmt: skip
    assert "INSERT INTO idempotency_keys" in statements[4]
    assert app.state.services.engine.pool.checkedout() == 0  # the commit gave it back
