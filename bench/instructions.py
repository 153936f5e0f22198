"""Instructions per order creation (or cancellation, refund, edit): a count that the VM's
noise does not move.

    python bench/instructions.py [--operation create|cancel|refund|edit] [--src DIR]
        [--counts 50,450] [--data-dir .data/instructions]

CPU time per request moves by a third between identical runs on a shared VM (README,
Benchmarks); instructions executed do not. This runs the app in one process under
valgrind's cachegrind (`--cache-sim=no`: it only counts) and calls its ASGI interface
directly, 8 creations at a time, against the embedded PostgreSQL (which runs outside
valgrind, so its work is not counted): once with the first number of creations and once with
the second, after the same start-up and warm-up. The difference, divided by the difference
in creations, is what one more creation costs the API process: the middleware, routing and
dependencies, validation, pricing, the idempotency work, the statements' arguments and
asyncpg, the response; not uvicorn's HTTP parsing (small: a trivial ASGI app under the same
uvicorn costs a few percent of an order creation) nor the kernel.

`--operation cancel` (a customer's cancellation of a paid order: void, refund, restock),
`--operation refund` (one unit, restocked) and `--operation edit` (a customer's edit of a
paid order taking one unit off a line: a refund of the difference and a restock) work the
same way, with a storefront key and an
`Idempotency-Key` each, as `make bench` sends them: both counted runs first create the same
number of orders (enough for the larger count), so only the operations differ.

`--src` measures another checkout's `src` (a `git worktree` of an older commit, say) with
this script and this database, so two versions compare under the same conditions. Needs
valgrind (Debian's package); about 1.5 minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
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


async def _post(app: Any, path: str, authorization: bytes, body: bytes, expect: int) -> bytes:
    """POST `body` to `path` through the app's ASGI interface; the response's body."""
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
        "path": path,
        "raw_path": path.encode(),
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
    chunks: list[bytes] = []

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    if status != expect:
        raise SystemExit(f"POST {path} answered {status}: {b''.join(chunks)[:500]!r}")
    return b"".join(chunks)


def _acting(operation: str, order: dict[str, Any]) -> tuple[str, bytes, int]:
    """The request `operation` sends for `order`, as `make bench` sends it."""
    if operation == "cancel":
        return f"/v1/orders/{order['id']}/cancel", b'{"reason": "customer"}', 200
    line = order["line_items"][0]["id"]
    if operation == "edit":
        edit = {"line_items": [{"line_item_id": line, "quantity": 1}], "reason": "customer_request"}
        return f"/v1/orders/{order['id']}/edits", json.dumps(edit).encode(), 201
    body = {
        "line_items": [{"line_item_id": line, "quantity": 1, "restock": True}],
        "reason": "damaged",
    }
    return f"/v1/orders/{order['id']}/refunds", json.dumps(body).encode(), 201


async def _child(url: str, operation: str, count: int, orders_needed: int) -> None:
    """Start the app, warm it up, then `count` operations, 8 at a time."""
    from run import ORDER_BODY  # bench/run.py: the order every benchmark creates

    from order_service.app import create_app
    from order_service.auth import service as keys
    from order_service.auth.schemas import Role
    from order_service.settings import Settings

    app = create_app(Settings(database_url=url, database_pool_size=CONCURRENCY))
    async with app.router.lifespan_context(app):
        async with app.state.services.sessionmaker() as session, session.begin():
            _, admin = await keys.create_key(session, name="instructions", role=Role.admin)
            _, storefront = await keys.create_key(session, name="storefront", role=Role.storefront)
        as_admin = f"Bearer {admin}".encode()
        as_storefront = f"Bearer {storefront}".encode()

        async def creating(n: int) -> list[dict[str, Any]]:
            made = []
            for _ in range(n):
                made.append(json.loads(await _post(app, "/v1/orders", as_admin, ORDER_BODY, 201)))
            return made

        async def acting(orders: list[dict[str, Any]]) -> None:
            for order in orders:
                path, body, expect = _acting(operation, order)
                await _post(app, path, as_storefront, body, expect)

        if operation == "create":
            await asyncio.gather(*(creating(WARM_UP // CONCURRENCY) for _ in range(CONCURRENCY)))
            await asyncio.gather(*(creating(count // CONCURRENCY) for _ in range(CONCURRENCY)))
            return
        per_client = (WARM_UP + orders_needed) // CONCURRENCY
        made = await asyncio.gather(*(creating(per_client) for _ in range(CONCURRENCY)))
        orders = [order for chunk in made for order in chunk]
        warm, measured = orders[:WARM_UP], orders[WARM_UP : WARM_UP + count]
        await asyncio.gather(*(acting(warm[i::CONCURRENCY]) for i in range(CONCURRENCY)))
        await asyncio.gather(*(acting(measured[i::CONCURRENCY]) for i in range(CONCURRENCY)))


OPERATIONS = {
    "create": "order creation",
    "cancel": "cancellation",
    "refund": "refund",
    "edit": "edit",
}


def _count(url: str, operation: str, count: int, orders_needed: int, src: Path | None) -> int:
    path = [*([str(src)] if src else []), str(ROOT / "bench")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path)}
    command = [
        "valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
        sys.executable, __file__, "--child", url, "--operation", operation,
        "--count", str(count), "--orders", str(orders_needed),
    ]  # fmt: skip
    out = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    found = re.search(r"I\s+refs:\s+([\d,]+)", out.stderr)
    if out.returncode != 0 or found is None:
        raise SystemExit(f"the counted run failed:\n{out.stderr[-3000:]}")
    return int(found[1].replace(",", ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--operation", choices=list(OPERATIONS), default="create")
    parser.add_argument("--src", type=Path, help="the `src` folder to measure (default: ours)")
    parser.add_argument(
        "--counts",
        default="",
        help="the two counts to difference (50,450; 40,240 for the others)",
    )
    parser.add_argument("--data-dir", default=".data/instructions")
    parser.add_argument("--child", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--orders", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:  # the counted process: logging as `serve` sets it up, to /dev/null
        import uvloop

        from order_service.kit import logs

        logs.configure("INFO")
        logging.getLogger().handlers[0].setStream(open(os.devnull, "w"))  # noqa: SIM115

        uvloop.run(_child(args.child, args.operation, args.count, args.orders))
        return
    counts = args.counts or ("50,450" if args.operation == "create" else "40,240")
    low, high = (int(n) for n in counts.split(","))
    sys.path.insert(0, str(ROOT / "bench"))
    from run import start_database

    from order_service.kit import migrations

    url = start_database((ROOT / args.data_dir).resolve())
    migrations.upgrade(url)
    src = args.src.resolve() if args.src else None
    total = {n: _count(url, args.operation, n, high, src) for n in (low, high)}
    per_operation = (total[high] - total[low]) / (high - low)
    print(
        f"{per_operation / 1e6:.3f} M instructions per {OPERATIONS[args.operation]} "
        f"({src or ROOT / 'src'}; {low} and {high}: {total[low]:,} and "
        f"{total[high]:,} instructions)"
    )


if __name__ == "__main__":
    main()
