"""The schema is built by the migrations; they must also go down and up again cleanly."""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import CheckConstraint, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from order_service.app import create_app
from order_service.auth import service as keys
from order_service.auth.schemas import Role
from order_service.kit import migrations, secrecy
from order_service.models import metadata
from order_service.settings import Environment, Settings, get_settings
from order_service.webhooks import signing
from tests.conftest import _admin
from tests.factories import create_order
from tests.helpers import fulfil


async def test_migrations_down_to_base_and_up_match_the_models(server_url: str) -> None:
    name = f"order_service_migrations_{uuid.uuid4().hex[:8]}"
    await _admin(server_url, f'CREATE DATABASE "{name}"')
    url = make_url(server_url).set(database=name, drivername="postgresql+asyncpg")
    rendered = url.render_as_string(hide_password=False)
    try:
        await asyncio.to_thread(migrations.upgrade, rendered)
        await asyncio.to_thread(migrations.downgrade, rendered, "base")
        await asyncio.to_thread(migrations.upgrade, rendered)
        engine = create_async_engine(rendered)
        async with engine.connect() as conn:
            diff = await conn.run_sync(
                lambda sync: compare_metadata(
                    MigrationContext.configure(sync, opts={"compare_type": True}), metadata
                )
            )
            tables = await conn.exec_driver_sql(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
            )
            assert tables.scalar() == len(metadata.tables) + 1  # + alembic_version
            # Alembic does not compare CHECK constraints; their names at least match
            checks = await conn.exec_driver_sql(
                "SELECT conname FROM pg_constraint WHERE contype = 'c' AND conrelid IN "
                "(SELECT oid FROM pg_class WHERE relnamespace = 'public'::regnamespace)"
            )
            declared = {
                str(constraint.name)
                for table in metadata.tables.values()
                for constraint in table.constraints
                if isinstance(constraint, CheckConstraint)
            }
            assert set(checks.scalars()) == declared
        await engine.dispose()
        assert diff == [], diff
    finally:
        await _admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_single_head() -> None:
    assert migrations.head() is not None


SECRETS_AT_REST = "b7e1c2d3a402"


async def test_secrets_at_rest_encrypts_webhook_secrets_and_clears_replayed_ones(
    server_url: str,
) -> None:
    name = f"order_service_migrations_{uuid.uuid4().hex[:8]}"
    await _admin(server_url, f'CREATE DATABASE "{name}"')
    url = make_url(server_url).set(database=name, drivername="postgresql+asyncpg")
    rendered = url.render_as_string(hide_password=False)
    scripts = ScriptDirectory.from_config(migrations.alembic_config(rendered))
    before = scripts.get_revision(SECRETS_AT_REST).down_revision
    assert isinstance(before, str)
    current, previous = signing.generate_secret(), signing.generate_secret()
    api_key = "osk_" + "k" * 43
    replays = {
        "/v1/api-keys": {"id": "key_1", "key": api_key},
        "/v1/webhook-endpoints": {"id": "whe_1", "secret": previous},
        "/v1/webhook-endpoints/whe_1/rotate-secret": {"id": "whe_1", "secret": current},
        "/v1/orders": {"id": "ord_1", "key": "not a secret"},
    }
    engine = create_async_engine(rendered)
    try:
        await asyncio.to_thread(migrations.upgrade, rendered, before)
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO webhook_endpoints (id, url, events, enabled, secret, "
                    "previous_secret, previous_secret_expires_at, created_at, updated_at) "
                    "VALUES ('whe_1', 'log://x', '[\"*\"]', true, :current, :previous, "
                    "now() + interval '1 hour', now(), now())"
                ),
                {"current": current, "previous": previous},
            )
            for path, body in replays.items():
                await conn.execute(
                    text(
                        "INSERT INTO idempotency_keys (scope, key, fingerprint, method, path, "
                        "response_status, response_headers, response_body, expires_at) "
                        "VALUES ('s', :path, 'f', 'POST', :path, 201, "
                        '\'{"content-type": "application/json"}\', :body, '
                        "now() + interval '1 day')"
                    ),
                    {"path": path, "body": json.dumps(body).encode()},
                )

        await asyncio.to_thread(migrations.upgrade, rendered)
        vault = secrecy.vault(get_settings())
        async with engine.connect() as conn:
            sealed = (
                await conn.execute(
                    text(
                        "SELECT secret_ciphertext, previous_secret_ciphertext "
                        "FROM webhook_endpoints"
                    )
                )
            ).one()
            bodies = dict(
                (await conn.execute(text("SELECT path, response_body FROM idempotency_keys"))).all()
            )
        assert (vault.open(sealed[0]), vault.open(sealed[1])) == (current, previous)
        assert {path: json.loads(body) for path, body in bodies.items()} == {
            "/v1/api-keys": {"id": "key_1", "key": None},
            "/v1/webhook-endpoints": {"id": "whe_1", "secret": None},
            "/v1/webhook-endpoints/whe_1/rotate-secret": {"id": "whe_1", "secret": None},
            "/v1/orders": {"id": "ord_1", "key": "not a secret"},
        }

        await asyncio.to_thread(migrations.downgrade, rendered, before)
        async with engine.connect() as conn:
            plain = (
                await conn.execute(text("SELECT secret, previous_secret FROM webhook_endpoints"))
            ).one()
        assert tuple(plain) == (current, previous)
    finally:
        await engine.dispose()
        await _admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


