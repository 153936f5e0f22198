"""Instructions per order creation: a count that the VM's noise does not move.

    python bench/instructions.py [--src DIR] [--creations 50,450] [--data-dir .data/instructions]

CPU time per request moves by a third between identical runs on a shared VM (README,
Benchmarks); instructions executed do not. This runs the app in one process under
valgrind's cachegrind (`--cache-sim=no`: it only counts) and calls its ASGI interface
directly, 8 creations at a time, against the embedded PostgreSQL (which runs outside
valgrind, so its work is not counted): once with the first number of creations and once with
the second, after the same start-up and warm-up. The difference, divided by the difference
in creations, is what one more creation costs the API process: the middleware, the fast
path, validation, pricing, the idempotency work, the statements' arguments and asyncpg, the
response; not uvicorn's HTTP parsing (small: a trivial ASGI app under the same uvicorn costs
a few percent of an order creation) nor the kernel.

`--src` measures another checkout's `src` (a `git worktree` of an older commit, say) with
this script and this database, so two versions compare under the same conditions. Needs
valgrind (Debian's package); about 1.5 minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CONCURRENCY = 8
WARM_UP = 50


async def _create(app: Any, authorization: bytes, body: bytes) -> None:
    headers = [
        (b"host", b"127.0.0.1:8000"),
        (b"authorization", authorization),
        (b"content-type", b"application/json"),
        (b"idempotency-key", uuid.uuid4().hex.encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/orders",
        "raw_path": b"/v1/orders",
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 50000),
        "state": {},
    }
    received = False

    async def receive() -> dict[str, Any]:
        nonlocal received
        if not received:
            received = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # the client never hangs up
        raise AssertionError

    status = 0

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    if status != 201:
        raise SystemExit(f"a creation answered {status}")


async def _child(url: str, creations: int) -> None:
    """Start the app, warm it up, make `creations` orders, 8 at a time."""
    from run import ORDER_BODY  # bench/run.py: the order every benchmark creates

    from order_service.app import create_app
    from order_service.auth import service as keys
    from order_service.auth.schemas import Role
    from order_service.settings import Settings

    app = create_app(Settings(database_url=url, database_pool_size=CONCURRENCY))
    async with app.router.lifespan_context(app):
        async with app.state.services.sessionmaker() as session, session.begin():
            _, secret = await keys.create_key(session, name="instructions", role=Role.admin)
        authorization = f"Bearer {secret}".encode()

        async def client(count: int) -> None:
            for _ in range(count):
                await _create(app, authorization, ORDER_BODY)

        await asyncio.gather(*(client(WARM_UP // CONCURRENCY) for _ in range(CONCURRENCY)))
        await asyncio.gather(*(client(creations // CONCURRENCY) for _ in range(CONCURRENCY)))


def _count(url: str, creations: int, src: Path | None) -> int:
    path = [*([str(src)] if src else []), str(ROOT / "bench")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path)}
    command = [
        "valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
        sys.executable, __file__, "--child", url, "--count", str(creations),
    ]  # fmt: skip
    out = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    found = re.search(r"I\s+refs:\s+([\d,]+)", out.stderr)
    if out.returncode != 0 or found is None:
        raise SystemExit(f"the counted run failed:\n{out.stderr[-3000:]}")
    return int(found[1].replace(",", ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--src", type=Path, help="the `src` folder to measure (default: ours)")
    parser.add_argument("--creations", default="50,450", help="the two counts to difference")
    parser.add_argument("--data-dir", default=".data/instructions")
    parser.add_argument("--child", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:  # the counted process: logging as `serve` sets it up, to /dev/null
        import uvloop

        from order_service import logs

        logs.configure("INFO")
        logging.getLogger().handlers[0].setStream(open(os.devnull, "w"))  # noqa: SIM115

        uvloop.run(_child(args.child, args.count))
        return
    low, high = (int(n) for n in args.creations.split(","))
    sys.path.insert(0, str(ROOT / "bench"))
    from run import start_database

    from order_service import migrations

    url = start_database((ROOT / args.data_dir).resolve())
    migrations.upgrade(url)
    src = args.src.resolve() if args.src else None
    counts = {n: _count(url, n, src) for n in (low, high)}
    per_creation = (counts[high] - counts[low]) / (high - low)
    print(
        f"{per_creation / 1e6:.3f} M instructions per order creation "
        f"({src or ROOT / 'src'}; {low} and {high} creations: {counts[low]:,} and "
        f"{counts[high]:,} instructions)"
    )


if __name__ == "__main__":
    main()
