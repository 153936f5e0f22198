"""Secrets are shown once (DESIGN.md, Conventions).

A response field that carries a new secret (an API key, a webhook signing secret) is marked
`ShownOnce`: the record kept to replay its request (`Idempotency-Key`) has it null, so the
secret is in that one response and nowhere in the database.

API keys are stored as hashes. Webhook signing secrets cannot be: signing needs them, so they
are stored encrypted (`Vault`) with a key derived from `ORDER_SERVICE_ENCRYPTION_KEY`, and a
copy of the database alone does not let anyone forge the service's webhooks.
"""

from __future__ import annotations

import base64
import json
from functools import cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import BaseModel

from order_service.settings import Settings

DEVELOPMENT_KEY = "order-service development key: public, never for production"
"""Used when `ORDER_SERVICE_ENCRYPTION_KEY` is unset, which production refuses."""


class ShownOnce:
    """`Annotated` metadata for a response field holding a secret shown only in the response
    that created it; declare the field `str | None`, as it is null when replayed."""


def shown_once_fields(model: Any) -> tuple[str, ...]:
    """The JSON names of `model`'s `ShownOnce` fields (none when it is not a pydantic model)."""
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        return ()
    return tuple(
        field.serialization_alias or field.alias or name
        for name, field in model.model_fields.items()
        if any(isinstance(meta, ShownOnce) for meta in field.metadata)
    )


def without(body: bytes, fields: tuple[str, ...]) -> bytes:
    """`body` (a JSON response) with `fields` set to null, written as FastAPI writes JSON."""
    if not fields:
        return body
    document = json.loads(body)
    if isinstance(document, dict):
        document.update({name: None for name in fields if name in document})
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


class SecretUnreadable(RuntimeError):
    """A stored secret does not decrypt with the configured key."""


class Vault:
    """Authenticated encryption (Fernet: AES-128-CBC with HMAC-SHA256) of the secrets the
    service must be able to read back, under a key derived from the configured one with
    HKDF-SHA256, so any long random string will do as `ORDER_SERVICE_ENCRYPTION_KEY`."""

    def __init__(self, key: str) -> None:
        derived = HKDF(
            algorithm=hashes.SHA256(),
            length=32,
            salt=None,
            info=b"order-service: webhook signing secrets",
        ).derive(key.encode())
        self._fernet = Fernet(base64.urlsafe_b64encode(derived))

    def seal(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode()).decode()

    def open(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed).decode()
        except InvalidToken:
            raise SecretUnreadable(
                "a stored webhook secret does not decrypt: ORDER_SERVICE_ENCRYPTION_KEY is not "
                "the key it was stored with"
            ) from None


@cache
def _vault(key: str) -> Vault:
    return Vault(key)


def vault(settings: Settings) -> Vault:
    key = settings.encryption_key
    return _vault(key.get_secret_value() if key is not None else DEVELOPMENT_KEY)
