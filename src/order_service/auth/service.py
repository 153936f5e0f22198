"""Issuing, checking and revoking API keys. Only SHA-256 hashes of keys are stored."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlalchemy.ext.asyncio import AsyncSession

from order_service.auth import repository
from order_service.auth.actor import Actor
from order_service.auth.models import ApiKey
from order_service.auth.repository import KeyLookup
from order_service.auth.schemas import Role
from order_service.context import Context
from order_service.kit.ids import new_id
from order_service.kit.pagination import Page, PageRequest

KEY_PREFIX = "osk_"


def hash_key(key: str) -> str:
    # Keys carry 256 random bits, so a fast hash is enough: nothing to brute-force.
    return hashlib.sha256(key.encode()).hexdigest()


def bearer_token(authorization: str) -> str | None:
    """The key of an `Authorization: Bearer <key>` header value, if that is what it is."""
    scheme, _, token = authorization.partition(" ")
    return token if scheme.lower() == "bearer" and token else None


async def authenticate(
    session: AsyncSession, key: str, lookup: KeyLookup | None = None
) -> Actor | None:
    """The live key's actor, from `lookup` when it was made for this key, else looked up."""
    digest = hash_key(key)
    if lookup is not None and lookup[0] == digest:
        row = lookup[1]
    else:
        row = await repository.live_key(session, digest)
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
    return await repository.add(session, row), secret


async def ensure_key(session: AsyncSession, *, key: str, name: str, role: Role) -> bool:
    """Make sure `key` is a live key with `role`; True when it had to be created."""
    existing = await repository.by_hash(session, hash_key(key))
    if existing is not None:
        existing.revoked_at = None
        existing.role = role.value
        return False
    await create_key(session, name=name, role=role, key=key)
    return True


async def list_keys(ctx: Context, *, page: PageRequest) -> Page[ApiKey]:
    return await repository.list_keys(ctx.session, page=page)


async def revoke_key(ctx: Context, key_id: str) -> ApiKey:
    row = await repository.get(ctx.session, key_id, lock=True)
    if row.revoked_at is None:
        row.revoked_at = ctx.now
    return row
