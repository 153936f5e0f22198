"""How a signed message reaches an endpoint, chosen by the scheme of its URL.

A transport is anything with `validate`, `send` and `aclose` (the `Transport` protocol).
Built in: `http`/`https` (one pooled aiohttp session, no redirects), `log` (writes the message
to the log; for development, refused in production) and `nats` (NATS JetStream, with the
`nats` extra installed). Other packages add schemes under
the entry-point group `order_service.transports`: the entry point's name is the scheme and
its object a callable taking the `Settings` and returning a transport.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Protocol
from urllib.parse import SplitResult, unquote, urlsplit

import aiohttp
import yarl

from order_service import __version__
from order_service.kit.errors import DomainError
from order_service.settings import Environment, Settings
from order_service.webhooks import errors
from order_service.webhooks.targets import TargetPolicy

if TYPE_CHECKING:
    from nats.aio.client import Client as NatsClient

log = logging.getLogger("order_service.webhooks")

ENTRY_POINT_GROUP = "order_service.transports"
MAX_ERROR_CHARS = 500
MAX_CONNECTIONS = 500
PER_HOST = 100
"""Connections open to one target at once: a worker never has more requests in flight to
one endpoint (others wait for a connection), so a burst cannot overwhelm a receiver."""


@dataclass(frozen=True, slots=True)
class Message:
    """One signed webhook: `id` is the `webhook-id`, the same for every attempt."""

    id: str
    type: str
    body: bytes
    headers: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Outcome:
    ok: bool
    status_code: int | None = None
    error: str | None = None
    retry_after: float | None = field(default=None)
    gone: bool = False
    """The target will never accept messages again (HTTP 410): disable the endpoint."""


class Transport(Protocol):
    async def validate(self, url: str) -> None:
        """Raise a DomainError (422) if `url` cannot be a target of this transport."""

    async def send(self, url: str, message: Message) -> Outcome:
        """Deliver once. Failures are outcomes, not exceptions."""

    async def aclose(self) -> None: ...


TransportFactory = Callable[[Settings], Transport]


def split(url: str) -> SplitResult:
    try:
        parts = urlsplit(url)
        _ = parts.port
    except ValueError as exc:
        raise errors.InvalidWebhookUrl(f"{url!r} is not a valid URL: {exc}.") from exc
    if not parts.hostname:
        raise errors.InvalidWebhookUrl(f"{url!r} has no host.")
    if parts.port == 0:
        raise errors.InvalidWebhookUrl(f"{url!r} names port 0, which no server listens on.")
    return parts


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


class HttpTransport:
    """POST with one pooled aiohttp session, keep-alive per endpoint and at most
    `PER_HOST` connections to one target. Redirects are failures (never followed): a
    redirect could lead anywhere, past the address check.

    aiohttp rather than httpx: delivering to a fast receiver, httpcore scanned its whole pool
    on every request and that scan was the largest cost of a worker; with aiohttp one
    worker delivers about three times as many events per second (docs/performance.md)."""

    def __init__(self, settings: Settings) -> None:
        self.policy = TargetPolicy.from_settings(settings)
        self.timeout = settings.webhook_timeout.total_seconds()
        self.session: aiohttp.ClientSession | None = None

    def _session(self) -> aiohttp.ClientSession:
        # Made on first use: an aiohttp session belongs to the running event loop.
        if self.session is None or self.session.closed:
            self.session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(
                    limit=MAX_CONNECTIONS, limit_per_host=PER_HOST, use_dns_cache=False
                ),
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                headers={"user-agent": f"order-service-webhooks/{__version__}"},
                trust_env=False,
                auto_decompress=False,
            )
        return self.session

    async def validate(self, url: str) -> None:
        parts = split(url)
        if parts.scheme not in {"http", "https"}:
            raise errors.InvalidWebhookUrl("Webhook URLs must be http or https.")
        assert parts.hostname
        await self.policy.check(parts.hostname, parts.port or _default_port(parts.scheme))

    async def send(self, url: str, message: Message) -> Outcome:
        headers = {**message.headers, "content-type": "application/json"}
        try:
            target = yarl.URL(url)
            host = target.raw_host or ""
            addresses = await self.policy.check(host, target.port or _default_port(url))
        except DomainError as exc:
            return Outcome(ok=False, error=exc.detail)
        except ValueError as exc:
            return Outcome(ok=False, error=f"{url!r} is not a valid URL: {exc}.")
        server_hostname = None
        if addresses:
            # Connect to the address just checked, not to whatever a second lookup returns.
            headers["host"] = target.raw_authority.rpartition("@")[2]
            if target.scheme == "https":
                server_hostname = host
            target = target.with_host(str(addresses[0]))
        try:
            # The exchange as a whole, dripping answers included, is bounded.
            async with (
                asyncio.timeout(self.timeout),
                self._session().post(
                    target,
                    data=message.body,
                    headers=headers,
                    allow_redirects=False,
                    server_hostname=server_hostname,
                ) as response,
            ):
                excerpt = await response.content.read(MAX_ERROR_CHARS)
        except TimeoutError:
            return Outcome(ok=False, error=f"timed out after {self.timeout:g}s")
        except aiohttp.ClientError as exc:
            return Outcome(ok=False, error=f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS])
        status = response.status
        if 200 <= status < 300:
            return Outcome(ok=True, status_code=status)
        text = excerpt[:MAX_ERROR_CHARS].decode("utf-8", "replace").strip()
        reason = f"HTTP {status}" + (f": {text}" if text else "")
        if 300 <= status < 400:
            reason = f"HTTP {status} redirect to {response.headers.get('location', '?')} " + (
                "(redirects are not followed)"
            )
        return Outcome(
            ok=False,
            status_code=status,
            error=reason[:MAX_ERROR_CHARS],
            retry_after=retry_after_seconds(response.headers.get("retry-after"), datetime.now(UTC)),
            gone=status == 410,
        )

    async def aclose(self) -> None:
        if self.session is not None:
            await self.session.close()
            self.session = None


def _default_port(url_or_scheme: str) -> int:
    return 443 if url_or_scheme.startswith("https") else 80


class LogTransport:
    """`log://<anything>`: writes each message to the service log. For development: refused
    in production, where it would copy customer data into the logs."""

    def __init__(self, settings: Settings) -> None:
        self.production = settings.env is Environment.production

    async def validate(self, url: str) -> None:
        if self.production:
            raise errors.WebhookTransportNotAllowed(
                f"{url!r}: log:// endpoints write every message, customer data included, to "
                "the service log; they are for development and refused in production."
            )

    async def send(self, url: str, message: Message) -> Outcome:
        try:
            await self.validate(url)
        except DomainError as exc:
            return Outcome(ok=False, error=exc.detail)
        log.info(
            "webhook %s %s to %s",
            message.type,
            message.id,
            url,
            extra={"webhook_id": message.id, "body": message.body.decode()},
        )
        return Outcome(ok=True)

    async def aclose(self) -> None:
        return None


_SUBJECT = re.compile(r"^[A-Za-z0-9_\-]+(\.[A-Za-z0-9_\-]+)*$")


def _require_nats() -> None:
    """nats-py is the optional `nats` extra: only nats:// endpoints need it."""
    try:
        import nats  # noqa: F401
    except ImportError as exc:
        raise errors.WebhookTransportUnavailable(
            "nats:// endpoints need the NATS client, which this installation lacks: install "
            "the service with its `nats` extra (pip install 'order-service[nats]')."
        ) from exc