TIMESTAMP_BOUNDS = "b7e1c2d3a401"


async def test_the_timestamp_bounds_repair_poisoned_rows(server_url: str) -> None:
    """Rows stored before the bounds (year 1 arrived as -infinity) are repaired as the
    migration's docstring says, and the order reads again."""
    name = f"order_service_migrations_{uuid.uuid4().hex[:8]}"
    await _admin(server_url, f'CREATE DATABASE "{name}"')
    url = make_url(server_url).set(database=name, drivername="postgresql+asyncpg")
    rendered = url.render_as_string(hide_password=False)
    settings = Settings(
        env=Environment.test, database_url=rendered, webhook_allow_private_targets=True
    )
    try:
        await asyncio.to_thread(migrations.upgrade, rendered)
        app = create_app(settings)
        services = app.state.services
        async with services.sessionmaker() as session, session.begin():
            _, key = await keys.create_key(session, name="ops", role=Role.ops)
        headers = {"Authorization": f"Bearer {key}"}
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            order = await create_order(client, headers)
            parcel = await fulfil(client, headers, order)
            tracked = await client.post(
                f"/v1/fulfillments/{parcel['id']}/tracking-events",
                json={
                    "status": "delivered",
                    "occurred_at": order["processed_at"],
                    "estimated_delivery_at": order["processed_at"],
                },
                headers=headers,
            )
            assert tracked.status_code == 201, tracked.text
            await services.engine.dispose()
            before = (
                ScriptDirectory.from_config(migrations.alembic_config(rendered))
                .get_revision(TIMESTAMP_BOUNDS)
                .down_revision
            )
            assert isinstance(before, str)
            await asyncio.to_thread(migrations.downgrade, rendered, before)
            async with services.engine.begin() as conn:
                for statement in (
                    "UPDATE orders SET processed_at = '-infinity', delivered_at = 'infinity', "
                    "estimated_dispatch_date = '0001-01-01'",
                    "UPDATE line_items SET processed_at = '-infinity'",
                    "UPDATE fulfillments SET shipped_at = '-infinity', delivered_at = '-infinity', "
                    "shipment_status_at = '-infinity', order_processed_at = '-infinity', "
                    "promised_dispatch_date = '-infinity', estimated_delivery_at = 'infinity'",
                    "UPDATE tracking_events SET occurred_at = '0001-01-01', "
                    "estimated_delivery_at = '20000-01-01'",
                ):
                    await conn.exec_driver_sql(statement)
            await services.engine.dispose()
            await asyncio.to_thread(migrations.upgrade, rendered)

            repaired = await client.get(f"/v1/orders/{order['id']}", headers=headers)
            assert repaired.status_code == 200, repaired.text
            got = repaired.json()
            assert got["processed_at"] == got["created_at"]
            assert got["delivered_at"] == got["updated_at"]
            assert got["estimated_dispatch_date"] is None
            listed = await client.get("/v1/orders", headers=headers)
            assert listed.status_code == 200, listed.text
            shipment = (
                await client.get(f"/v1/fulfillments/{parcel['id']}", headers=headers)
            ).json()
            updated = shipment["updated_at"]
            assert shipment["shipped_at"] == shipment["delivered_at"] == updated
            assert shipment["estimated_delivery_at"] is None
            (event,) = shipment["tracking_events"]
            assert event["occurred_at"] == event["created_at"]
            assert event["estimated_delivery_at"] is None
            report = await client.get("/v1/reports/fulfillment", headers=headers)
            assert report.status_code == 200, report.text
        async with services.engine.connect() as conn:
            copies = await conn.exec_driver_sql(
                "SELECT li.processed_at = o.processed_at, f.order_processed_at = o.processed_at,"
                " f.promised_dispatch_date IS NULL, f.shipment_status_at = f.updated_at"
                " FROM orders o JOIN line_items li ON li.order_id = o.id"
                " JOIN fulfillments f ON f.order_id = o.id"
            )
            assert set(copies.all()) == {(True, True, True, True)}
        await services.engine.dispose()
    finally:
        await _admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


