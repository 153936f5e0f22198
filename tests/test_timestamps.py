"""Bad timestamps never poison data (issue 17, item 1): a client's time is refused with a 422
naming the field, and the database refuses to hold an infinite or absurd one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from order_service.kit import times
from order_service.models import metadata
from tests.conftest import Clock
from tests.factories import create_order, order_body, problem
from tests.fulfillments.helpers import fulfil, placed_at, track

YEAR_ONE = "0001-01-01T00:00:00Z"


def field_errors(body: dict[str, Any]) -> dict[str, str]:
    return {error["field"]: error["type"] for error in body["errors"]}


async def test_an_order_placed_in_year_one_is_refused_and_the_list_still_reads(
    client: httpx.AsyncClient, storefront: dict[str, str]
) -> None:
    """The issue's reproduction: this order was stored as -infinity, and every read of it and
    every page of `GET /v1/orders` holding it answered 500."""
    kept = await create_order(client, storefront)
    refused = await client.post(
        "/v1/orders", json=order_body(processed_at=YEAR_ONE), headers=storefront
    )
    body = problem(refused, 422, "validation_error")
    assert field_errors(body) == {"processed_at": "timestamp_out_of_range"}
    listed = await client.get("/v1/orders", headers=storefront)
    assert listed.status_code == 200, listed.text
    assert [o["id"] for o in listed.json()["data"]] == [kept["id"]]
    read = await client.get(f"/v1/orders/{kept['id']}", headers=storefront)
    assert read.status_code == 200, read.text


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("processed_at", "1999-12-31T23:59:59Z"),
        # 2000-01-01 where it was written, still 1999 in UTC
        ("processed_at", "2000-01-01T00:30:00+01:00"),
        ("estimated_dispatch_date", "1999-12-31"),
        ("estimated_dispatch_date", "0001-01-01"),
    ],
)
async def test_order_times_before_2000_are_refused(
    client: httpx.AsyncClient, storefront: dict[str, str], field: str, value: str
) -> None:
    response = await client.post(
        "/v1/orders", json=order_body(**{field: value}), headers=storefront
    )
    assert field_errors(problem(response, 422, "validation_error")) == {
        field: "timestamp_out_of_range"
    }


async def test_order_times_at_their_bounds_are_kept(
    client: httpx.AsyncClient, storefront: dict[str, str], clock: Clock
) -> None:
    first = await create_order(client, storefront, processed_at="2000-01-01T00:00:00Z")
    assert first["processed_at"] == "2000-01-01T00:00:00Z"
    promised = (clock() + timedelta(days=364)).date().isoformat()
    later = await create_order(client, storefront, estimated_dispatch_date=promised)
    assert later["estimated_dispatch_date"] == promised


async def test_a_promise_more_than_a_year_ahead_is_refused(
    client: httpx.AsyncClient, storefront: dict[str, str], clock: Clock
) -> None:
    too_far = (clock() + timedelta(days=367)).date().isoformat()
    response = await client.post(
        "/v1/orders",
        json=order_body(estimated_dispatch_date=too_far, processed_at="9999-12-31T00:00:00Z"),
        headers=storefront,
    )
    assert field_errors(problem(response, 422, "invalid_order")) == {
        "processed_at": "timestamp_out_of_range",
        "estimated_dispatch_date": "timestamp_out_of_range",
    }


async def test_the_future_is_judged_by_the_service_s_clock(
    client: httpx.AsyncClient, storefront: dict[str, str], clock: Clock
) -> None:
    """`now` is the injected clock's: a time a wall clock calls the future is fine once the
    service's clock has passed it."""
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    body = order_body(processed_at=tomorrow.isoformat())
    problem(await client.post("/v1/orders", json=body, headers=storefront), 422, "invalid_order")
    clock.advance(timedelta(days=2))
    created = await client.post("/v1/orders", json=body, headers=storefront)
    assert created.status_code == 201, created.text


async def test_a_tracking_event_in_year_one_is_refused_and_reports_still_read(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str]
) -> None:
    """The issue's reproduction: the event poisoned its fulfilment and
    `GET /v1/reports/fulfillment` (`cannot subtract infinite timestamps`)."""
    placed = await create_order(client, storefront)
    parcel = await fulfil(client, ops, placed["id"])
    for field in ("occurred_at", "estimated_delivery_at"):
        event = {"status": "delivered", "occurred_at": datetime.now(UTC).isoformat()}
        response = await client.post(
            f"/v1/fulfillments/{parcel['id']}/tracking-events",
            json={**event, field: YEAR_ONE},
            headers=ops,
        )
        assert field_errors(problem(response, 422, "validation_error")) == {
            field: "timestamp_out_of_range"
        }
    read = await client.get(f"/v1/fulfillments/{parcel['id']}", headers=ops)
    assert read.status_code == 200, read.text
    assert read.json()["tracking_events"] == []
    report = await client.get("/v1/reports/fulfillment", headers=ops)
    assert report.status_code == 200, report.text
    assert report.json()["overall"]["shipments"] == 1


