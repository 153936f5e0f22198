"""Fulfilments: shipping an order's units, tracking them to the door, and the follow-up."""