class _ReportedErrors:
    """nats-py hands connection errors to a callback (by default logging each with a
    traceback) and, when it gives up connecting, raises only `NoServersError`: the last error
    reported says why, in the attempt's `error`."""

    def __init__(self, host: str) -> None:
        self.host = host
        self.last: Exception | None = None

    async def report(self, exc: Exception) -> None:
        self.last = exc
        log.warning("NATS server %s: %r", self.host, exc)


class NatsTransport:
    """`nats://[user:password@]host[:port]/subject`: publishes to NATS JetStream and waits for
    the stream's acknowledgement. The headers are the Standard Webhooks ones plus
    `Nats-Msg-Id` (the `webhook-id`), so JetStream drops duplicates of a retried message
    within the stream's duplicate window. A stream must capture the subject; without one the
    publish fails and is retried. One connection per server is kept open.

    The client never reconnects by itself: a NATS server announces other servers (INFO
    `connect_urls`) and nats-py would reconnect to those without the address check, so a
    server could steer it at internal addresses. A lost connection is closed instead, and the
    next send connects again to the configured server, checked like any other."""

    def __init__(self, settings: Settings) -> None:
        self.policy = TargetPolicy.from_settings(settings)
        self.timeout = settings.webhook_timeout.total_seconds()
        self.connections: dict[str, NatsClient] = {}
        self.lock = asyncio.Lock()

    def _parse(self, url: str) -> tuple[SplitResult, str]:
        parts = split(url)
        if parts.scheme != "nats":
            raise errors.InvalidWebhookUrl("NATS URLs start with nats://")
        subject = unquote(parts.path.lstrip("/"))
        if not _SUBJECT.match(subject):
            raise errors.InvalidWebhookUrl(
                "A NATS URL names the subject to publish to as its path, "
                "e.g. nats://nats.internal:4222/orders.events (no wildcards)."
            )
        return parts, subject

    async def validate(self, url: str) -> None:
        _require_nats()
        parts, _ = self._parse(url)
        assert parts.hostname
        await self.policy.check(parts.hostname, parts.port or 4222)

    async def _connection(self, parts: SplitResult) -> NatsClient:
        import nats
        from nats.errors import NoServersError

        server = f"nats://{parts.netloc}"
        async with self.lock:
            conn = self.connections.get(server)
            if conn is None or conn.is_closed:
                reported = _ReportedErrors(f"{parts.hostname}:{parts.port or 4222}")
                try:
                    conn = await nats.connect(
                        server,
                        connect_timeout=min(self.timeout, 5),
                        allow_reconnect=False,
                        # nats-py retries even a first connection, until a server has failed
                        # more than this many times (never, at -1 or 0): a server that is
                        # down fails this delivery at once, and its schedule retries it.
                        max_reconnect_attempts=1,
                        reconnect_time_wait=0,
                        error_cb=reported.report,
                        name="order-service webhooks",
                    )
                except NoServersError as exc:
                    raise (reported.last or exc) from None
                self.connections[server] = conn
            return conn

    async def send(self, url: str, message: Message) -> Outcome:
        try:
            _require_nats()
            parts, subject = self._parse(url)
            assert parts.hostname
            await self.policy.check(parts.hostname, parts.port or 4222)
        except DomainError as exc:
            return Outcome(ok=False, error=exc.detail)
        from nats.errors import Error as NatsError
        from nats.js.errors import Error as JetStreamError

        try:
            conn = await self._connection(parts)
            ack = await conn.jetstream().publish(
                subject,
                message.body,
                timeout=self.timeout,
                headers={
                    **message.headers,
                    "content-type": "application/json",
                    "Nats-Msg-Id": message.id,
                },
            )
        except (NatsError, JetStreamError, OSError, TimeoutError) as exc:
            text = f"{type(exc).__name__}: {exc}".strip()
            return Outcome(ok=False, error=text[:MAX_ERROR_CHARS])
        log.debug("published %s to %s seq %s", message.id, ack.stream, ack.seq)
        return Outcome(ok=True)

    async def aclose(self) -> None:
        for conn in self.connections.values():
            if not conn.is_closed:
                await conn.close()
        self.connections.clear()


