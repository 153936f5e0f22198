"""The floor: the least any Python service on this stack can spend on one order creation.

    python bench/floor.py --port P [--workers 2]    (started by bench/run.py)

A bare ASGI app, served exactly as `order-service serve --workers N` serves the real one
(uvicorn with httptools and uvloop, one `SO_REUSEPORT` socket per process, the same pool
size), that answers `POST /v1/orders` by reading and parsing the JSON body and then sending
the statements of bench/create_order.pgbench.sql — the ones the service sends, in its round
trips — through asyncpg, prepared, and answering 201 with an order's JSON. No routing, no
validation, no authentication, no idempotency logic, no logging, no metrics: what is left
is the HTTP server, the JSON parser and the database driver. Whatever the service costs
beyond this, its framework and its own code cost; no service written on this stack can do
better than this floor on the same machine.

Settings come from the environment, set by bench/run.py: FLOOR_DATABASE (asyncpg keyword
arguments, JSON), FLOOR_VARIABLES (the pgbench variables, JSON), FLOOR_POOL_SIZE, and
FLOOR_FRAMEWORK=fastapi for the same work as a FastAPI route behind our middleware.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import uvicorn
from fastapi import FastAPI, Request, Response

from order_service.http import serving
from order_service.http.middleware import BodyLimitMiddleware, RequestContextMiddleware
from order_service.kit import logs

SCRIPT = Path(__file__).with_name("create_order.pgbench.sql")
_VARIABLE = re.compile(r"(?<!:):([a-z_]+)\b")


def statements(script: str) -> list[tuple[str, list[str]]]:
    """The pgbench script's statements with `:name` variables as `$n` parameters, each with
    the variable names in parameter order (pgbench -M prepared sends them the same way)."""
    body = "\n".join(
        line for line in script.splitlines() if not line.startswith(("--", "\\"))
    ).strip()
    out = []
    for text in (s.strip() for s in re.split(r";\s*\n", body + "\n")):
        if not text:
            continue
        text = "COMMIT" if text.rstrip(";") == "END" else text.rstrip(";")
        names: list[str] = []
        numbered = _VARIABLE.sub(lambda m, names=names: _number(names, m[1]), text)
        out.append((numbered, names))
    return out


def _number(names: list[str], name: str) -> str:
    if name not in names:
        names.append(name)
    return f"${names.index(name) + 1}"


class Floor:
    def __init__(self) -> None:
        self.database: dict[str, Any] = json.loads(os.environ["FLOOR_DATABASE"])
        self.variables: dict[str, str] = json.loads(os.environ["FLOOR_VARIABLES"])
        self.pool_size = int(os.environ.get("FLOOR_POOL_SIZE", "10"))
        self.statements = statements(SCRIPT.read_text())
        self.body = self.variables["order_json"].encode()
        self.pool: asyncpg.Pool | None = None
        self.plan: list[tuple[str, list[tuple[str, bool]]]] = []

    async def _prepare(self) -> None:
        """Which parameters are the random number as a bigint rather than text, learnt once."""
        assert self.pool is not None
        async with self.pool.acquire() as conn:
            for query, names in self.statements:
                types = [t.name for t in (await conn.prepare(query)).get_parameters()]
                self.plan.append(
                    (query, [(n, t == "int8") for n, t in zip(names, types, strict=True)])
                )

    async def create(self) -> None:
        assert self.pool is not None
        r = random.randint(1, 9_000_000_000_000_000_000)
        async with self.pool.acquire() as conn:
            for query, params in self.plan:
                if not params:  # BEGIN, COMMIT: simple queries, as asyncpg's Transaction
                    await conn.execute(query)
                    continue
                args = [
                    (r if as_int else str(r)) if name == "r" else self.variables[name]
                    for name, as_int in params
                ]
                await conn.fetch(query, *args)  # prepared once per connection, then cached

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    self.pool = await asyncpg.create_pool(
                        **self.database, min_size=self.pool_size, max_size=self.pool_size
                    )
                    await self._prepare()
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    if self.pool is not None:
                        await self.pool.close()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["method"] == "GET":
            await _respond(send, 200, b'{"status":"ready"}')
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        json.loads(b"".join(chunks))
        await self.create()
        await _respond(send, 201, self.body)


async def _respond(send: Any, status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def app() -> Any:
    """The bare floor, or with FLOOR_FRAMEWORK=fastapi the same work as a FastAPI route
    behind the service's own middleware (request id, JSON log line, metrics, body limit)
    and logging set up as `serve` sets it up: what any endpoint of the service costs before
    it does anything."""
    floor = Floor()
    if os.environ.get("FLOOR_FRAMEWORK") != "fastapi":
        return floor

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        floor.pool = await asyncpg.create_pool(
            **floor.database, min_size=floor.pool_size, max_size=floor.pool_size
        )
        await floor._prepare()
        yield
        await floor.pool.close()

    api = FastAPI(lifespan=lifespan)

    @api.get("/readyz")
    async def ready() -> dict[str, str]:
        return {"status": "ready"}

    @api.post("/v1/orders", status_code=201)
    async def create(request: Request) -> Response:
        json.loads(await request.body())
        await floor.create()
        return Response(floor.body, status_code=201, media_type="application/json")

    logs.configure()
    api.add_middleware(BodyLimitMiddleware, max_bytes=1 << 20)
    api.add_middleware(RequestContextMiddleware)
    return api


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    config = uvicorn.Config(
        "floor:app",
        factory=True,
        host="127.0.0.1",
        port=args.port,
        workers=args.workers,
        log_config=None,
        access_log=False,
    )
    if args.workers > 1:
        serving.run_processes(config)
    else:
        uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
