"""Fault injection: real servers and processes on loopback, broken on purpose."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from order_service.kit import migrations
from tests.faults.postgres import Postgres, free_port

ADMIN_KEY = "osk_fault_injection_admin_key_0123456789"


@pytest.fixture
async def postgres(tmp_path: Path) -> AsyncIterator[Postgres]:
    """A PostgreSQL of this test's own, migrated: stopping it disturbs no other test."""
    server = Postgres(tmp_path / "pg")
    await asyncio.to_thread(server.init)
    await asyncio.to_thread(server.start)
    await asyncio.to_thread(migrations.upgrade, server.url)
    yield server
    if server.running():
        await asyncio.to_thread(server.stop, "immediate")


@dataclass
class Service:
    base_url: str
    log: Path

    def headers(self, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {ADMIN_KEY}", **extra}


def tail(path: Path) -> str:
    return path.read_text()[-3000:]


async def wait_until_up(base_url: str, process: asyncio.subprocess.Process, log: Path) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=1) as client:
        for _ in range(200):
            if process.returncode is not None:
                raise AssertionError(f"order-service exited:\n{tail(log)}")
            with contextlib.suppress(httpx.TransportError):
                if (await client.get("/readyz")).status_code == 200:
                    return
            await asyncio.sleep(0.1)
    raise AssertionError(f"order-service did not become ready:\n{tail(log)}")


@pytest.fixture
async def service(postgres: Postgres, tmp_path: Path) -> AsyncIterator[Service]:
    """`order-service serve --workers 2` on the test's own PostgreSQL, as in production."""
    port = free_port()
    log = tmp_path / "serve.log"
    env = {
        **os.environ,
        "ORDER_SERVICE_ENV": "test",
        "ORDER_SERVICE_DATABASE_URL": postgres.url,
        "ORDER_SERVICE_ADMIN_API_KEY": ADMIN_KEY,
        "ORDER_SERVICE_DATABASE_POOL_SIZE": "5",
        "ORDER_SERVICE_LOG_LEVEL": "WARNING",
    }
    with log.open("w") as out:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "order_service",
            "serve",
            "--port",
            str(port),
            "--workers",
            "2",
            env=env,
            stdout=out,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        await wait_until_up(base_url, process, log)
        yield Service(base_url, log)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), 15)
        except TimeoutError:
            os.killpg(process.pid, signal.SIGKILL)
            await process.wait()
