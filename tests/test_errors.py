"""Each error code has one class."""

from __future__ import annotations

from order_service.cli import openapi_spec
from order_service.errors import DomainError


def test_no_two_error_classes_share_a_code() -> None:
    openapi_spec()  # builds the app, which imports every domain's errors
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
