"""Each error code has one class, and every refusal a policy can give is a problem with the
same code, documented on the operation that refuses."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from order_service.cancellations import service as cancellations
from order_service.cancellations.policy import CancellationRefusal
from order_service.cli import openapi_spec
from order_service.edits import policy as edit_policy
from order_service.edits import service as edits
from order_service.edits.policy import EditRefusal
from order_service.http.problems import PROBLEM_MEDIA_TYPE, render
from order_service.kit.errors import DomainError
from order_service.orders.models import Order
from order_service.refunds import policy as refund_policy
from order_service.refunds import service as refunds
from order_service.refunds.policy import RefundRefusal
from order_service.returns import policy as return_policy
from order_service.returns import service as returns
from order_service.returns.policy import ReturnRefusal
from order_service.settings import Settings


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return openapi_spec()


def test_no_two_error_classes_share_a_code(spec: dict[str, Any]) -> None:
    # `spec` built the app, which imported every domain's errors.
    classes: list[type[DomainError]] = []
    pending = [DomainError]
    while pending:
        subclasses = pending.pop().__subclasses__()
        classes += subclasses
        pending += subclasses
    by_code: dict[str, list[str]] = {}
    for cls in classes:
        by_code.setdefault(cls.code, []).append(f"{cls.__module__}.{cls.__qualname__}")
    assert {code: names for code, names in by_code.items() if len(names) > 1} == {}
    assert len(classes) > 50


def documented(spec: dict[str, Any], method: str, path: str) -> dict[str, int]:
    """The status of each problem code the operation documents."""
    found: dict[str, int] = {}
    for status, response in spec["paths"][path][method]["responses"].items():
        examples = response.get("content", {}).get(PROBLEM_MEDIA_TYPE, {}).get("examples", {})
        found.update(dict.fromkeys(examples, int(status)))
    return found


def sent(error: DomainError) -> dict[str, Any]:
    response = render(error)
    problem: dict[str, Any] = json.loads(response.body)
    assert problem["status"] == response.status_code
    return problem


@pytest.mark.parametrize("code", list(CancellationRefusal))
def test_every_cancellation_refusal_is_a_documented_problem(
    code: CancellationRefusal, spec: dict[str, Any], settings: Settings
) -> None:
    order = Order(number=1001, status="cancelled", cancelled_at=datetime(2025, 1, 2, tzinfo=UTC))
    problem = sent(cancellations.refusal(code, order, settings))
    assert problem["code"] == code.value
    cancel = documented(spec, "post", "/v1/orders/{order_id}/cancel")
    assert cancel.get(code.value) == problem["status"], cancel


@pytest.mark.parametrize("code", list(RefundRefusal))
def test_every_refund_refusal_is_a_documented_problem(
    code: RefundRefusal, spec: dict[str, Any]
) -> None:
    decision = refund_policy.Decision(
        lines=[refund_policy.LineDecision("li_1", 1, 0, eligible=False, code=code)],
        shipping=0,
        shipping_eligible=True,
        shipping_code=None,
        goodwill=0,
        amount=0,
        available=0,
        codes=[code],
    )
    problem = sent(refunds.refusal(decision, "EUR"))
    assert problem["code"] == code.value
    assert problem["codes"] == [code.value]
    assert problem["lines"] == [{"line_item_id": "li_1", "code": code.value}]
    refund = documented(spec, "post", "/v1/orders/{order_id}/refunds")
    assert refund.get(code.value) == problem["status"], refund


@pytest.mark.parametrize("code", list(EditRefusal))
def test_every_edit_refusal_is_a_documented_problem(
    code: EditRefusal, spec: dict[str, Any], settings: Settings
) -> None:
    order = Order(number=1001, status="cancelled")
    below = edit_policy.LineOutcome("li_1", 3, 0, 1, -300)
    problem = sent(edits.refusal(code, order, settings, [below]))
    assert problem["code"] == code.value
    edit = documented(spec, "post", "/v1/orders/{order_id}/edits")
    assert edit.get(code.value) == problem["status"], edit
    if code is EditRefusal.line_item_not_editable:
        assert problem["lines"] == [{"line_item_id": "li_1", "minimum_quantity": 1}]


@pytest.mark.parametrize("code", list(ReturnRefusal))
def test_every_return_refusal_is_a_documented_problem(
    code: ReturnRefusal, spec: dict[str, Any], settings: Settings
) -> None:
    decision = return_policy.Decision(
        lines=[return_policy.LineDecision("li_1", 2, 1, None, code)], codes=[code]
    )
    problem = sent(returns.refusal(code, decision, settings))
    assert problem["code"] == code.value
    assert problem["lines"] == [
        {"line_item_id": "li_1", "code": code.value, "returnable_quantity": 1}
    ]
    request = documented(spec, "post", "/v1/orders/{order_id}/returns")
    assert request.get(code.value) == problem["status"], request


@pytest.mark.parametrize(
    ("path", "codes"),
    [
        ("/v1/returns/{return_id}/approve", {"return_not_requested": 409, "invalid_return": 422}),
        ("/v1/returns/{return_id}/decline", {"return_not_requested": 409}),
        (
            "/v1/returns/{return_id}/receive",
            {
                "return_not_approved": 409,
                "line_item_not_in_return": 422,
                "deduction_exceeds_refundable": 422,
            },
        ),
        ("/v1/returns/{return_id}/cancel", {"return_not_cancellable": 409}),
        ("/v1/returns/{return_id}/close", {"return_not_closable": 409}),
    ],
)
def test_return_actions_document_their_refusals(
    path: str, codes: dict[str, int], spec: dict[str, Any]
) -> None:
    found = documented(spec, "post", path)
    assert {code: found.get(code) for code in codes} == codes
    assert found.get("return_not_found") == 404
