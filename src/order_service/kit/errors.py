"""Domain errors: each carries its HTTP status and a stable `code`, rendered as RFC 9457."""

from __future__ import annotations

from typing import Any, ClassVar

PROBLEM_TYPE_BASE = "https://order-service.dev/problems/"


class DomainError(Exception):
    """A refusal the client can act on. One handler renders it as `application/problem+json`.
    Each code has one subclass, which sets `status`, `code` and `title`."""

    status: ClassVar[int]
    code: ClassVar[str]
    title: ClassVar[str]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # A class that inherited its code would answer with another error's code.
        missing = {"status", "code", "title"} - cls.__dict__.keys()
        if missing:
            raise TypeError(f"{cls.__name__} must set {', '.join(sorted(missing))}")

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


# Generic
class BadRequest(DomainError):
    status = 400
    code = "bad_request"
    title = "Bad request"


class InvalidJson(DomainError):
    status = 400
    code = "invalid_json"
    title = "Malformed JSON body"


class ValidationFailed(DomainError):
    status = 422
    code = "validation_error"
    title = "Invalid request"


class InvalidCursor(DomainError):
    status = 400
    code = "invalid_cursor"
    title = "Invalid pagination cursor"


class InvalidIdempotencyKey(DomainError):
    status = 400
    code = "invalid_idempotency_key"
    title = "Invalid Idempotency-Key"


class InvalidIfMatch(DomainError):
    status = 400
    code = "invalid_if_match"
    title = "Invalid If-Match header"


class Unauthenticated(DomainError):
    status = 401
    code = "unauthenticated"
    title = "Missing or unknown API key"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"
    title = "API key lacks the required role"


class NotFound(DomainError):
    status = 404
    code = "not_found"
    title = "Not found"


class MethodNotAllowed(DomainError):
    status = 405
    code = "method_not_allowed"
    title = "Method not allowed"


class NotAcceptable(DomainError):
    status = 406
    code = "not_acceptable"
    title = "Not acceptable"


class PreconditionFailed(DomainError):
    status = 412
    code = "precondition_failed"
    title = "The resource has changed"


class PayloadTooLarge(DomainError):
    status = 413
    code = "payload_too_large"
    title = "Request body too large"


class UnsupportedMediaType(DomainError):
    status = 415
    code = "unsupported_media_type"
    title = "Unsupported media type"


class Conflict(DomainError):
    status = 409
    code = "conflict"
    title = "Conflict"


class ServiceUnavailable(DomainError):
    status = 503
    code = "service_unavailable"
    title = "Service temporarily unavailable"


# Idempotency
class IdempotencyKeyReused(DomainError):
    status = 422
    code = "idempotency_key_reused"
    title = "Idempotency-Key already used with a different request"


class IdempotencyRequestInProgress(DomainError):
    status = 409
    code = "idempotency_request_in_progress"
    title = "A request with this Idempotency-Key is still being processed"


# Orders
class OrderNotFound(DomainError):
    status = 404
    code = "order_not_found"
    title = "Order not found"


class OrderHasPayments(DomainError):
    status = 409
    code = "order_has_payments"
    title = "Order has payments: archive it instead"


class OrderFulfillmentStarted(DomainError):
    status = 409
    code = "order_fulfillment_started"
    title = "Fulfilment has started: the shipping address can no longer change"


class OrderNotOpen(DomainError):
    status = 409
    code = "order_not_open"
    title = "The order is not open"


class NothingToReorder(DomainError):
    """The order has no line with units left to copy: every line was removed. 409 rather
    than 422: the request is well formed and names a real order; what refuses it is the
    order's state, as `nothing_to_fulfill` refuses a fulfilment of an order with every unit
    already in a parcel (422 is for a request whose own content is wrong, as an edit that
    would empty the order is)."""

    status = 409
    code = "nothing_to_reorder"
    title = "The order has no items left to reorder"


class InvalidOrder(DomainError):
    status = 422
    code = "invalid_order"
    title = "The order is not valid"


class TransactionNotAllowed(DomainError):
    status = 409
    code = "transaction_not_allowed"
    title = "The payment transaction does not fit the order's payment state"


class TransactionExceedsAmount(DomainError):
    status = 422
    code = "transaction_exceeds_amount"
    title = "The transaction amount exceeds what the order allows"


class FeeExceedsAmount(DomainError):
    """A processing fee larger than the payment it was kept from: `net_paid` would go
    negative."""

    status = 422
    code = "fee_exceeds_amount"
    title = "The fee exceeds the amount it was charged on"


# API keys
class ApiKeyNotFound(DomainError):
    status = 404
    code = "api_key_not_found"
    title = "API key not found"
