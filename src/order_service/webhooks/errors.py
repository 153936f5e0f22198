"""The refusals of the webhooks API, each with its stable `code`."""

from __future__ import annotations

from order_service.errors import define_error

WebhookEndpointNotFound = define_error(
    "WebhookEndpointNotFound", 404, "webhook_endpoint_not_found", "Webhook endpoint not found"
)
InvalidWebhookUrl = define_error(
    "InvalidWebhookUrl", 422, "invalid_webhook_url", "The webhook URL is not usable"
)
WebhookTargetNotAllowed = define_error(
    "WebhookTargetNotAllowed",
    422,
    "webhook_target_not_allowed",
    "The webhook URL points at a private, loopback, link-local or metadata address",
)
WebhookUrlUnresolvable = define_error(
    "WebhookUrlUnresolvable", 422, "webhook_url_unresolvable", "The webhook host does not resolve"
)
WebhookEndpointDisabled = define_error(
    "WebhookEndpointDisabled", 409, "webhook_endpoint_disabled", "The webhook endpoint is disabled"
)
NoSubscribedEndpoints = define_error(
    "NoSubscribedEndpoints",
    409,
    "no_subscribed_endpoints",
    "No enabled webhook endpoint subscribes to this event",
)
