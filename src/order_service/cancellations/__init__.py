"""Cancellation: who may cancel an order, until when, and what cancelling does."""
