"""A lean HTTP/1.1 keep-alive client for the load driver.

The driver shares the machine's two cores with the service and PostgreSQL, so whatever it
spends per request is taken from what is measured. httpx cost about 2.5 ms of CPU per
request here, a third of the service's own; this client, written for loopback, JSON bodies
and `Content-Length` responses (what the service sends for every benchmarked call), costs a
small fraction of that, as pgbench's C client does for the database.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any


class ProtocolError(Exception):
    """The server answered something this client does not read (or closed the connection)."""


@dataclass(slots=True)
class Response:
    status_code: int
    headers: dict[str, str]
    content: bytes

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300

    def json(self) -> Any:
        return json.loads(self.content)

    def raise_for_status(self) -> None:
        if not self.is_success:
            raise ProtocolError(f"{self.status_code}: {self.content[:500]!r}")


class _Connection(asyncio.Protocol):
    """One keep-alive connection, read by the event loop's callbacks (no stream reader: its
    two waits per response, for the head and then the body, cost more than the parse)."""

    def __init__(self) -> None:
        self.transport: Any = None  # an asyncio.Transport (uvloop's is not a subclass)
        self.buffer = bytearray()
        self.waiter: asyncio.Future[tuple[Response, bool]] | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        waiter = self.waiter
        if waiter is None or waiter.done():
            return
        try:
            parsed = self._parse()
        except ProtocolError as exc:
            waiter.set_exception(exc)
            return
        if parsed is not None:
            self.waiter = None
            waiter.set_result(parsed)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ProtocolError("connection closed before a response"))

    def _parse(self) -> tuple[Response, bool] | None:
        """The buffered response and whether the connection may be reused, once it is all in."""
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return None
        lines = self.buffer[:end].decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if "content-length" not in headers:
            raise ProtocolError(f"no Content-Length in a {status} response")
        start = end + 4
        stop = start + int(headers["content-length"])
        if len(self.buffer) < stop:
            return None
        body = bytes(self.buffer[start:stop])
        del self.buffer[:stop]
        return Response(status, headers, body), headers.get("connection") != "close"

    async def exchange(self, request: bytes) -> tuple[Response, bool]:
        """Send one request; the response and whether the connection may be reused."""
        if self.closed or self.transport is None:
            raise ProtocolError("connection closed before a response")
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return await self.waiter

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class Client:
    """Connections to one host, opened as needed (up to `max_connections`) and kept alive."""

    def __init__(self, base_url: str, *, max_connections: int = 64) -> None:
        host_port = base_url.removeprefix("http://").rstrip("/")
        self.host, _, port = host_port.partition(":")
        self.port = int(port or 80)
        self._idle: list[_Connection] = []
        self._slots = asyncio.Semaphore(max_connections)

    def _encode(
        self, method: str, path: str, headers: dict[str, str] | None, body: bytes | None
    ) -> bytes:
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        if body is not None:
            lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")

    async def request(
        self,
        method: str,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        json_body: Any = None,
        content: bytes | None = None,
    ) -> Response:
        if json_body is not None:
            content = json.dumps(json_body, separators=(",", ":")).encode()
        raw = self._encode(method, path, headers, content)
        async with self._slots:
            connection = self._idle.pop() if self._idle else None
            if connection is None:
                _, connection = await asyncio.get_running_loop().create_connection(
                    _Connection, self.host, self.port
                )
            try:
                response, reusable = await connection.exchange(raw)
            except BaseException:
                connection.close()
                raise
            if reusable:
                self._idle.append(connection)
            else:
                connection.close()
            return response

    async def get(self, path: str, *, headers: dict[str, str] | None = None) -> Response:
        return await self.request("GET", path, headers=headers)

    async def post(
        self,
        path: str,
        *,
        json: Any = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        """POST `json` (encoded here), or `content`: JSON already encoded."""
        return await self.request("POST", path, headers=headers, json_body=json, content=content)

    async def aclose(self) -> None:
        for connection in self._idle:
            connection.close()
        self._idle.clear()
