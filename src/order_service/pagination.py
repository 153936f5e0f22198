"""Opaque keyset cursors shared by every list endpoint."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

from order_service import errors

T = TypeVar("T")

MAX_LIMIT = 250
DEFAULT_LIMIT = 50
CURSOR_PATTERN = "^[A-Za-z0-9_-]*$"
"""Cursors are unpadded base64url; only ones this service issued decode. Empty: first page."""
_CURSOR = re.compile(CURSOR_PATTERN)


@dataclass(slots=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


def encode_cursor(*values: Any) -> str:
    raw = json.dumps(list(values), separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, arity: int) -> list[Any]:
    if not _CURSOR.fullmatch(cursor):
        raise errors.InvalidCursor("The cursor is not one this service issued.")
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeError) as exc:
        raise errors.InvalidCursor("The cursor is not one this service issued.") from exc
    if not isinstance(values, list) or len(values) != arity:
        raise errors.InvalidCursor("The cursor is not one this service issued.")
    if not all(isinstance(v, str | int) and not isinstance(v, bool) for v in values):
        raise errors.InvalidCursor("The cursor is not one this service issued.")
    return values


async def fetch_page(
    session: AsyncSession, query: Select[Any], limit: int, key: Callable[[T], Any]
) -> Page[T]:
    """Run a keyset `query` (already ordered and filtered past the cursor) for one page."""
    rows: list[T] = list((await session.scalars(query.limit(limit + 1))).all())
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, encode_cursor(key(rows[-1])) if more else None)
