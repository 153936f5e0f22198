"""A NATS server on loopback that speaks enough of the protocol for a JetStream publish, and
announces whatever other servers a test tells it to (INFO `connect_urls`), as a server of a
cluster does. The real server on 127.0.0.1:4222 runs alone and announces none."""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass, field


@dataclass
class Published:
    subject: str
    headers: bytes
    payload: bytes


@dataclass
class FakeNats:
    connect_urls: list[str] = field(default_factory=list)
    port: int = 0
    accepted: int = 0
    published: list[Published] = field(default_factory=list)
    server: asyncio.Server | None = None
    clients: set[asyncio.StreamWriter] = field(default_factory=set)

    async def start(self) -> FakeNats:
        self.server = await asyncio.start_server(
            self._serve, "127.0.0.1", self.port, reuse_address=True
        )
        self.port = int(self.server.sockets[0].getsockname()[1])
        return self

    async def stop(self) -> None:
        """Stop listening and drop every client, as a server that goes away does."""
        if self.server is not None:
            self.server.close()
        for writer in list(self.clients):
            writer.close()
        if self.server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.server.wait_closed(), 2)
            self.server = None

    def _info(self) -> bytes:
        info = {
            "server_id": f"FAKE{self.port}",
            "version": "2.10.0",
            "proto": 1,
            "host": "127.0.0.1",
            "port": self.port,
            "headers": True,
            "jetstream": True,
            "max_payload": 1048576,
            "connect_urls": self.connect_urls,
        }
        return b"INFO " + json.dumps(info).encode() + b"\r\n"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        self.clients.add(writer)
        inboxes: dict[str, str] = {}  # subscription prefix -> sid
        try:
            writer.write(self._info())
            await writer.drain()
            while line := await reader.readline():
                op, _, rest = line.rstrip(b"\r\n").partition(b" ")
                args = rest.decode().split()
                match op.upper():
                    case b"PING":
                        writer.write(b"PONG\r\n")
                    case b"SUB":
                        inboxes[args[0].rstrip("*")] = args[-1]
                    case b"PUB" | b"HPUB" as kind:
                        # [H]PUB <subject> [reply-to] [<header bytes>] <total bytes>
                        with_headers = kind == b"HPUB"
                        size = int(args[-1])
                        header_size = int(args[-2]) if with_headers else 0
                        data = (await reader.readexactly(size + 2))[:size]
                        self.published.append(
                            Published(args[0], data[:header_size], data[header_size:])
                        )
                        reply = args[1] if len(args) == (4 if with_headers else 3) else ""
                        sid = next((s for p, s in inboxes.items() if reply.startswith(p)), None)
                        if reply and sid:
                            ack = json.dumps({"stream": "FAKE", "seq": len(self.published)})
                            writer.write(f"MSG {reply} {sid} {len(ack)}\r\n{ack}\r\n".encode())
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.clients.discard(writer)
            writer.close()