BUILTIN: dict[str, TransportFactory] = {
    "http": HttpTransport,
    "https": HttpTransport,
    "log": LogTransport,
    "nats": NatsTransport,
}


def discover() -> dict[str, TransportFactory]:
    """Built-in transports plus those registered under the entry-point group. A plugin may
    add a scheme, not replace a built-in one."""
    found = dict(BUILTIN)
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        scheme = entry.name.lower()
        if scheme in BUILTIN:
            log.warning("transport plugin %s ignored: %s is built in", entry.value, scheme)
            continue
        try:
            found[scheme] = entry.load()
        except Exception:
            log.exception("transport plugin %s for %s failed to load", entry.value, scheme)
    return found


class Transports:
    """The transports of one process, created on first use; one instance per factory, so
    `http` and `https` share one connection pool."""

    def __init__(self, settings: Settings, factories: dict[str, TransportFactory] | None = None):
        self.settings = settings
        self.factories = factories if factories is not None else discover()
        self.instances: dict[TransportFactory, Transport] = {}

    @property
    def schemes(self) -> list[str]:
        return sorted(self.factories)

    def for_url(self, url: str) -> Transport:
        try:
            scheme = urlsplit(url).scheme.lower()
        except ValueError as exc:  # e.g. "a://[": an unclosed IPv6 bracket
            raise errors.InvalidWebhookUrl(f"{url!r} is not a valid URL: {exc}.") from exc
        factory = self.factories.get(scheme)
        if factory is None:
            raise errors.InvalidWebhookUrl(
                f"No transport for {scheme or 'URLs without a scheme'}: use one of "
                f"{', '.join(self.schemes)}.",
            )
        instance = self.instances.get(factory)
        if instance is None:
            instance = self.instances[factory] = factory(self.settings)
        return instance

    async def validate(self, url: str) -> None:
        await self.for_url(url).validate(url)

    async def send(self, url: str, message: Message) -> Outcome:
        try:
            transport = self.for_url(url)
        except DomainError as exc:
            return Outcome(ok=False, error=exc.detail)
        try:
            return await transport.send(url, message)
        except Exception as exc:  # a plugin's bug must not stop the dispatcher
            log.exception("transport for %s raised", url)
            return Outcome(ok=False, error=f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS])

    async def aclose(self) -> None:
        for instance in self.instances.values():
            await instance.aclose()
        self.instances.clear()
