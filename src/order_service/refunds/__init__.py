"""Refunds: the eligibility policy, previews, creation, settlement by the payments service."""
