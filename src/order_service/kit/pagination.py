"""Opaque keyset cursors shared by every list endpoint."""

from __future__ import annotations

import base64
import hmac
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

from order_service.kit import errors
from order_service.kit.db import BIGINT_MAX

T = TypeVar("T")

MAX_LIMIT = 250
DEFAULT_LIMIT = 50
CURSOR_PATTERN = "^[A-Za-z0-9_-]*$"
"""Cursors are unpadded base64url; only ones this service issued decode. Empty: first page."""
_CURSOR = re.compile(CURSOR_PATTERN)
_MAC_BYTES = 16


@dataclass(slots=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


class Cursors:
    """Issues and reads keyset cursors: the key values of the last row of a page, as JSON,
    signed with HMAC-SHA256 under `secret`, so that a client can neither forge one (start a
    page at any key it likes) nor alter one it was given. One the service did not issue, or
    that was issued under another secret, is 400 `invalid_cursor`."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def _mac(self, payload: bytes) -> bytes:
        return hmac.digest(self._secret, payload, "sha256")[:_MAC_BYTES]

    def issue(self, *values: Any) -> str:
        payload = json.dumps(list(values), separators=(",", ":"), default=str).encode()
        raw = self._mac(payload) + payload
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def read(self, cursor: str, *kinds: type) -> list[Any]:
        """The values `issue` put in `cursor`, one per kind: `int` for a BIGINT column, `str`
        for a text key. A value of another type or out of its column's range is refused too:
        in a query it would be a database error."""
        if not _CURSOR.fullmatch(cursor):
            raise errors.InvalidCursor(_NOT_OURS)
        try:
            raw = base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode())
        except ValueError as exc:
            raise errors.InvalidCursor(_NOT_OURS) from exc
        mac, payload = raw[:_MAC_BYTES], raw[_MAC_BYTES:]
        if not hmac.compare_digest(mac, self._mac(payload)):
            raise errors.InvalidCursor(_NOT_OURS)
        try:
            values = json.loads(payload)
        except (ValueError, UnicodeError) as exc:
            raise errors.InvalidCursor(_NOT_OURS) from exc
        if not isinstance(values, list) or len(values) != len(kinds):
            raise errors.InvalidCursor(_NOT_OURS)
        return [_value(value, kind) for value, kind in zip(values, kinds, strict=True)]


_NOT_OURS = "The cursor is not one this service issued."


@dataclass(frozen=True, slots=True)
class PageRequest:
    """A list request's paging: at most `limit` items after `cursor` (None: the first page)."""

    limit: int
    cursor: str | None
    cursors: Cursors

    def position(self, *kinds: type) -> list[Any]:
        """The key values the cursor holds, one per kind (`Cursors.read`); only for a request
        with a cursor (a missing or empty one asks for the first page)."""
        assert self.cursor, "the first page has no position"
        return self.cursors.read(self.cursor, *kinds)

    def of(self, rows: list[T], key: Callable[[T], Any]) -> Page[T]:
        """The page in `rows`, which a keyset query fetched with a limit of `limit + 1`: one
        more row than the page means there is a next page, which starts after `key` of its
        last."""
        more = len(rows) > self.limit
        rows = rows[: self.limit]
        return Page(rows, self.cursors.issue(key(rows[-1])) if more else None)

    async def fetch(
        self, session: AsyncSession, query: Select[Any], key: Callable[[T], Any]
    ) -> Page[T]:
        """Run a keyset `query` (already ordered and filtered past the cursor) for the page."""
        return self.of(list((await session.scalars(query.limit(self.limit + 1))).all()), key)


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
