"""Schemathesis against the app's own OpenAPI, in-process, on the real test database.

Every operation is called with generated valid and invalid data (the examples and fuzzing
phases; `make fuzz` adds the coverage phase) with an admin key, and every response is checked
against the spec with all of schemathesis's checks, none excluded; only the refusals listed in
SEMANTIC_REFUSALS are exempt from one of them, positive-data acceptance. `FUZZ_EXAMPLES` sets
the fuzzing phase's examples per operation: 10 in `make test`, 200 in `make fuzz`.

The spec is the app's own (`openapi_spec()`, which a test keeps equal to the committed file).
`schemathesis.pytest.from_fixture` would fit better but breaks on pytest 9.2 (it sets the
removed `Node._nodeid`), hence a module-level schema calling a per-test app through a proxy.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import positive_data_acceptance
from schemathesis.python import asgi

from order_service.app import create_app
from order_service.cli import openapi_spec
from order_service.settings import Settings
from tests.conftest import Clock, Keys

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "10"))
# The coverage phase sends every boundary and type-violating value of every parameter: thousands
# of requests, not bounded by EXAMPLES, so it runs in `make fuzz` only.
COVERAGE = os.environ.get("FUZZ_COVERAGE", "0") == "1"
# `make test` replays the same generated requests every run, so a clean clone passes or fails
# on the code alone; `make fuzz` (FUZZ_COVERAGE=1) explores new ones each time.
DERANDOMIZE = os.environ.get("FUZZ_RANDOM", "1" if COVERAGE else "0") != "1"


class CurrentApp:
    """The app under test, swapped per test. Schemathesis runs every app it calls on one event
    loop thread of its own, so each test gets a fresh app whose engine lives there (the `app`
    fixture's engine belongs to pytest's loop), started and shut down through its lifespan."""

    app: Any = None
    admin_key: str = ""
    statuses: set[int]

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


current = CurrentApp()

schema = schemathesis.openapi.from_dict(
    openapi_spec(),
    config=schemathesis.Config.from_dict(
        {
            "generation": {"mode": "all", "max-examples": EXAMPLES},
            "checks": {"enabled": True},
            "phases": {"examples": {"enabled": True}, "coverage": {"enabled": COVERAGE}},
        }
    ),
)
schema.app = current


SEMANTIC_REFUSALS = {
    # A cursor is opaque: only one this service issued decodes. Generated ones of the
    # documented form are refused.
    (400, "invalid_cursor"),
    # Generation repeats values, so an Idempotency-Key comes back with another body.
    (422, "idempotency_key_reused"),
    # Relative to the server's clock (`processed_at`, `occurred_at` not in the future) or
    # arithmetic across fields (discounts above the subtotal, a fee above its amount): beyond
    # JSON Schema.
    (422, "invalid_order"),
    (422, "invalid_tracking_event"),
    (422, "fee_exceeds_amount"),
    # Each line item at most once in a parcel: uniqueness by key is beyond JSON Schema.
    (422, "duplicate_line_item"),
    # Which URL schemes work depends on the transports installed, and whether a host is
    # allowed on what DNS answers at the time.
    (422, "invalid_webhook_url"),
    (422, "webhook_target_not_allowed"),
    # A return's `return_by` against the clock, replacement items only for an exchange,
    # received lines against the return's, deductions against the refund.
    (422, "invalid_return"),
    (422, "line_item_not_in_return"),
    (422, "deduction_exceeds_refundable"),
}


# Not cached: every test issues a new key.
@schema.auth(refresh_interval=None)
class AdminKey:
    def get(self, case: schemathesis.Case, ctx: schemathesis.AuthContext) -> str:
        return current.admin_key

    def set(self, case: schemathesis.Case, data: str, ctx: schemathesis.AuthContext) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


@pytest.fixture
def fuzz_app(settings: Settings, clock: Clock, api_keys: Keys) -> Iterator[None]:
    current.app = create_app(settings, clock=clock)
    current.admin_key = api_keys.admin
    current.statuses = set()
    yield
    asgi.shutdown_lifespans()
    current.app = None
    # Guards the harness itself: a fuzz run refused wholesale for its key proves nothing.
    assert current.statuses - {401}, "every request was unauthenticated"


@schema.parametrize()
# One app and clean tables per operation; its examples share them, as a client's calls would.
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], derandomize=DERANDOMIZE)
def test_api(case: schemathesis.Case, fuzz_app: None) -> None:
    response = case.call()
    current.statuses.add(response.status_code)
    case.validate_response(response, excluded_checks=_waived(response))


def _waived(response: schemathesis.Response) -> list[schemathesis.CheckFunction]:
    """Refusals of schema-valid data that no schema can foresee: exempt from positive-data
    acceptance only; every other check still applies to them."""
    body = _body(response)
    if (response.status_code, body.get("code")) in SEMANTIC_REFUSALS or _beyond_json_schema(body):
        return [positive_data_acceptance]
    return []


BEYOND_JSON_SCHEMA = {
    # JSON Schema cannot bound a `date-time`: times before 2000 are refused.
    "timestamp_out_of_range",
    # JSON Schema counts `816.0` as an integer; money and quantities must be written `816`.
    "not_json_integer",
}


def _beyond_json_schema(body: dict[str, Any]) -> bool:
    """A validation problem only for rules JSON Schema cannot state."""
    found = body.get("errors") if body.get("code") == "validation_error" else None
    return bool(found) and all(e.get("type") in BEYOND_JSON_SCHEMA for e in found)


def _body(response: schemathesis.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
