"""`serve --workers N`: N uvicorn processes, each listening on its own `SO_REUSEPORT` socket.

uvicorn's own multi-process mode hands every process one shared listening socket, and
whichever process wakes first accepts the waiting connections. Keep-alive connections then
stay where they landed: under load one process was measured at 85 % of a core and the other
at 30 % (`bench/`). With a socket each in one `SO_REUSEPORT` group, the kernel spreads new
connections over the processes by hash instead. uvicorn's supervisor still runs them
(health checks, restarting a process that dies, SIGTERM and SIGHUP); only the server it
starts in each process is ours.

`freeze_heap` is for every long-running process, API and worker alike.
"""

from __future__ import annotations

import gc
import socket

import uvicorn
from uvicorn.supervisors import multiprocess


def _listener(config: uvicorn.Config) -> socket.socket:
    family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((config.host, config.port))
    return sock


class ReusePortServer(uvicorn.Server):
    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=[_listener(self.config)])


class _Process(multiprocess.Process):
    @property
    def server(self) -> uvicorn.Server:
        if self._server is None:
            self._server = ReusePortServer(config=self.config)
        return self._server


def run_processes(config: uvicorn.Config) -> None:
    """Supervise `config.workers` processes until SIGINT or SIGTERM."""
    # Fail here, once, if the address is taken, rather than in every process. Bound but not
    # listening, this socket is not in the group the kernel hands connections to.
    _listener(config).close()
    # The supervisor creates its processes through this module-level name.
    multiprocess.Process = _Process  # type: ignore[misc]
    multiprocess.Multiprocess(config, sockets=[]).run()


def freeze_heap() -> None:
    """Exempt what start-up built (modules, models, schemas, routes: some 160,000 objects in
    an API process, living as long as it does) from garbage collection. Each full
    collection otherwise walked them all: a 70 ms stall of every request in flight."""
    gc.collect()
    gc.freeze()
