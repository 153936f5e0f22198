"""The refusals of the webhooks API, each with its stable `code`."""

from __future__ import annotations

from order_service.kit.errors import DomainError


class WebhookEndpointNotFound(DomainError):
    status = 404
    code = "webhook_endpoint_not_found"
    title = "Webhook endpoint not found"


class InvalidWebhookUrl(DomainError):
    status = 422
    code = "invalid_webhook_url"
    title = "The webhook URL is not usable"


class WebhookTargetNotAllowed(DomainError):
    status = 422
    code = "webhook_target_not_allowed"
    title = "The webhook URL points at a private, loopback, link-local or metadata address"


class WebhookUrlUnresolvable(DomainError):
    status = 422
    code = "webhook_url_unresolvable"
    title = "The webhook host does not resolve"


class WebhookEndpointDisabled(DomainError):
    status = 409
    code = "webhook_endpoint_disabled"
    title = "The webhook endpoint is disabled"


class NoSubscribedEndpoints(DomainError):
    status = 409
    code = "no_subscribed_endpoints"
    title = "No enabled webhook endpoint subscribes to this event"


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
