"""A read of one statement runs without a transaction (`routing.one_statement_read`); the
connection it used goes back to the pool as any other, so the next request on it, a change,
is one transaction again: its Idempotency-Key lock holds until it commits."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from order_service.settings import Settings
from tests.factories import create_order, order_body
from tests.helpers import counting_statements


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # One connection: every request below runs on the one a transactionless read used.
    return settings.model_copy(update={"database_pool_size": 1})


async def test_a_change_after_a_transactionless_read_is_one_transaction(
    client: httpx.AsyncClient, storefront: dict[str, str], ops: dict[str, str], app: Any
) -> None:
    order = await create_order(client, storefront)
    assert (await client.get(f"/v1/orders/{order['id']}", headers=storefront)).status_code == 200
    async with counting_statements(app, transaction_control=True) as statements:
        archived = await client.post(f"/v1/orders/{order['id']}/archive", headers=ops)
    assert archived.status_code == 200, archived.text
    assert statements[0].upper().startswith("BEGIN"), statements
    assert statements[-1].upper().startswith("COMMIT"), statements

    # Interleaved reads and duplicate keyed creates: still one order per key.
    headers = {**storefront, "Idempotency-Key": "after-a-read"}
    results = await asyncio.gather(
        *(
            client.get(f"/v1/orders/{order['id']}", headers=storefront)
            if i % 2
            else client.post("/v1/orders", json=order_body(), headers=headers)
            for i in range(10)
        )
    )
    created = {r.json()["id"] for r in results[::2] if r.status_code in (200, 201)}
    assert len(created) == 1, [r.status_code for r in results]
    assert all(r.status_code == 200 for r in results[1::2])
