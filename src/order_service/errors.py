"""Domain errors: each carries its HTTP status and a stable `code`, rendered as RFC 9457."""

from __future__ import annotations

from typing import Any, ClassVar

PROBLEM_TYPE_BASE = "https://order-service.dev/problems/"


class DomainError(Exception):
    """A refusal the client can act on. One handler renders it as `application/problem+json`."""

    status: ClassVar[int] = 409
    code: ClassVar[str] = "conflict"
    title: ClassVar[str] = "Conflict"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra
        self.headers: dict[str, str] = {}

    def to_problem(self) -> dict[str, Any]:
        return {
            "type": PROBLEM_TYPE_BASE + self.code,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
            **self.extra,
        }


def define_error(name: str, status: int, code: str, title: str) -> type[DomainError]:
    """A DomainError subclass; domains declare theirs in their own `errors.py`."""
    return type(name, (DomainError,), {"status": status, "code": code, "title": title})


# Generic
BadRequest = define_error("BadRequest", 400, "bad_request", "Bad request")
InvalidJson = define_error("InvalidJson", 400, "invalid_json", "Malformed JSON body")
ValidationFailed = define_error("ValidationFailed", 422, "validation_error", "Invalid request")
InvalidCursor = define_error("InvalidCursor", 400, "invalid_cursor", "Invalid pagination cursor")
InvalidIdempotencyKey = define_error(
    "InvalidIdempotencyKey", 400, "invalid_idempotency_key", "Invalid Idempotency-Key"
)
InvalidIfMatch = define_error("InvalidIfMatch", 400, "invalid_if_match", "Invalid If-Match header")
Unauthenticated = define_error(
    "Unauthenticated", 401, "unauthenticated", "Missing or unknown API key"
)
Forbidden = define_error("Forbidden", 403, "forbidden", "API key lacks the required role")
NotFound = define_error("NotFound", 404, "not_found", "Not found")
MethodNotAllowed = define_error("MethodNotAllowed", 405, "method_not_allowed", "Method not allowed")
NotAcceptable = define_error("NotAcceptable", 406, "not_acceptable", "Not acceptable")
PreconditionFailed = define_error(
    "PreconditionFailed", 412, "precondition_failed", "The resource has changed"
)
PayloadTooLarge = define_error(
    "PayloadTooLarge", 413, "payload_too_large", "Request body too large"
)
UnsupportedMediaType = define_error(
    "UnsupportedMediaType", 415, "unsupported_media_type", "Unsupported media type"
)
Conflict = define_error("Conflict", 409, "conflict", "Conflict")
ServiceUnavailable = define_error(
    "ServiceUnavailable", 503, "service_unavailable", "Service temporarily unavailable"
)

# Idempotency
IdempotencyKeyReused = define_error(
    "IdempotencyKeyReused",
    422,
    "idempotency_key_reused",
    "Idempotency-Key already used with a different request",
)
IdempotencyRequestInProgress = define_error(
    "IdempotencyRequestInProgress",
    409,
    "idempotency_request_in_progress",
    "A request with this Idempotency-Key is still being processed",
)

# Orders
OrderNotFound = define_error("OrderNotFound", 404, "order_not_found", "Order not found")
OrderHasPayments = define_error(
    "OrderHasPayments", 409, "order_has_payments", "Order has payments: archive it instead"
)
OrderFulfillmentStarted = define_error(
    "OrderFulfillmentStarted",
    409,
    "order_fulfillment_started",
    "Fulfilment has started: the shipping address can no longer change",
)
OrderNotOpen = define_error("OrderNotOpen", 409, "order_not_open", "The order is not open")
OrderAlreadyArchived = define_error(
    "OrderAlreadyArchived", 409, "order_already_archived", "The order is already archived"
)
OrderNotArchived = define_error(
    "OrderNotArchived", 409, "order_not_archived", "The order is not archived"
)
InvalidOrder = define_error("InvalidOrder", 422, "invalid_order", "The order is not valid")
TransactionNotAllowed = define_error(
    "TransactionNotAllowed",
    409,
    "transaction_not_allowed",
    "The payment transaction does not fit the order's payment state",
)
TransactionExceedsAmount = define_error(
    "TransactionExceedsAmount",
    422,
    "transaction_exceeds_amount",
    "The transaction amount exceeds what the order allows",
)

# API keys
ApiKeyNotFound = define_error("ApiKeyNotFound", 404, "api_key_not_found", "API key not found")
