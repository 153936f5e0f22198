"""`order-service`: serve, run a worker, migrate, print the OpenAPI spec, issue API keys."""

from __future__ import annotations

import argparse
import asyncio
import atexit
import json
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path

from order_service.auth import service as keys
from order_service.auth.schemas import Role
from order_service.kit import embedded, logs, migrations
from order_service.kit.db import create_engine, create_sessionmaker
from order_service.settings import Settings, get_settings

DEV_KEY_FILE = "admin-api-key"


def _database_url(settings: Settings) -> tuple[str, bool]:
    """The configured database, or the embedded one (started now) when none is set."""
    if settings.database_url:
        return settings.database_url, False
    try:
        url = embedded.start(settings.data_dir)
    except embedded.EmbeddedPostgresMissing as error:
        sys.exit(f"order-service: {error}")
    # Worker processes started by uvicorn inherit the environment, not this object.
    os.environ["ORDER_SERVICE_DATABASE_URL"] = url
    get_settings.cache_clear()
    return url, True


async def _ensure_admin_key(settings: Settings, url: str, embedded_db: bool) -> str | None:
    """Ensure ORDER_SERVICE_ADMIN_API_KEY exists; in development generate one once and keep it
    in the data folder so every `make run` prints the same key."""
    engine = create_engine(url, pool_size=1)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            if settings.admin_api_key:
                await keys.ensure_key(
                    session, key=settings.admin_api_key, name="bootstrap admin", role=Role.admin
                )
                return None
            if not embedded_db:
                return None
            key_file = Path(settings.data_dir) / DEV_KEY_FILE
            if key_file.exists():
                key = key_file.read_text().strip()
                await keys.ensure_key(session, key=key, name="development admin", role=Role.admin)
                return key
            _, key = await keys.create_key(session, name="development admin", role=Role.admin)
            key_file.write_text(key + "\n")
            key_file.chmod(0o600)
            return key
    finally:
        await engine.dispose()


