"""Every setting of the service, read from `ORDER_SERVICE_*` environment variables."""

from __future__ import annotations

import re
from datetime import timedelta
from enum import StrEnum
from functools import lru_cache
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, PlainSerializer, SecretStr, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

_ISO_DURATION = re.compile(
    r"^P(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)
# Years or months before any time part: valid ISO 8601, but of no fixed length.
_CALENDAR = re.compile(r"^P[^T]*[YM]")


def parse_duration(value: Any) -> timedelta:
    """Seconds (`3600`, `1.5`) or an ISO 8601 duration (`PT1H`, `P30D`, `P1DT12H`)."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float):
        return timedelta(seconds=value)
    text = str(value).strip()
    try:
        return timedelta(seconds=float(text))
    except ValueError:
        pass
    match = _ISO_DURATION.match(text.upper())
    if _CALENDAR.match(text.upper()):
        raise ValueError(
            f"{value!r}: months and years are not accepted, their length varies; "
            "give days instead, such as P30D"
        )
    if match is None or text.upper() in {"P", "PT"} or text.upper().endswith("T"):
        raise ValueError(f"{value!r} is neither seconds nor an ISO 8601 duration such as PT30M")
    parts = {name: float(number) for name, number in match.groupdict().items() if number}
    return timedelta(**parts)


def _format_duration(value: timedelta) -> str:
    return f"PT{int(value.total_seconds())}S"


Duration = Annotated[
    timedelta, BeforeValidator(parse_duration), PlainSerializer(_format_duration, return_type=str)
]


def _parse_schedule(value: Any) -> list[timedelta]:
    if isinstance(value, str):
        value = [part for part in value.split(",") if part.strip()]
    return [parse_duration(part) for part in value]


RetrySchedule = Annotated[list[timedelta], NoDecode, BeforeValidator(_parse_schedule)]


def _parse_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [part.strip().lower() for part in value.split(",") if part.strip()]
    return [str(part).lower() for part in value]


HostList = Annotated[list[str], NoDecode, BeforeValidator(_parse_list)]


DEVELOPMENT_CURSOR_SECRET = "order-service development cursor key: public, never for production"  # noqa: S105
"""Signs cursors when `ORDER_SERVICE_CURSOR_SECRET` is unset (production refuses that): fixed,
so cursors still read after a restart and in every process."""


class Environment(StrEnum):
    development = "development"
    test = "test"
    production = "production"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ORDER_SERVICE_", extra="ignore")

    env: Environment = Environment.development
    database_url: str | None = Field(
        default=None,
        description="postgresql+asyncpg://… URL. Unset in development: an embedded "
        "PostgreSQL is started with its data under DATA_DIR.",
    )
    data_dir: str = ".data"
    database_pool_size: int = Field(
        default=10,
        ge=1,
        le=200,
        description="Connections each API process keeps open; requests beyond them wait.",
    )
    database_pool_timeout: Duration = Field(
        default=timedelta(seconds=30),
        gt=timedelta(0),
        le=timedelta(minutes=5),
        description="Seconds a request waits for a pooled connection before it is refused "
        "with 503 and Retry-After: how long a backlog may grow before the service sheds it.",
    )
    admin_api_key: str | None = Field(default=None, min_length=24)
    encryption_key: SecretStr | None = Field(
        default=None,
        min_length=32,
        description="Encrypts the webhook signing secrets kept in the database: 32 or more "
        "random characters. Required in production; unset elsewhere, a public development "
        "key is used. Stored secrets decrypt only with the key they were stored with.",
    )
    cursor_secret: SecretStr | None = Field(
        default=None,
        min_length=32,
        description="Signs pagination cursors (HMAC-SHA256), so a cursor the service did not "
        "issue is refused: 32 or more random characters, the same in every process serving "
        "one database. Required in production; unset elsewhere, a public development key is "
        "used.",
    )

    customer_cancel_window: Duration = timedelta(hours=1)
    customer_edit_window: Duration | None = Field(
        default=None,
        description="How long after `processed_at` a customer may edit an order; unset, the "
        "customer cancel window.",
    )
    refund_window: Duration = timedelta(days=30)
    return_window: Duration = Field(
        default=timedelta(days=30),
        description="How long after delivery (or shipping, when no delivery was reported) a "
        "customer may request a return.",
    )
    return_auto_approve: bool = Field(
        default=False,
        description="Approve the returns customers request (storefront keys) at once.",
    )
    handling_days: int = Field(default=2, ge=0, le=60)
    follow_up_delay: Duration = timedelta(days=7)
    follow_up_discount_code: str | None = None
    review_url: str | None = None
    support_email: str = "support@example.com"
    support_url: str = "https://example.com/support"

    webhook_allow_private_targets: bool = False
    webhook_retry_schedule: RetrySchedule = Field(
        default_factory=lambda: [
            parse_duration(v) for v in ("5", "PT5M", "PT30M", "PT2H", "PT5H", "PT10H", "PT10H")
        ]
    )
    webhook_timeout: Duration = timedelta(seconds=15)
    webhook_trusted_hosts: HostList = Field(
        default_factory=list,
        description="Hosts (`broker.internal` or `broker.internal:4222`) exempt from the "
        "private-address rule: internal receivers and brokers the operators vouch for.",
    )
    webhook_retry_jitter: float = Field(default=0.2, ge=0, le=1)
    webhook_lease: Duration = Field(
        default=timedelta(seconds=60),
        description="How long a claimed delivery stays with its worker; a worker that dies "
        "loses its claims after this long and another worker delivers them.",
    )
    webhook_batch_size: int = Field(default=50, ge=1, le=1000)
    webhook_sweep_interval: Duration = timedelta(seconds=5)
    webhook_disable_after: Duration = Field(
        default=timedelta(days=3),
        description="An endpoint that has failed every attempt for this long is disabled.",
    )
    webhook_secret_overlap: Duration = timedelta(hours=24)
    webhook_shutdown_grace: Duration = timedelta(seconds=10)

    event_retention: Duration = Field(
        default=timedelta(days=90),
        gt=timedelta(0),
        description="How long events, their webhook deliveries and attempts are kept once "
        "every delivery has succeeded; workers delete them after that. Events with a pending "
        "or failed delivery are kept until it succeeds (redelivery) or its endpoint is deleted.",
    )
    idempotency_ttl: Duration = timedelta(hours=24)
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    log_level: str = "INFO"
    in_process_worker: bool = Field(
        default=True,
        description="Run the background tasks inside each API process (`serve`); "
        "`serve --without-worker` turns it off when dedicated `worker` processes run.",
    )

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Settings:
        if self.env is Environment.production:
            if not self.database_url:
                raise ValueError("ORDER_SERVICE_DATABASE_URL is required in production")
            if self.encryption_key is None:
                raise ValueError(
                    "ORDER_SERVICE_ENCRYPTION_KEY is required in production: it encrypts the "
                    "webhook signing secrets in the database (32 or more random characters)"
                )
            if self.cursor_key == DEVELOPMENT_CURSOR_SECRET.encode():
                raise ValueError(
                    "ORDER_SERVICE_CURSOR_SECRET is required in production: it signs pagination "
                    "cursors, the same in every process (32 or more random characters)"
                )
            if self.webhook_allow_private_targets:
                raise ValueError(
                    "ORDER_SERVICE_WEBHOOK_ALLOW_PRIVATE_TARGETS must stay false in production: "
                    "it would let webhook URLs reach internal services"
                )
        if self.idempotency_ttl < timedelta(hours=24):
            raise ValueError("ORDER_SERVICE_IDEMPOTENCY_TTL must be at least 24 hours")
        if self.webhook_lease <= self.webhook_timeout:
            raise ValueError(
                "ORDER_SERVICE_WEBHOOK_LEASE must be longer than ORDER_SERVICE_WEBHOOK_TIMEOUT, "
                "or deliveries still in flight would be claimed again"
            )
        if not self.webhook_retry_schedule:
            raise ValueError("ORDER_SERVICE_WEBHOOK_RETRY_SCHEDULE needs at least one duration")
        return self

    @property
    def edit_window(self) -> timedelta:
        """The customer edit window in force (`CUSTOMER_EDIT_WINDOW`, else the cancel one)."""
        if self.customer_edit_window is None:
            return self.customer_cancel_window
        return self.customer_edit_window

    @property
    def cursor_key(self) -> bytes:
        """The key pagination cursors are signed with."""
        secret = self.cursor_secret or SecretStr(DEVELOPMENT_CURSOR_SECRET)
        return secret.get_secret_value().encode()


@lru_cache
def get_settings() -> Settings:
    return Settings()