RETURN_REFUNDED_UNITS = "e6a1c3f4b2d7"


async def test_return_refunded_units_are_backfilled_from_live_return_refunds(
    server_url: str,
) -> None:
    """Units of pending and succeeded refunds of returns count; a failed one's and a plain
    refund's do not; and the order then still owes its unshipped unit."""
    name = f"order_service_migrations_{uuid.uuid4().hex[:8]}"
    await _admin(server_url, f'CREATE DATABASE "{name}"')
    url = make_url(server_url).set(database=name, drivername="postgresql+asyncpg")
    rendered = url.render_as_string(hide_password=False)
    settings = Settings(
        env=Environment.test, database_url=rendered, webhook_allow_private_targets=True
    )
    try:
        await asyncio.to_thread(migrations.upgrade, rendered)
        app = create_app(settings)
        services = app.state.services
        async with services.sessionmaker() as session, session.begin():
            _, key = await keys.create_key(session, name="ops", role=Role.ops)
        headers = {"Authorization": f"Bearer {key}"}
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            tees = [{"sku": "TEE", "title": "Tee", "quantity": 5, "unit_price": 1000}]
            order = await create_order(client, headers, line_items=tees)
            await fulfil(client, headers, order, 3)
            tee = order["line_items"][0]["id"]

            async def returned(settle: str | None) -> None:
                body = {
                    "line_items": [{"line_item_id": tee, "quantity": 1, "reason": "other"}],
                    "resolution": "refund",
                }
                found = await client.post(
                    f"/v1/orders/{order['id']}/returns", json=body, headers=headers
                )
                assert found.status_code == 201, found.text
                for action in ("approve", "receive"):
                    response = await client.post(
                        f"/v1/returns/{found.json()['id']}/{action}", json={}, headers=headers
                    )
                    assert response.status_code == 200, response.text
                if settle:
                    refund = response.json()["refund"]["id"]
                    settled = await client.post(
                        f"/v1/refunds/{refund}/settle", json={"status": settle}, headers=headers
                    )
                    assert settled.status_code == 200, settled.text

            await returned("succeeded")
            await returned("failed")
            await returned(None)
            plain = {"line_items": [{"line_item_id": tee, "quantity": 1}], "reason": "other"}
            refunded = await client.post(
                f"/v1/orders/{order['id']}/refunds", json=plain, headers=headers
            )
            assert refunded.status_code == 201, refunded.text
            await services.engine.dispose()
            before = (
                ScriptDirectory.from_config(migrations.alembic_config(rendered))
                .get_revision(RETURN_REFUNDED_UNITS)
                .down_revision
            )
            assert isinstance(before, str)
            await asyncio.to_thread(migrations.downgrade, rendered, before)
            await asyncio.to_thread(migrations.upgrade, rendered)
            async with services.engine.connect() as conn:
                counts = await conn.exec_driver_sql(
                    "SELECT refunded_quantity + refund_pending_quantity, return_refunded_quantity"
                    " FROM line_items"
                )
                assert counts.all() == [(3, 2)]
            # five bought, three shipped, one refunded before shipping: one more ships
            rest = await client.post(
                f"/v1/orders/{order['id']}/fulfillments",
                json={"status": "shipped"},
                headers=headers,
            )
            assert rest.status_code == 201, rest.text
            assert [line["quantity"] for line in rest.json()["line_items"]] == [1]
        await services.engine.dispose()
    finally:
        await _admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
