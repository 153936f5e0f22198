"""`order-service worker --metrics-port P`, run and scraped the way an operator does: a real
worker process delivers to a receiver on loopback and Prometheus reads its `/metrics`."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.factories import create_order
from tests.webhooks.conftest import create_endpoint
from tests.webhooks.receiver import Receiver

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env(database_url: str, **extra: str) -> dict[str, str]:
    inherited = {k: v for k, v in os.environ.items() if k != MULTIPROC_ENV}
    return {
        **inherited,
        "ORDER_SERVICE_DATABASE_URL": database_url,
        "ORDER_SERVICE_ENV": "test",
        "ORDER_SERVICE_WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",
        "ORDER_SERVICE_WEBHOOK_SWEEP_INTERVAL": "0.5",
        "ORDER_SERVICE_LOG_LEVEL": "WARNING",
        **extra,
    }


@dataclass
class Worker:
    process: asyncio.subprocess.Process
    metrics_url: str
    stderr: asyncio.Task[bytes]

    async def scrape(self) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
        async with httpx.AsyncClient(timeout=5) as client:
            response = await client.get(self.metrics_url)
        assert response.status_code == 200
        return {
            (sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(response.text)
            for sample in family.samples
        }


@asynccontextmanager
async def worker(database_url: str, **env: str) -> AsyncIterator[Worker]:
    """`order-service worker --metrics-port P`, its `/metrics` answering; SIGTERM at the end
    if still running."""
    port = _free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "order_service", "worker", "--metrics-port", str(port),
        env=_env(database_url, **env),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stderr is not None
    running = Worker(
        process,
        f"http://127.0.0.1:{port}/metrics",
        asyncio.create_task(process.stderr.read()),
    )
    try:
        async with httpx.AsyncClient(timeout=5) as client:
            for _ in range(300):
                if process.returncode is not None:
                    raise AssertionError((await running.stderr).decode()[-2000:])
                try:
                    if (await client.get(running.metrics_url)).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
            else:
                raise AssertionError("the worker's /metrics did not answer")
        yield running
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(process.wait(), 30)


SUCCEEDED = ("order_service_webhook_attempts_total", frozenset({("outcome", "succeeded")}))
LATENCY = ("order_service_webhook_delivered_latency_seconds_total", frozenset())


async def _other_process_counts_41_deliveries(folder: Path) -> None:
    """What an API process sharing the folder leaves there: its own series."""
    script = (
        "from order_service.webhooks import metrics; metrics.ATTEMPTS.labels('succeeded').inc(41)"
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, env={**os.environ, MULTIPROC_ENV: str(folder)}
    )
    assert await asyncio.wait_for(process.wait(), 60) == 0


async def _files(folder: Path) -> list[Path]:
    return await asyncio.to_thread(lambda: sorted(folder.iterdir()))


@pytest.mark.parametrize("multiproc_dir", ["unset", "shared with another process"])
async def test_a_worker_serves_its_own_delivery_counts(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    storefront: dict[str, str],
    receiver: Receiver,
    database_url: str,
    tmp_path: Path,
    multiproc_dir: str,
) -> None:
    """With `PROMETHEUS_MULTIPROC_DIR` inherited (say from a container environment shared
    with `serve`), the worker still shows its own counts, and adds nothing to that folder for
    the API processes' `/metrics` to count again."""
    env = {}
    if multiproc_dir != "unset":
        await _other_process_counts_41_deliveries(tmp_path)
        env[MULTIPROC_ENV] = str(tmp_path)
    files_before = await _files(tmp_path)
    await create_endpoint(client, admin, receiver.url)
    async with worker(database_url, **env) as running:
        assert (await running.scrape())[SUCCEEDED] == 0
        await create_order(client, storefront)
        await receiver.wait_for(1, within=20)
        for _ in range(100):  # counted once the worker has recorded the delivery
            scraped = await running.scrape()
            if scraped[SUCCEEDED]:
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.3)
        scraped = await running.scrape()
        running.process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(running.process.wait(), 30)
    stderr = (await running.stderr).decode()
    assert [r.json["type"] for r in receiver.requests] == ["order.created"]
    assert scraped[SUCCEEDED] == 1
    assert scraped[LATENCY] > 0
    # The gauges read from the database are the API's to serve, not one copy per worker.
    assert not any(name == "order_service_webhook_backlog" for name, _ in scraped)
    assert await _files(tmp_path) == files_before
    assert code == 0, stderr[-2000:]
    assert "Traceback" not in stderr, stderr[-2000:]


async def test_a_metrics_port_in_use_stops_the_worker_with_one_line(database_url: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "order_service", "worker", "--metrics-port", str(port),
            env=_env(database_url),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        stdout, stderr = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 1
    assert stderr.decode().splitlines() == [
        f"order-service worker: cannot serve metrics on 127.0.0.1:{port}: Address already in use"
    ]
    assert stdout == b""
