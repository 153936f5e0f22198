"""Running the Alembic migrations from code (CLI, `make run`, tests)."""

from __future__ import annotations

import os
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory


def migrations_dir() -> Path:
    candidates = [
        os.environ.get("ORDER_SERVICE_MIGRATIONS_DIR"),
        Path(__file__).resolve().parents[3] / "migrations",
        Path.cwd() / "migrations",
    ]
    for candidate in candidates:
        if candidate and (Path(candidate) / "env.py").exists():
            return Path(candidate)
    raise FileNotFoundError("Cannot find the migrations folder; set ORDER_SERVICE_MIGRATIONS_DIR.")


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    command.downgrade(alembic_config(database_url), revision)


def head() -> str | None:
    try:
        directory = ScriptDirectory.from_config(alembic_config("postgresql://unused"))
    except FileNotFoundError:
        return None
    return directory.get_current_head()


def known_revisions() -> frozenset[str]:
    """Every revision this build ships; a database revision outside it is newer code's."""
    try:
        directory = ScriptDirectory.from_config(alembic_config("postgresql://unused"))
    except FileNotFoundError:
        return frozenset()
    return frozenset(script.revision for script in directory.walk_revisions())
