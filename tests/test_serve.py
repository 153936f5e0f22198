"""`order-service serve` as production runs it: several processes, one metrics view,
a clean exit on SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from pathlib import Path
from typing import Any

import httpx

from tests.factories import Keys, order_body


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_two_api_processes_share_metrics_and_stop_on_sigterm(
    database_url: str, api_keys: Keys, tmp_path: Path
) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "ORDER_SERVICE_DATABASE_URL": database_url,
        "ORDER_SERVICE_LOG_LEVEL": "WARNING",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "order_service", "serve", "--port", str(port), "--workers", "2",
        "--without-worker",
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=5) as client:
            for _ in range(100):
                try:
                    if (await client.get("/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
            else:
                raise AssertionError("serve did not become ready")
            headers = api_keys.headers("storefront")
            # new connections each time, so both processes get some of them
            for _ in range(20):
                async with httpx.AsyncClient(base_url=base, timeout=5) as one:
                    assert (await one.get("/healthz")).status_code == 200
            created = await client.post("/v1/orders", json=order_body(), headers=headers)
            assert created.status_code == 201, created.text
            metrics = (await client.get("/metrics")).text
            paths = await asyncio.to_thread(lambda: list(tmp_path.glob("*.db")))
            files = {p.name.split("_")[-1] for p in paths}
            assert len(files) >= 2, f"one metrics file per process, got {files}"
            healthz = next(
                line
                for line in metrics.splitlines()
                if line.startswith("order_service_http_requests_total")
                and 'route="/healthz"' in line
            )
            assert float(healthz.split()[-1]) >= 20
            assert 'order_service_events_total{type="order.created"} 1.0' in metrics
    finally:
        process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), 30)
    stderr: Any = await process.stderr.read() if process.stderr else b""
    assert code == 0, stderr.decode()[-2000:]


def _api_processes(supervisor: int) -> set[int]:
    """The supervisor's API processes (not multiprocessing's resource tracker)."""
    found = set()
    for child in Path(f"/proc/{supervisor}/task/{supervisor}/children").read_text().split():
        with contextlib.suppress(FileNotFoundError):
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
            if b"spawn_main" in cmdline:
                found.add(int(child))
    return found


async def test_an_api_process_that_dies_is_replaced(database_url: str, tmp_path: Path) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "ORDER_SERVICE_DATABASE_URL": database_url,
        "ORDER_SERVICE_LOG_LEVEL": "WARNING",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "order_service", "serve", "--port", str(port), "--workers", "2",
        "--without-worker",
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:

            async def until(check: Any) -> Any:
                for _ in range(150):
                    with contextlib.suppress(httpx.TransportError):
                        if found := await check():
                            return found
                    await asyncio.sleep(0.1)
                raise AssertionError("timed out")

            async def two_processes() -> set[int] | None:
                pids = _api_processes(process.pid)
                return pids if len(pids) == 2 else None

            first = await until(two_processes)
            victim = min(first)
            os.kill(victim, signal.SIGKILL)

            async def replaced() -> set[int] | None:
                pids = _api_processes(process.pid)
                return pids if len(pids) == 2 and victim not in pids else None

            await until(replaced)

            async def ready() -> bool:
                return (await client.get("/readyz")).status_code == 200

            await until(ready)
            for _ in range(10):  # new connections, spread over both processes
                async with httpx.AsyncClient(base_url=client.base_url, timeout=5) as one:
                    assert (await one.get("/healthz")).status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), 30)
    stderr: Any = await process.stderr.read() if process.stderr else b""
    assert code == 0, stderr.decode()[-2000:]
