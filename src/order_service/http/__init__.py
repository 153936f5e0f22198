"""The HTTP layer every operation passes through: middleware, the request
transaction and idempotency, the request context, problems, health and serving."""
