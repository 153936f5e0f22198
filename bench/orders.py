"""Drive POST /v1/orders and GET /v1/orders/{id} with concurrent clients; print rates and
latency percentiles. Usage:

    python bench/orders.py --url http://127.0.0.1:8000 --key osk_... [--concurrency 32]
        [--seconds 20]

Only loopback targets: this is a local benchmark, not a load tool for other hosts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
import uuid
from urllib.parse import urlparse

import httpx

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


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


async def run_phase(
    name: str,
    client: httpx.AsyncClient,
    concurrency: int,
    seconds: float,
    request: callable,
) -> dict[str, float | int | str]:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            response = await request(client)
            elapsed = time.perf_counter() - started
            if response.status_code >= 400:
                errors += 1
            else:
                latencies.append(elapsed)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall = time.perf_counter() - started
    return {
        "phase": name,
        "requests": len(latencies),
        "errors": errors,
        "rps": round(len(latencies) / wall, 1),
        "p50_ms": round(percentile(latencies, 50) * 1000, 1),
        "p99_ms": round(percentile(latencies, 99) * 1000, 1),
        "mean_ms": round(statistics.fmean(latencies) * 1000, 1) if latencies else float("nan"),
    }


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--key", required=True)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=15)
    args = parser.parse_args()
    host = urlparse(args.url).hostname or ""
    if not (host.startswith("127.") or host in {"localhost", "::1"}):
        raise SystemExit("bench targets loopback only")

    headers = {"Authorization": f"Bearer {args.key}"}
    limits = httpx.Limits(
        max_connections=args.concurrency, max_keepalive_connections=args.concurrency
    )
    created: list[str] = []
    async with httpx.AsyncClient(
        base_url=args.url, headers=headers, limits=limits, timeout=30
    ) as client:

        async def create(c: httpx.AsyncClient) -> httpx.Response:
            response = await c.post(
                "/v1/orders", json=ORDER, headers={"Idempotency-Key": uuid.uuid4().hex}
            )
            if response.status_code == 201:
                created.append(response.json()["id"])
            return response

        async def get(c: httpx.AsyncClient) -> httpx.Response:
            return await c.get(f"/v1/orders/{created[int(time.perf_counter_ns()) % len(created)]}")

        await run_phase("warmup", client, 4, 2, create)
        results = [
            await run_phase("create order", client, args.concurrency, args.seconds, create),
            await run_phase("get order", client, args.concurrency, args.seconds, get),
        ]
    print(
        json.dumps(
            {"concurrency": args.concurrency, "seconds": args.seconds, "results": results}, indent=2
        )
    )
    print()
    print("| operation | req/s | p50 ms | p99 ms | errors |")
    print("|---|---:|---:|---:|---:|")
    for r in results:
        print(f"| {r['phase']} | {r['rps']} | {r['p50_ms']} | {r['p99_ms']} | {r['errors']} |")


if __name__ == "__main__":
    asyncio.run(main())
