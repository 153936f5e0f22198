from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.config import JsonDict

from order_service.events.service import TOPICS
from order_service.kit.secrecy import ShownOnce

Topic = Literal[TOPICS]  # type: ignore[valid-type]
Subscription = Literal[(*TOPICS, "*")]  # type: ignore[valid-type]

# `scheme://…`, documented; the transports check the rest (which schemes are installed, a
# host, a port) and refuse with 422 `invalid_webhook_url`, also for what breaks the pattern.
URL_SCHEMA: JsonDict = {"pattern": r"^[A-Za-z][A-Za-z0-9+.-]*://[^\x00]+$"}

URL_FIELD = Field(
    min_length=1,
    max_length=2048,
    json_schema_extra=URL_SCHEMA,
    description="Where events go. `https://…` (or `http://…`) receives a POST per event; "
    "`nats://host:4222/subject` publishes to NATS JetStream; `log://…` writes to the service "
    "log (development only); plugins add schemes. Must not point at a private address (see "
    "the README).",
    examples=["https://notifications.example.com/webhooks/orders"],
)
EVENTS_DESCRIPTION = 'Topics to receive, or `["*"]` for all of them, now and future.'


def _normalise(events: list[str]) -> list[str]:
    return ["*"] if "*" in events else sorted(set(events))


class DisabledReason(StrEnum):
    """`manual`: an admin set `enabled: false`; `gone`: the endpoint answered 410;
    `failing`: every attempt failed for `WEBHOOK_DISABLE_AFTER`."""

    manual = "manual"
    gone = "gone"
    failing = "failing"


class WebhookEndpointCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = URL_FIELD
    events: list[Subscription] = Field(
        min_length=1, max_length=len(TOPICS) + 1, description=EVENTS_DESCRIPTION, examples=[["*"]]
    )
    description: str | None = Field(default=None, max_length=500, examples=["Customer emails"])
    enabled: bool = True

    @field_validator("events")
    @classmethod
    def _events(cls, events: list[str]) -> list[str]:
        return _normalise(events)


class WebhookEndpointUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(
        default=None, min_length=1, max_length=2048, json_schema_extra=URL_SCHEMA
    )
    events: list[Subscription] | None = Field(
        default=None, min_length=1, max_length=len(TOPICS) + 1, description=EVENTS_DESCRIPTION
    )
    description: str | None = Field(default=None, max_length=500)
    enabled: bool | None = Field(
        default=None,
        description="`true` re-enables an endpoint disabled for any reason; its pending "
        "deliveries resume. `false` stops delivery: events emitted meanwhile are not "
        "queued for it (redeliver them from `/v1/events`).",
    )

    @field_validator("events")
    @classmethod
    def _events(cls, events: list[str] | None) -> list[str] | None:
        return None if events is None else _normalise(events)


class WebhookEndpointOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str = Field(examples=["whe_01jd2m3n4p5q6r7s8t9v0w1x2y"])
    url: str
    events: list[str] = Field(examples=[["order.created", "order.cancelled"]])
    description: str | None
    enabled: bool
    disabled_reason: DisabledReason | None = Field(
        description="Why the endpoint is disabled, when it is."
    )
    disabled_at: datetime | None
    failing_since: datetime | None = Field(
        description="Start of the current run of failed attempts; null after a success. "
        "The endpoint is disabled when this is older than `WEBHOOK_DISABLE_AFTER`."
    )
    previous_secret_expires_at: datetime | None = Field(
        description="After a rotation, until when the previous secret also signs."
    )
    created_at: datetime
    updated_at: datetime


class WebhookEndpointWithSecret(WebhookEndpointOut):
    secret: Annotated[str | None, ShownOnce()] = Field(
        description="The signing secret (`whsec_` + base64), in this response only (on "
        "creation and rotation); keep it with the receiver. Null when the response is a "
        "replay (`Idempotent-Replayed: true`).",
        examples=["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
    )


class WebhookEndpointList(BaseModel):
    data: list[WebhookEndpointOut]
    next_cursor: str | None


class AttemptOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    attempted_at: datetime
    status_code: int | None = Field(description="HTTP status, null when none was received.")
    duration_ms: int
    error: str | None = Field(description="Why the attempt failed; null when it succeeded.")
    next_retry_at: datetime | None = Field(description="When the next attempt was scheduled.")


class DeliveryStatus(StrEnum):
    pending = "pending"
    succeeded = "succeeded"
    failed = "failed"


class DeliveryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str = Field(examples=["whd_01jd2m3n4p5q6r7s8t9v0w1x2y"])
    endpoint_id: str
    event_id: str = Field(description="Also the `webhook-id` header of every attempt.")
    event_type: str
    order_id: str | None
    status: DeliveryStatus
    attempt_count: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None
    created_at: datetime
    attempts: list[AttemptOut]


class DeliveryList(BaseModel):
    data: list[DeliveryOut]
    next_cursor: str | None


class RedeliverRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    endpoint_id: str | None = Field(
        default=None,
        max_length=40,
        description="Only to this endpoint; by default to every enabled endpoint subscribed "
        "to the event's topic.",
    )


class RedeliveryOut(BaseModel):
    data: list[DeliveryOut]


class PingResult(BaseModel):
    ok: bool = Field(description="True when the endpoint answered 2xx.")
    webhook_id: str = Field(description="The `webhook-id` of the ping message.")
    status_code: int | None
    duration_ms: int
    error: str | None
