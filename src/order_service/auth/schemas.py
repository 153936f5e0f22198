from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from order_service.kit.secrecy import ShownOnce


class Role(StrEnum):
    """`storefront` acts for customers (customer policy applies); `ops` runs operations;
    `admin` is ops plus API keys, webhook endpoints and deletion."""

    storefront = "storefront"
    ops = "ops"
    admin = "admin"


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, examples=["web storefront"])
    role: Role = Field(examples=["storefront"])


class ApiKeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str = Field(examples=["key_01jd2m3n4p5q6r7s8t9v0w1x2y"])
    name: str
    role: Role
    prefix: str = Field(description="First characters of the key, to recognise it in lists.")
    created_at: datetime
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    key: Annotated[str | None, ShownOnce()] = Field(
        description="The secret key, in this response only: only its hash is stored. Null "
        "when the response is a replay (`Idempotent-Replayed: true`).",
    )


class ApiKeyList(BaseModel):
    data: list[ApiKeyOut]
    next_cursor: str | None
