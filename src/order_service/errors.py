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


def _error(name: str, status: int, code: str, title: str) -> type[DomainError]:
    return type(name, (DomainError,), {"status": status, "code": code, "title": title})


# Generic
BadRequest = _error("BadRequest", 400, "bad_request", "Bad request")
InvalidJson = _error("InvalidJson", 400, "invalid_json", "Malformed JSON body")
InvalidCursor = _error("InvalidCursor", 400, "invalid_cursor", "Invalid pagination cursor")
InvalidIdempotencyKey = _error(
    "InvalidIdempotencyKey", 400, "invalid_idempotency_key", "Invalid Idempotency-Key"
)
InvalidIfMatch = _error("InvalidIfMatch", 400, "invalid_if_match", "Invalid If-Match header")
Unauthenticated = _error("Unauthenticated", 401, "unauthenticated", "Missing or unknown API key")
Forbidden = _error("Forbidden", 403, "forbidden", "API key lacks the required role")
NotFound = _error("NotFound", 404, "not_found", "Not found")
MethodNotAllowed = _error("MethodNotAllowed", 405, "method_not_allowed", "Method not allowed")
NotAcceptable = _error("NotAcceptable", 406, "not_acceptable", "Not acceptable")
PreconditionFailed = _error(
    "PreconditionFailed", 412, "precondition_failed", "The resource has changed"
)
PayloadTooLarge = _error("PayloadTooLarge", 413, "payload_too_large", "Request body too large")
UnsupportedMediaType = _error(
    "UnsupportedMediaType", 415, "unsupported_media_type", "Unsupported media type"
)
Conflict = _error("Conflict", 409, "conflict", "Conflict")
ServiceUnavailable = _error(
    "ServiceUnavailable", 503, "service_unavailable", "Service temporarily unavailable"
)

# Idempotency
IdempotencyKeyReused = _error(
    "IdempotencyKeyReused",
    422,
    "idempotency_key_reused",
    "Idempotency-Key already used with a different request",
)
IdempotencyRequestInProgress = _error(
    "IdempotencyRequestInProgress",
    409,
    "idempotency_request_in_progress",
    "A request with this Idempotency-Key is still being processed",
)

# Orders
OrderNotFound = _error("OrderNotFound", 404, "order_not_found", "Order not found")
OrderHasPayments = _error(
    "OrderHasPayments", 409, "order_has_payments", "Order has payments: archive it instead"
)
OrderFulfillmentStarted = _error(
    "OrderFulfillmentStarted",
    409,
    "order_fulfillment_started",
    "Fulfilment has started: the shipping address can no longer change",
)
OrderNotOpen = _error("OrderNotOpen", 409, "order_not_open", "The order is not open")
OrderAlreadyArchived = _error(
    "OrderAlreadyArchived", 409, "order_already_archived", "The order is already archived"
)
OrderNotArchived = _error(
    "OrderNotArchived", 409, "order_not_archived", "The order is not archived"
)
InvalidOrder = _error("InvalidOrder", 422, "invalid_order", "The order is not valid")
TransactionNotAllowed = _error(
    "TransactionNotAllowed",
    409,
    "transaction_not_allowed",
    "The payment transaction does not fit the order's payment state",
)
TransactionExceedsAmount = _error(
    "TransactionExceedsAmount",
    422,
    "transaction_exceeds_amount",
    "The transaction amount exceeds what the order allows",
)

# API keys
ApiKeyNotFound = _error("ApiKeyNotFound", 404, "api_key_not_found", "API key not found")
