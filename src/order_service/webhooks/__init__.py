"""Webhook delivery: endpoints, signed payloads, the dispatcher and its transports."""
