"""order-service: the system of record for an e-commerce order after checkout."""

__version__ = "0.1.0"
