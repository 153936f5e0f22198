"""Issuing, checking and revoking API keys. Only SHA-256 hashes of keys are stored."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any, cast

from sqlalchemy import Row, Select, Table, and_, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from order_service.auth.actor import Actor
from order_service.auth.models import ApiKey
from order_service.auth.schemas import Role
from order_service.context import Context
from order_service.kit import errors
from order_service.kit.ids import new_id
from order_service.kit.pagination import Page, PageRequest

KEY_PREFIX = "osk_"


def hash_key(key: str) -> str:
    # Keys carry 256 random bits, so a fast hash is enough: nothing to brute-force.
    return hashlib.sha256(key.encode()).hexdigest()


# Core columns of the table, not the ORM's attributes: every request runs this lookup, and
# SQLAlchemy's ORM layer for a statement naming mapped attributes costs more than the rest of
# its execution.
_API_KEYS = cast(Table, ApiKey.__table__)
_LIVE_KEY_COLUMNS = (_API_KEYS.c.id, _API_KEYS.c.name, _API_KEYS.c.role, _API_KEYS.c.key_hash)
_IS_LIVE_KEY = and_(_API_KEYS.c.key_hash == bindparam("key_hash"), _API_KEYS.c.revoked_at.is_(None))
_LIVE_KEY = select(*_LIVE_KEY_COLUMNS).where(_IS_LIVE_KEY)


def bearer_token(authorization: str) -> str | None:
    """The key of an `Authorization: Bearer <key>` header value, if that is what it is."""
    scheme, _, token = authorization.partition(" ")
    return token if scheme.lower() == "bearer" and token else None


def with_key_lookup(query: Select[Any]) -> Select[Any]:
    """`query` (one row) with the live key's id, name, role and hash added (None when
    there is no such key), for the hash as the parameter `key_hash`: for a statement the
    request sends before authenticating anyway (the Idempotency-Key lock), since a round
    trip costs more than the query. Hand what it found to `looked_up`."""
    found = query.subquery("query")
    return select(found, *_LIVE_KEY_COLUMNS).select_from(found.outerjoin(_API_KEYS, _IS_LIVE_KEY))


KeyLookup = tuple[str, tuple[Any, ...] | None]
"""What `with_key_lookup` found: the hash it looked up, and the live key's columns or None."""


def looked_up(key_hash: str, row: Row[Any]) -> KeyLookup:
    """What `with_key_lookup` found for `key_hash` in `row`, for `authenticate`."""
    key = tuple(row)[-len(_LIVE_KEY_COLUMNS) :]
    return key_hash, key if key[0] is not None else None


async def authenticate(
    session: AsyncSession, key: str, lookup: KeyLookup | None = None
) -> Actor | None:
    """The live key's actor, from `lookup` when it was made for this key, else looked up."""
    digest = hash_key(key)
    if lookup is not None and lookup[0] == digest:
        row = lookup[1]
    else:
        row = (await session.execute(_LIVE_KEY, {"key_hash": digest})).first()
    if row is None or not hmac.compare_digest(row[3], digest):
        return None
    return Actor(id=row[0], name=row[1], role=Role(row[2]))


async def create_key(
    session: AsyncSession, *, name: str, role: Role, key: str | None = None
) -> tuple[ApiKey, str]:
    secret = key or KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(
        id=new_id("key"), name=name, role=role.value, key_hash=hash_key(secret), prefix=secret[:10]
    )
    session.add(row)
    await session.flush()
    await session.refresh(row)
    return row, secret


async def ensure_key(session: AsyncSession, *, key: str, name: str, role: Role) -> bool:
    """Make sure `key` is a live key with `role`; True when it had to be created."""
    existing = await session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(key)))
    if existing is not None:
        existing.revoked_at = None
        existing.role = role.value
        return False
    await create_key(session, name=name, role=role, key=key)
    return True


async def list_keys(session: AsyncSession, *, page: PageRequest) -> Page[ApiKey]:
    query = select(ApiKey).order_by(ApiKey.id.desc())
    if page.cursor:
        (after,) = page.position(str)
        query = query.where(ApiKey.id < after)
    return await page.fetch(session, query, lambda k: k.id)


async def revoke_key(ctx: Context, key_id: str) -> ApiKey:
    row = await ctx.session.get(ApiKey, key_id, with_for_update=True)
    if row is None:
        raise errors.ApiKeyNotFound(f"No API key with id {key_id}")
    if row.revoked_at is None:
        row.revoked_at = ctx.now
    return row
