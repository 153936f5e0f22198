"""API keys, roles and the authenticated actor of a request."""
