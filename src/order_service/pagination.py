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
from order_service.db import BIGINT_MAX

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


def decode_cursor(cursor: str, *kinds: type) -> list[Any]:
    """The values `encode_cursor` put in `cursor`, one per kind: `int` for a BIGINT column,
    `str` for a text key. A value of another type or out of its column's range is refused
    here as 400 `invalid_cursor`: in a query it would be a database error."""
    if not _CURSOR.fullmatch(cursor):
        raise errors.InvalidCursor(_NOT_OURS)
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeError) as exc:
        raise errors.InvalidCursor(_NOT_OURS) from exc
    if not isinstance(values, list) or len(values) != len(kinds):
        raise errors.InvalidCursor(_NOT_OURS)
    return [_value(value, kind) for value, kind in zip(values, kinds, strict=True)]


_NOT_OURS = "The cursor is not one this service issued."


def _value(value: Any, kind: type) -> Any:
    if kind is int:
        # bool is an int to Python, not to JSON
        if type(value) is int and -BIGINT_MAX - 1 <= value <= BIGINT_MAX:
            return value
    elif kind is str and isinstance(value, str) and _sendable(value):
        return value
    raise errors.InvalidCursor(_NOT_OURS)


def _sendable(text: str) -> bool:
    """Whether PostgreSQL takes `text`: UTF-8 (JSON may hold lone surrogates) without NUL."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


async def fetch_page(
    session: AsyncSession, query: Select[Any], limit: int, key: Callable[[T], Any]
) -> Page[T]:
    """Run a keyset `query` (already ordered and filtered past the cursor) for one page."""
    return page_of(list((await session.scalars(query.limit(limit + 1))).all()), limit, key)


def page_of(rows: list[T], limit: int, key: Callable[[T], Any]) -> Page[T]:
    """The page in `rows`, which a keyset query fetched with a limit of `limit + 1`: one more
    row than the page means there is a next page, which starts after `key` of its last."""
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, encode_cursor(key(rows[-1])) if more else None)