def _metrics_dir() -> None:
    """The API processes share one Prometheus view through a folder of their own."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return
    folder = tempfile.mkdtemp(prefix="order-service-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
    atexit.register(shutil.rmtree, folder, ignore_errors=True)


def _address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def cmd_serve(args: argparse.Namespace) -> None:
    import uvicorn

    from order_service.http import serving

    settings = get_settings()
    logs.configure(settings.log_level)
    url, embedded_db = _database_url(settings)
    if embedded_db:
        migrations.upgrade(url)
    dev_key = asyncio.run(_ensure_admin_key(settings, url, embedded_db))
    base = f"http://{_address(args.host, args.port)}"
    print(f"\n  order-service on {base}\n  API docs:  {base}/docs  (or {base}/redoc)", flush=True)
    if dev_key:
        print(
            f"  Admin key: {dev_key}   (development only; kept in {settings.data_dir})", flush=True
        )
    print("  Ctrl-C stops it.\n", flush=True)
    if args.without_worker:
        os.environ["ORDER_SERVICE_IN_PROCESS_WORKER"] = "false"
    # Read by each API process, which serving starts afresh (and so imports prometheus_client
    # after this is set, whatever this process imported before).
    _metrics_dir()
    config = uvicorn.Config(
        "order_service.app:create_app_from_env",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=20,
    )
    serving.run_processes(config)


def cmd_worker(args: argparse.Namespace) -> None:
    # A worker is one process: its metrics are its own, kept in memory. Inherited (an
    # environment shared with `serve`), PROMETHEUS_MULTIPROC_DIR would put them in the API
    # processes' folder, where their `/metrics` would add them up too (counted twice by a
    # scrape of both), or stop the worker if the folder does not exist on its host.
    # prometheus_client reads it once, when imported: nothing imported so far loads it.
    for name in ("PROMETHEUS_MULTIPROC_DIR", "prometheus_multiproc_dir"):
        os.environ.pop(name, None)
    settings = get_settings()
    logs.configure(settings.log_level)
    from order_service import worker

    server = None
    if args.metrics_port is not None:
        address = _address(args.metrics_host, args.metrics_port)
        try:
            server = worker.serve_metrics(args.metrics_host, args.metrics_port)
        except OSError as error:
            sys.exit(
                f"order-service worker: cannot serve metrics on {address}: "
                f"{error.strerror or error}"
            )
        logging.getLogger("order_service.worker").info(
            "worker metrics on http://%s/metrics", address
        )
    try:
        url, _ = _database_url(settings)
        asyncio.run(worker.run_worker(settings.model_copy(update={"database_url": url})))
    finally:
        if server is not None:
            server.shutdown()
            server.server_close()


def cmd_migrate(args: argparse.Namespace) -> None:
    settings = get_settings()
    logs.configure(settings.log_level)
    url, _ = _database_url(settings)
    if args.downgrade:
        migrations.downgrade(url, args.downgrade)
    else:
        migrations.upgrade(url, args.revision)
    print(f"migrations applied ({args.downgrade or args.revision})", file=sys.stderr)


def openapi_spec() -> dict[str, object]:
    from order_service.app import create_app

    settings = Settings(database_url="postgresql+asyncpg://openapi@localhost/openapi")
    return create_app(settings).openapi()


def cmd_openapi(args: argparse.Namespace) -> None:
    text = json.dumps(openapi_spec(), indent=2, ensure_ascii=False) + "\n"
    if args.output:
        Path(args.output).write_text(text)
    else:
        sys.stdout.write(text)


def cmd_api_keys_create(args: argparse.Namespace) -> None:
    settings = get_settings()
    url, _ = _database_url(settings)

    async def create() -> str:
        engine = create_engine(url, pool_size=1)
        try:
            async with create_sessionmaker(engine)() as session, session.begin():
                _, key = await keys.create_key(session, name=args.name, role=Role(args.role))
                return key
        finally:
            await engine.dispose()

    print(asyncio.run(create()))


def _port(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a TCP port (1-65535)")
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="order-service",
        description="Order service. Configured by ORDER_SERVICE_* environment variables; "
        "without ORDER_SERVICE_DATABASE_URL an embedded PostgreSQL is started under .data/.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="serve the HTTP API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1, help="API processes")
    serve.add_argument(
        "--without-worker",
        action="store_true",
        help="do not run webhook delivery and schedules in the API processes "
        "(run `order-service worker` instead)",
    )
    serve.set_defaults(func=cmd_serve)

    worker = sub.add_parser(
        "worker", help="run background work: webhook delivery, scheduled events, clean-up"
    )
    worker.add_argument(
        "--metrics-host",
        metavar="HOST",
        default="127.0.0.1",
        help="address for --metrics-port (default 127.0.0.1; 0.0.0.0 to be scraped from "
        "other hosts)",
    )
    worker.add_argument(
        "--metrics-port",
        metavar="PORT",
        type=_port,
        help="serve this worker's Prometheus metrics on http://HOST:PORT/metrics "
        "(default: not served)",
    )
    worker.set_defaults(func=cmd_worker)

    migrate = sub.add_parser("migrate", help="apply database migrations")
    migrate.add_argument("--revision", default="head")
    migrate.add_argument("--downgrade", metavar="REVISION", help="downgrade to REVISION instead")
    migrate.set_defaults(func=cmd_migrate)

    openapi = sub.add_parser("openapi", help="print the OpenAPI spec")
    openapi.add_argument("--output", "-o", help="write to this file instead of stdout")
    openapi.set_defaults(func=cmd_openapi)

    api_keys = sub.add_parser("api-keys", help="manage API keys")
    api_keys_sub = api_keys.add_subparsers(dest="api_keys_command", required=True)
    create = api_keys_sub.add_parser("create", help="issue a key and print it once")
    create.add_argument("--role", required=True, choices=[r.value for r in Role])
    create.add_argument("--name", required=True)
    create.set_defaults(func=cmd_api_keys_create)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
