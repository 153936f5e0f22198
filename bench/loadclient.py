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


class _Connection:
    __slots__ = ("reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def exchange(self, request: bytes) -> tuple[Response, bool]:
        """Send one request; the response and whether the connection may be reused."""
        self.writer.write(request)
        try:
            head = await self.reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
            raise ProtocolError("connection closed before a response") from exc
        lines = head[:-4].decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if "content-length" not in headers:
            raise ProtocolError(f"no Content-Length in a {status} response")
        body = await self.reader.readexactly(int(headers["content-length"]))
        return Response(status, headers, body), headers.get("connection") != "close"

    def close(self) -> None:
        self.writer.close()


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
                reader, writer = await asyncio.open_connection(self.host, self.port)
                connection = _Connection(reader, writer)
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
        self, path: str, *, json: Any = None, headers: dict[str, str] | None = None
    ) -> Response:
        return await self.request("POST", path, headers=headers, json_body=json)

    async def aclose(self) -> None:
        for connection in self._idle:
            connection.close()
        self._idle.clear()
