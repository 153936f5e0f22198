"""Direct database shortcuts for states another capability produces (e.g. shipping)."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import func, select, update

from order_service.events.models import Event
from order_service.orders.models import Order


async def set_order(db: Any, order_id: str, **values: Any) -> None:
    async with db() as session, session.begin():
        await session.execute(update(Order).where(Order.id == order_id).values(**values))


async def fulfil(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    order: dict[str, Any],
    units: int = 1,
    status: str = "shipped",
) -> dict[str, Any]:
    """Fulfil `units` of the order's first line through the API (`pending` = picking)."""
    response = await client.post(
        f"/v1/orders/{order['id']}/fulfillments",
        json={
            "line_items": [{"line_item_id": order["line_items"][0]["id"], "quantity": units}],
            "status": status,
            "carrier": "UPS",
            "tracking_number": "1Z999",
        },
        headers=headers,
    )
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def count_events(db: Any, type_: str, order_id: str | None = None) -> int:
    async with db() as session:
        query = select(func.count()).select_from(Event).where(Event.type == type_)
        if order_id:
            query = query.where(Event.order_id == order_id)
        return int(await session.scalar(query) or 0)
