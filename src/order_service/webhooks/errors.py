"""The refusals of the webhooks API, each with its stable `code`."""

from __future__ import annotations

from order_service.errors import DomainError, define_error

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


class WebhookTransportNotAllowed(DomainError):
    """A transport this deployment refuses: `log://` in production, where it would write
    customer data to the service log."""

    status = 422
    code = "webhook_transport_not_allowed"
    title = "This kind of webhook URL is not allowed in this environment"


class WebhookTransportUnavailable(DomainError):
    """A transport whose client library is not installed (`nats://` without the `nats`
    extra)."""

    status = 422
    code = "webhook_transport_unavailable"
    title = "The service is installed without support for this kind of webhook URL"
