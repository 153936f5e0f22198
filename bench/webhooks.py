"""Webhook delivery throughput and commit-to-delivery latency against a loopback receiver.

    python bench/webhooks.py [--events 2000] [--emitters 8] [--dispatchers 2] [--orders 200]
        [--drain] [--database-url postgresql+asyncpg://...]

Starts an embedded PostgreSQL under .data/bench (unless --database-url), migrates, registers
one endpoint pointing at an HTTP receiver on 127.0.0.1, runs in-process dispatchers (each
with its own engine, as separate worker processes would have) and commits events one per
transaction from concurrent emitters. Latency is from each event's commit to its arrival;
throughput is events delivered per second from the first commit to the last arrival.

With --drain the events are committed first, with no dispatcher running (a backlog, as after
a sale's burst or an outage), then the dispatchers start: throughput is events delivered per
second from their start to the last arrival, what the workers alone can do.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from datetime import UTC, datetime

from sqlalchemy import update

from order_service.context import Context
from order_service.events import service as events
from order_service.http.context import Services
from order_service.kit import embedded, migrations
from order_service.kit.db import create_engine, create_sessionmaker
from order_service.kit.secrecy import vault
from order_service.settings import Environment, Settings
from order_service.webhooks.dispatcher import Dispatcher
from order_service.webhooks.models import WebhookEndpoint
from order_service.webhooks.signing import generate_secret


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


class Receiver:
    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        self.bodies: dict[str, bytes] = {}
        self.done = asyncio.Event()
        self.expected = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").lower()
                length = int(head.split("content-length:")[1].split("\r\n")[0])
                msg_id = head.split("webhook-id:")[1].split("\r\n")[0].strip()
                body = await reader.readexactly(length)
                self.arrived.setdefault(msg_id, time.perf_counter())
                self.bodies.setdefault(msg_id, body)
                writer.write(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")
                await writer.drain()
                if len(self.arrived) >= self.expected:
                    self.done.set()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


async def main(args: argparse.Namespace) -> None:
    url = args.database_url
    if not url:
        url = embedded.start(".data/bench", f"bench_{uuid.uuid4().hex[:8]}")
    await asyncio.to_thread(migrations.upgrade, url)
    settings = Settings(
        env=Environment.test,
        database_url=url,
        webhook_allow_private_targets=True,
        webhook_batch_size=args.batch,
    )
    receiver = Receiver()
    receiver.expected = args.events
    server = await asyncio.start_server(receiver.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]

    engine = create_engine(url, pool_size=args.emitters + 2)
    sessionmaker = create_sessionmaker(engine)
    async with sessionmaker() as session, session.begin():
        # Endpoints of earlier runs point at receivers long gone.
        await session.execute(update(WebhookEndpoint).values(enabled=False))
        session.add(
            WebhookEndpoint(
                id=f"whe_bench{uuid.uuid4().hex[:8]}",
                url=f"http://127.0.0.1:{port}/hooks",
                events=["*"],
                enabled=True,
                secret_ciphertext=vault(settings).seal(generate_secret()),
            )
        )

    stop = asyncio.Event()
    workers = []
    dispatcher_engines = []

    async def start_dispatchers() -> None:
        for _ in range(args.dispatchers):
            dengine = create_engine(url, pool_size=8)
            dispatcher_engines.append(dengine)
            services = Services(
                settings=settings, engine=dengine, sessionmaker=create_sessionmaker(dengine)
            )
            dispatcher = Dispatcher(services)
            workers.append((services, asyncio.create_task(dispatcher.run(stop))))
            await asyncio.wait_for(dispatcher.listening.wait(), 10)

    if not args.drain:
        await start_dispatchers()

    committed: dict[str, float] = {}
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(args.events):
        queue.put_nowait(n)
    run = uuid.uuid4().hex[:6]
    per_transaction = 50 if args.drain else 1

    async def emitter() -> None:
        while not queue.empty():
            async with sessionmaker() as session:
                async with session.begin():
                    ctx = Context.system(session, datetime.now(UTC), settings)
                    ids = []
                    for _ in range(min(per_transaction, queue.qsize())):
                        n = queue.get_nowait()
                        order_id = f"ord_{run}_{n % args.orders}"
                        ids.append(
                            await events.emit(
                                ctx,
                                "order.updated",
                                order_id=order_id,
                                data={"order": {"id": order_id, "version": n}},
                                sequence=n // args.orders + 1,
                            )
                        )
                for event_id in ids:
                    committed[event_id] = time.perf_counter()

    started = time.perf_counter()
    await asyncio.gather(*(emitter() for _ in range(1 if args.drain else args.emitters)))
    emitted_in = time.perf_counter() - started
    if args.drain:
        started = time.perf_counter()
        await start_dispatchers()
    await asyncio.wait_for(receiver.done.wait(), 300)
    finished = max(receiver.arrived.values())
    stop.set()
    for services, task in workers:
        await task
        await services.transports.aclose()
    for dengine in dispatcher_engines:
        await dengine.dispose()
    await engine.dispose()
    server.close()

    latencies = [(receiver.arrived[i] - committed[i]) * 1000 for i in committed]
    print(
        f"events={args.events} emitters={args.emitters} dispatchers={args.dispatchers} "
        f"orders={args.orders} batch={args.batch}" + (" drain" if args.drain else "")
    )
    print(f"emitted (committed) at      {args.events / emitted_in:8.0f} events/s")
    print(f"delivered at                {args.events / (finished - started):8.0f} events/s")
    print(
        f"commit-to-delivery latency  p50 {statistics.median(latencies):7.1f} ms   "
        f"p99 {percentile(latencies, 99):7.1f} ms   max {max(latencies):7.1f} ms"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--emitters", type=int, default=8)
    parser.add_argument("--dispatchers", type=int, default=2)
    parser.add_argument("--orders", type=int, default=200)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--drain", action="store_true", help="deliver a backlog")
    parser.add_argument("--database-url")
    asyncio.run(main(parser.parse_args()))
