"""Opaque, time-ordered identifiers: a type prefix and 26 Crockford base32 characters."""

from __future__ import annotations

import os
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
_PAIRS = [a + b for a in _ALPHABET for b in _ALPHABET]
"""Two digits for each 10-bit value."""
_SHIFTS = range(120, -1, -10)


def new_id(prefix: str) -> str:
    """`ord_01jd…`: 48 bits of milliseconds then 80 random bits, so ids sort by creation."""
    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10), "big")
    # 26 digits, two at a time from the most significant (a lookup per pair rather than per
    # digit: an order creation makes six ids).
    pairs = _PAIRS
    return f"{prefix}_" + "".join([pairs[(value >> shift) & 0x3FF] for shift in _SHIFTS])