async def test_a_tracking_event_never_predates_its_order(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str], clock: Clock
) -> None:
    placed_on = clock() - timedelta(days=2)
    placed = await placed_at(client, storefront, placed_on)
    parcel = await fulfil(client, ops, placed["id"])
    before = await track(client, ops, parcel["id"], "in_transit", placed_on - timedelta(seconds=1))
    body = problem(before, 422, "invalid_tracking_event")
    assert field_errors(body) == {"occurred_at": "timestamp_out_of_range"}
    assert times.rfc3339(placed_on) in body["detail"]
    at_placement = await track(client, ops, parcel["id"], "in_transit", placed_on)
    assert at_placement.status_code == 201, at_placement.text


async def test_a_delivery_promised_more_than_a_year_ahead_is_refused(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str], clock: Clock
) -> None:
    placed = await create_order(client, storefront)
    parcel = await fulfil(client, ops, placed["id"])
    response = await track(
        client,
        ops,
        parcel["id"],
        "in_transit",
        clock(),
        estimated_delivery_at=(clock() + timedelta(days=366)).isoformat(),
    )
    assert field_errors(problem(response, 422, "invalid_tracking_event")) == {
        "estimated_delivery_at": "timestamp_out_of_range"
    }


async def test_a_delivery_dated_before_the_shipment_is_no_negative_time(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str], clock: Clock
) -> None:
    """The carrier dates the delivery a day before the shipment was recorded here (an
    integration that records shipments late): the report counts it as no time."""
    placed = await placed_at(client, storefront, clock() - timedelta(days=3))
    parcel = await fulfil(client, ops, placed["id"])
    delivered = await track(client, ops, parcel["id"], "delivered", clock() - timedelta(days=1))
    assert delivered.status_code == 201, delivered.text
    report = (await client.get("/v1/reports/fulfillment", headers=ops)).json()
    assert report["overall"]["delivered"] == 1
    assert report["overall"]["dispatch_to_delivery"] == {"median_hours": 0, "p90_hours": 0}
    assert report["overall"]["order_to_dispatch"]["median_hours"] > 71


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/v1/orders", "created_after"),
        ("/v1/orders", "created_before"),
        ("/v1/reports/fulfillment", "from"),
        ("/v1/reports/refunds", "to"),
        ("/v1/reports/returns", "to"),
        ("/v1/reports/cancellations", "from"),
    ],
)
async def test_filters_before_2000_are_refused(
    client: httpx.AsyncClient, ops: dict[str, str], path: str, name: str
) -> None:
    for value in (YEAR_ONE, "1999-12-31T23:59:59Z"):
        response = await client.get(path, params={name: value}, headers=ops)
        assert field_errors(problem(response, 422, "validation_error")) == {
            name: "timestamp_out_of_range"
        }
    response = await client.get(path, params={name: "2000-01-01T00:00:00Z"}, headers=ops)
    assert response.status_code == 200, response.text


CLIENT_TIMES = [
    ("fulfillments", "delivered_at"),
    ("fulfillments", "estimated_delivery_at"),
    ("fulfillments", "order_processed_at"),
    ("fulfillments", "promised_dispatch_date"),
    ("fulfillments", "shipment_status_at"),
    ("fulfillments", "shipped_at"),
    ("line_items", "processed_at"),
    ("orders", "delivered_at"),
    ("orders", "estimated_dispatch_date"),
    ("orders", "processed_at"),
    ("returns", "return_by"),
    ("tracking_events", "estimated_delivery_at"),
    ("tracking_events", "occurred_at"),
]
"""Every column holding a time a client sets, or a copy of one."""


def test_the_models_declare_the_constraints_the_migration_adds() -> None:
    ranged = sorted(
        (table.name, str(column.name))
        for table in metadata.tables.values()
        for column in table.columns
        for constraint in table.constraints
        if constraint.name == f"ck_{table.name}_{column.name}_range"
        and " < '10000-" in str(getattr(constraint, "sqltext", ""))
    )
    assert ranged == CLIENT_TIMES


async def test_the_database_refuses_to_store_an_absurd_time(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str], db: Any
) -> None:
    """Whatever path writes (a bug, a script, a future endpoint), the CHECK is the last guard."""
    placed = await create_order(client, storefront)
    parcel = await fulfil(client, ops, placed["id"])
    event = await track(client, ops, parcel["id"], "in_transit", datetime.now(UTC))
    assert event.status_code == 201, event.text
    tee = placed["line_items"][0]["id"]
    asked = {"line_items": [{"line_item_id": tee, "quantity": 1, "reason": "other"}]}
    response = await client.post(f"/v1/orders/{placed['id']}/returns", json=asked, headers=ops)
    assert response.status_code == 201, response.text
    for table, column in CLIENT_TIMES:
        for value in ("-infinity", "infinity", "0001-01-01", "20000-01-01"):
            with pytest.raises(IntegrityError, match=f"ck_{table}_{column}_range"):
                async with db() as session, session.begin():
                    await session.execute(text(f"UPDATE {table} SET {column} = '{value}'"))  # noqa: S608
