"""`order-service serve` as `make run` and production run it: one process or several, one
metrics view, a clean exit on SIGTERM and on Ctrl-C."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import httpx
import pytest

from tests.factories import Keys, order_body

T = TypeVar("T")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Serve:
    process: asyncio.subprocess.Process
    base: str
    stdout: asyncio.Task[bytes]
    stderr: asyncio.Task[bytes]


@asynccontextmanager
async def serve(database_url: str, *args: str, **env: str) -> AsyncIterator[Serve]:
    """`order-service serve *args` on a free port, ready; SIGTERM at the end if still running.
    `PROMETHEUS_MULTIPROC_DIR` is not passed on unless given: `serve` picks its own."""
    port = _free_port()
    inherited = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "order_service", "serve", "--port", str(port), *args,
        env={**inherited, "ORDER_SERVICE_DATABASE_URL": database_url, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        # its own process group, so a test can send Ctrl-C's SIGINT to all of it, as a terminal does
        start_new_session=True,
    )  # fmt: skip
    assert process.stdout is not None and process.stderr is not None
    running = Serve(
        process,
        f"http://127.0.0.1:{port}",
        asyncio.create_task(process.stdout.read()),
        asyncio.create_task(process.stderr.read()),
    )
    try:
        async with httpx.AsyncClient(base_url=running.base, timeout=5) as client:
            for _ in range(300):
                if process.returncode is not None:
                    break
                try:
                    if (await client.get("/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
            else:
                raise AssertionError("serve did not become ready")
        assert process.returncode is None, (await running.stderr).decode()[-2000:]
        yield running
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(process.wait(), 30)


async def _make_requests(base: str, api_keys: Keys) -> None:
    """20 health checks, on new connections so that every process gets some, and an order."""
    for _ in range(20):
        async with httpx.AsyncClient(base_url=base, timeout=5) as one:
            assert (await one.get("/healthz")).status_code == 200
    async with httpx.AsyncClient(base_url=base, timeout=5) as client:
        created = await client.post(
            "/v1/orders", json=order_body(), headers=api_keys.headers("storefront")
        )
        assert created.status_code == 201, created.text


def _healthz_count(metrics: str) -> float:
    line = next(
        line
        for line in metrics.splitlines()
        if line.startswith("order_service_http_requests_total") and 'route="/healthz"' in line
    )
    return float(line.split()[-1])


@pytest.mark.parametrize("workers", [1, 2])
async def test_metrics_count_requests_however_many_processes(
    database_url: str, api_keys: Keys, workers: int
) -> None:
    """Found by trying `make run`: with one process `/metrics` showed no request at all, the
    counters kept in memory while `/metrics` read the (empty) shared folder."""
    async with serve(
        database_url,
        "--workers",
        str(workers),
        "--without-worker",
        ORDER_SERVICE_LOG_LEVEL="WARNING",
    ) as running:
        await _make_requests(running.base, api_keys)
        async with httpx.AsyncClient(base_url=running.base, timeout=5) as client:
            metrics = (await client.get("/metrics")).text
    assert _healthz_count(metrics) >= 20
    assert 'order_service_events_total{type="order.created"} 1.0' in metrics


async def test_two_api_processes_share_metrics_and_stop_on_sigterm(
    database_url: str, api_keys: Keys, tmp_path: Path
) -> None:
    async with serve(
        database_url,
        "--workers", "2", "--without-worker",
        ORDER_SERVICE_LOG_LEVEL="WARNING", PROMETHEUS_MULTIPROC_DIR=str(tmp_path),
    ) as running:  # fmt: skip
        await _make_requests(running.base, api_keys)
        async with httpx.AsyncClient(base_url=running.base, timeout=5) as client:
            metrics = (await client.get("/metrics")).text
        paths = await asyncio.to_thread(lambda: list(tmp_path.glob("*.db")))
        files = {p.name.split("_")[-1] for p in paths}
        assert len(files) >= 2, f"one metrics file per process, got {files}"
        assert _healthz_count(metrics) >= 20
        assert 'order_service_events_total{type="order.created"} 1.0' in metrics
        running.process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(running.process.wait(), 30)
    assert code == 0, (await running.stderr).decode()[-2000:]


async def test_ctrl_c_stops_quietly_with_one_line(database_url: str) -> None:
    """Found by trying `make run`: Ctrl-C ended in a KeyboardInterrupt traceback and a
    non-zero exit (so `make: *** Interrupt`). A terminal's Ctrl-C sends SIGINT to every
    process of the foreground group; so does this test."""
    async with serve(database_url, ORDER_SERVICE_LOG_LEVEL="INFO") as running:
        async with httpx.AsyncClient(base_url=running.base, timeout=5) as client:
            marker = {"X-Request-ID": "before-ctrl-c"}
            assert (await client.get("/healthz", headers=marker)).status_code == 200
        os.killpg(running.process.pid, signal.SIGINT)
        code = await asyncio.wait_for(running.process.wait(), 30)
    stdout = (await running.stdout).decode()
    stderr = (await running.stderr).decode()
    assert code == 0, stderr[-2000:]
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr, stderr[-2000:]
    assert "/docs" in stdout and "/redoc" in stdout
    after = stdout[stdout.index("before-ctrl-c") :].splitlines()[1:]
    assert after == ["order-service stopped"], stdout[-2000:]


def _api_processes(supervisor: int) -> set[int]:
    """The supervisor's API processes (not multiprocessing's resource tracker)."""
    found = set()
    for child in Path(f"/proc/{supervisor}/task/{supervisor}/children").read_text().split():
        with contextlib.suppress(FileNotFoundError):
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                found.add(int(child))
    return found


async def _until(check: Callable[[], Awaitable[T | None]]) -> T:
    for _ in range(150):
        with contextlib.suppress(httpx.TransportError):
            if (found := await check()) is not None:
                return found
        await asyncio.sleep(0.1)
    raise AssertionError("timed out")


async def test_an_api_process_that_dies_is_replaced(database_url: str) -> None:
    async with serve(database_url, "--workers", "2", "--without-worker") as running:
        supervisor = running.process.pid

        async def two_processes() -> set[int] | None:
            pids = _api_processes(supervisor)
            return pids if len(pids) == 2 else None

        victim = min(await _until(two_processes))
        os.kill(victim, signal.SIGKILL)

        async def replaced() -> set[int] | None:
            pids = _api_processes(supervisor)
            return pids if len(pids) == 2 and victim not in pids else None

        await _until(replaced)
        async with httpx.AsyncClient(base_url=running.base, timeout=5) as client:

            async def ready() -> bool | None:
                return (await client.get("/readyz")).status_code == 200 or None

            await _until(ready)
        for _ in range(10):  # new connections, spread over both processes
            async with httpx.AsyncClient(base_url=running.base, timeout=5) as one:
                assert (await one.get("/healthz")).status_code == 200
        running.process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(running.process.wait(), 30) == 0
