"""Every query on API keys."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Row, Select, Table, and_, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from order_service.auth.models import ApiKey
from order_service.kit import errors
from order_service.kit.pagination import Page, PageRequest

# Core columns of the table, not the ORM's attributes: every request runs this lookup, and
# SQLAlchemy's ORM layer for a statement naming mapped attributes costs more than the rest of
# its execution.
_API_KEYS = cast(Table, ApiKey.__table__)
_LIVE_KEY_COLUMNS = (_API_KEYS.c.id, _API_KEYS.c.name, _API_KEYS.c.role, _API_KEYS.c.key_hash)
_IS_LIVE_KEY = and_(_API_KEYS.c.key_hash == bindparam("key_hash"), _API_KEYS.c.revoked_at.is_(None))
_LIVE_KEY = select(*_LIVE_KEY_COLUMNS).where(_IS_LIVE_KEY)

LiveKey = tuple[Any, ...]
"""A live key's id, name, role and hash."""


def with_key_lookup(query: Select[Any]) -> Select[Any]:
    """`query` (one row) with the live key's id, name, role and hash added (None when
    there is no such key), for the hash as the parameter `key_hash`: for a statement the
    request sends before authenticating anyway (the Idempotency-Key lock), since a round
    trip costs more than the query. Hand what it found to `looked_up`."""
    found = query.subquery("query")
    return select(found, *_LIVE_KEY_COLUMNS).select_from(found.outerjoin(_API_KEYS, _IS_LIVE_KEY))


KeyLookup = tuple[str, LiveKey | None]
"""What `with_key_lookup` found: the hash it looked up, and the live key's columns or None."""


def looked_up(key_hash: str, row: Row[Any]) -> KeyLookup:
    """What `with_key_lookup` found for `key_hash` in `row`, for `service.authenticate`."""
    key = tuple(row)[-len(_LIVE_KEY_COLUMNS) :]
    return key_hash, key if key[0] is not None else None


async def live_key(session: AsyncSession, key_hash: str) -> LiveKey | None:
    row = (await session.execute(_LIVE_KEY, {"key_hash": key_hash})).first()
    return None if row is None else tuple(row)


async def add(session: AsyncSession, row: ApiKey) -> ApiKey:
    """Insert the key now and read back what the database filled in (`created_at`)."""
    session.add(row)
    await session.flush()
    await session.refresh(row)
    return row


async def by_hash(session: AsyncSession, key_hash: str) -> ApiKey | None:
    """The key with this hash, live or revoked."""
    return await session.scalar(select(ApiKey).where(ApiKey.key_hash == key_hash))


async def get(session: AsyncSession, key_id: str, *, lock: bool = False) -> ApiKey:
    row = await session.get(ApiKey, key_id, with_for_update=lock or None)
    if row is None:
        raise errors.ApiKeyNotFound(f"No API key with id {key_id}")
    return row


async def list_keys(session: AsyncSession, *, page: PageRequest) -> Page[ApiKey]:
    """Newest first; ids sort by creation."""
    query = select(ApiKey).order_by(ApiKey.id.desc())
    if page.cursor:
        (after,) = page.position(str)
        query = query.where(ApiKey.id < after)
    return await page.fetch(session, query, lambda k: k.id)
