"""Shortcuts for the fulfilment tests, the way a warehouse or carrier integration calls."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select

from order_service.events.models import Event
from tests.factories import create_order


async def placed_at(
    client: httpx.AsyncClient, headers: dict[str, str], when: datetime, **overrides: Any
) -> dict[str, Any]:
    """An order placed at `when` (imported): a carrier's reports are never dated before it."""
    return await create_order(client, headers, processed_at=when.isoformat(), **overrides)


async def fulfil(
    client: httpx.AsyncClient, headers: dict[str, str], order_id: str, **body: Any
) -> dict[str, Any]:
    response = await client.post(f"/v1/orders/{order_id}/fulfillments", json=body, headers=headers)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def track(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    fulfillment_id: str,
    status: str,
    at: datetime,
    **extra: Any,
) -> httpx.Response:
    return await client.post(
        f"/v1/fulfillments/{fulfillment_id}/tracking-events",
        json={"status": status, "occurred_at": at.isoformat(), **extra},
        headers=headers,
    )


async def order(client: httpx.AsyncClient, headers: dict[str, str], order_id: str) -> Any:
    response = await client.get(f"/v1/orders/{order_id}", headers=headers)
    assert response.status_code == 200
    return response.json()


async def events(db: Any, type_: str, order_id: str | None = None) -> list[Event]:
    async with db() as session:
        query = select(Event).where(Event.type == type_).order_by(Event.sequence)
        if order_id:
            query = query.where(Event.order_id == order_id)
        return list((await session.scalars(query)).all())


def hours(n: float) -> timedelta:
    return timedelta(hours=n)
