"""Issuing, checking and revoking API keys. Only SHA-256 hashes of keys are stored."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from order_service import errors, sql
from order_service.auth.models import ApiKey
from order_service.auth.schemas import Role
from order_service.ids import new_id
from order_service.pagination import Page, PageRequest

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


_LIVE_KEY_ROW = (
    "(SELECT ROW(id, name, role, key_hash) FROM api_keys"
    " WHERE key_hash = {} AND revoked_at IS NULL)"
)
_LIVE_KEY = "SELECT " + _LIVE_KEY_ROW.format("$1")
_PREFETCHED = "order_service.auth.prefetched"


def bearer_token(authorization: str) -> str | None:
    """The key of an `Authorization: Bearer <key>` header value, if that is what it is."""
    scheme, _, token = authorization.partition(" ")
    return token if scheme.lower() == "bearer" and token else None


def key_lookup(parameter: str) -> str:
    """The live-key lookup as an expression of `parameter` (the key's hash), for a statement
    the request sends before authenticating anyway (the Idempotency-Key lock): a round trip
    costs more than the query. Hand its value to `prefetched`."""
    return _LIVE_KEY_ROW.format(parameter)


def prefetched(session: AsyncSession, key_hash: str, row: object) -> None:
    """What `key_lookup` found for `key_hash`, for `authenticate` in the same session."""
    session.info[_PREFETCHED] = (key_hash, row)


async def authenticate(session: AsyncSession, key: str) -> Actor | None:
    digest = hash_key(key)
    found = session.info.pop(_PREFETCHED, None)
    if found is not None and found[0] == digest:
        row = found[1]
    else:
        # Every request runs this: straight asyncpg (see `order_service.sql`).
        conn = await sql.connection(session)
        row = await conn.fetchval(_LIVE_KEY, digest)
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
