"""Opaque, time-ordered identifiers: a type prefix and 26 Crockford base32 characters."""

from __future__ import annotations

import base64
import os
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
# RFC 4648 base32 digits to Crockford's: the same 5-bit values, other characters.
_CROCKFORD = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", _ALPHABET.encode())


def new_id(prefix: str) -> str:
    """`ord_01jd…`: 48 bits of milliseconds then 80 random bits, so ids sort by creation."""
    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10), "big")
    # 20 bytes are 32 base32 digits; the last 26 hold the 128 bits (a loop of divmods cost
    # 30 µs an id, and an order creation makes six).
    digits = base64.b32encode(value.to_bytes(20, "big"))[6:].translate(_CROCKFORD)
    return f"{prefix}_{digits.decode()}"
