"""Stripe-style `Idempotency-Key` handling for every POST.

The key is scoped to the calling API key. A transaction-scoped advisory lock on
(scope, key) tells a concurrent duplicate that the first is still in flight; the
saved response is written in the same transaction as the change it describes, so
a committed change always has its replay and a rolled-back one never does.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    LargeBinary,
    String,
    Table,
    and_,
    bindparam,
    delete,
    func,
    select,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column
from starlette.requests import Request
from starlette.responses import Response

from order_service.auth import repository as keys
from order_service.auth import service as auth
from order_service.kit import errors, secrecy, sql
from order_service.kit.db import Base

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
KEY_PATTERN = r"^[^\x00-\x1f\x7f-\xa0\xad]+$"
"""Printable characters (header values are Latin-1)."""
_KEY = re.compile(KEY_PATTERN)
_KEPT_HEADERS = ("content-type", "location", "etag")


class IdempotencyRecord(Base):
    __tablename__ = "idempotency_keys"

    scope: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(MAX_KEY_LENGTH), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(String(2048))
    response_status: Mapped[int]
    response_headers: Mapped[dict[str, str]] = mapped_column(JSONB)
    response_body: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(index=True)


_LOCK = select(
    func.pg_try_advisory_xact_lock(bindparam("lock_id", type_=BigInteger)).label("locked")
)
_LOCK_AND_KEY = keys.with_key_lookup(_LOCK)
# Core statements on the table (every POST runs them): SQLAlchemy's ORM layer for a
# statement naming mapped attributes costs more than the rest of its execution.
_RECORDS = cast(Table, IdempotencyRecord.__table__)
_THIS_KEY = and_(_RECORDS.c.scope == bindparam("scope"), _RECORDS.c.key == bindparam("key"))
_FIND = select(
    _RECORDS.c.fingerprint,
    _RECORDS.c.method,
    _RECORDS.c.path,
    _RECORDS.c.response_status,
    _RECORDS.c.response_headers,
    _RECORDS.c.response_body,
    _RECORDS.c.expires_at,
).where(_THIS_KEY)
_DELETE = delete(_RECORDS).where(_THIS_KEY)
_SAVE = sql.Insert(_RECORDS)


@dataclass(slots=True)
class Claim:
    scope: str
    key: str
    fingerprint: str


def _digest(*parts: bytes) -> bytes:
    h = hashlib.sha256()
    for part in parts:
        h.update(len(part).to_bytes(8, "big"))
        h.update(part)
    return h.digest()


def _path(request: Request) -> str:
    """`request.url.path` (what fingerprints and records have always held) without building
    the URL: Starlette escapes these three and takes the rest of the path as it is."""
    path: str = request.scope["path"]
    return path.replace("?", "%3F").replace("#", "%23").replace("\\", "%5C")


async def _canonical_body(request: Request) -> bytes:
    """Equal JSON documents fingerprint the same whatever their key order or spacing. Parsed
    by `request.json()`, which keeps what it parsed for FastAPI's own reading of the body."""
    body = await request.body()
    if not body.strip():
        return b""
    try:
        parsed: Any = await request.json()
    except ValueError:
        return body
    return json.dumps(parsed, sort_keys=True, separators=(",", ":")).encode()


async def claim(
    session: AsyncSession, request: Request, key: str, now: datetime
) -> Claim | Response:
    """Take the key for this request, or answer with the saved response of its first use."""
    if len(key) > MAX_KEY_LENGTH or not _KEY.fullmatch(key):
        raise errors.InvalidIdempotencyKey(
            f"{HEADER} must be 1 to {MAX_KEY_LENGTH} printable characters."
        )
    credentials = request.headers.get("authorization", "")
    scope = hashlib.sha256(credentials.encode()).hexdigest()
    lock_id = int.from_bytes(_digest(scope.encode(), key.encode())[:8], "big", signed=True)
    # Two statements, not one: the lookup needs a snapshot taken after the lock is held. The
    # first also looks up the API key, which authentication would otherwise do on its own.
    token = auth.bearer_token(credentials)
    if token is None:
        locked = await session.scalar(_LOCK, {"lock_id": lock_id})
    else:
        key_hash = auth.hash_key(token)
        found = (
            await session.execute(_LOCK_AND_KEY, {"lock_id": lock_id, "key_hash": key_hash})
        ).one()
        locked = found.locked
        request.state.key_lookup = keys.looked_up(key_hash, found)
    if not locked:
        error = errors.IdempotencyRequestInProgress(
            "The first request with this Idempotency-Key has not finished; retry in a moment."
        )
        error.headers["Retry-After"] = "1"
        raise error
    fingerprint = _digest(
        request.method.encode(), _path(request).encode(), await _canonical_body(request)
    ).hex()
    this_key = {"scope": scope, "key": key}
    record = (await session.execute(_FIND, this_key)).first()
    if record is not None and record.expires_at <= now:
        await session.execute(_DELETE, this_key)
        record = None
    if record is None:
        return Claim(scope=scope, key=key, fingerprint=fingerprint)
    if record.fingerprint != fingerprint:
        raise errors.IdempotencyKeyReused(
            f"This {HEADER} was first used with {record.method} {record.path} and a "
            "different body; use a new key for a new request."
        )
    headers = dict(record.response_headers)
    headers[REPLAYED_HEADER] = "true"
    return Response(record.response_body, status_code=record.response_status, headers=headers)


async def save(
    session: AsyncSession,
    request: Request,
    claimed: Claim,
    response: Response,
    now: datetime,
    ttl: timedelta,
    shown_once: tuple[str, ...],
    outbox: sql.Outbox,
) -> None:
    """Record `response` for replays of the claimed key, together with the rows the
    request held back (`outbox`): one statement. The secrets in its `shown_once` fields
    are not recorded: a replay has them null."""
    headers = {name: response.headers[name] for name in _KEPT_HEADERS if name in response.headers}
    record = {
        "scope": claimed.scope,
        "key": claimed.key,
        "fingerprint": claimed.fingerprint,
        "method": request.method,
        "path": _path(request),
        "response_status": response.status_code,
        "response_headers": headers,
        "response_body": secrecy.without(bytes(response.body), shown_once),
        "expires_at": now + ttl,
    }
    await outbox.write(session, (_SAVE, record))


async def purge_expired(session: AsyncSession, now: datetime) -> int:
    result = await session.execute(
        delete(IdempotencyRecord).where(IdempotencyRecord.expires_at <= now)
    )
    return int(getattr(result, "rowcount", 0) or 0)
