"""Issuing, checking and revoking API keys. Only SHA-256 hashes of keys are stored."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Row, Select, Table, and_, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from order_service.auth.models import ApiKey
from order_service.auth.schemas import Role
from order_service.kit import errors
from order_service.kit.ids import new_id
from order_service.kit.pagination import Page, PageRequest

KEY_PREFIX = "osk_"


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is acting: recorded on the timeline with every change."""

    id: str
    name: str
    role: Role

    @property
    def is_merchant(self) -> bool:
        return self.role in (Role.ops, Role.admin)


SYSTEM = Actor(id="system", name="order-service", role=Role.admin)


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
_PREFETCHED = "order_service.auth.prefetched"


def bearer_token(authorization: str) -> str | None:
    """The key of an `Authorization: Bearer <key>` header value, if that is what it is."""
    scheme, _, token = authorization.partition(" ")
    return token if scheme.lower() == "bearer" and token else None


def with_key_lookup(query: Select[Any]) -> Select[Any]:
    """`query` (one row) with the live key's id, name, role and hash added (None when
    there is no such key), for the hash as the parameter `key_hash`: for a statement the
    request sends before authenticating anyway (the Idempotency-Key lock), since a round
    trip costs more than the query. Hand what it found to `prefetched`."""
    found = query.subquery("query")
    return select(found, *_LIVE_KEY_COLUMNS).select_from(found.outerjoin(_API_KEYS, _IS_LIVE_KEY))


def prefetched(session: AsyncSession, key_hash: str, row: Row[Any]) -> None:
    """What `with_key_lookup` found for `key_hash` (its row), for `authenticate` in the
    same session."""
    key = tuple(row)[-len(_LIVE_KEY_COLUMNS) :]
    session.info[_PREFETCHED] = (key_hash, key if key[0] is not None else None)


async def authenticate(session: AsyncSession, key: str) -> Actor | None:
    digest = hash_key(key)
    found = session.info.pop(_PREFETCHED, None)
    if found is not None and found[0] == digest:
        row = found[1]
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


async def revoke_key(session: AsyncSession, key_id: str, now: datetime) -> ApiKey:
    row = await session.get(ApiKey, key_id, with_for_update=True)
    if row is None:
        raise errors.ApiKeyNotFound(f"No API key with id {key_id}")
    if row.revoked_at is None:
        row.revoked_at = now
    return row
