"""`serve`: uvicorn processes, each listening on its own `SO_REUSEPORT` socket, under
uvicorn's supervisor, however many there are.

uvicorn's own multi-process mode hands every process one shared listening socket, and
whichever process wakes first accepts the waiting connections. Keep-alive connections then
stay where they landed: under load one process was measured at 85 % of a core and the other
at 30 % (`bench/`). With a socket each in one `SO_REUSEPORT` group, the kernel spreads new
connections over the processes by hash instead. uvicorn's supervisor still runs them
(health checks, restarting a process that dies, SIGTERM and SIGHUP); only the server it
starts in each process is ours.

One API process is served the same way, from a process of its own: every API process then
starts from a fresh interpreter that sees `PROMETHEUS_MULTIPROC_DIR` before anything imports
`prometheus_client` (which fixes where its values live when imported), whatever the command
line's process imported first; and `/metrics` shows the same series for one process or many.

Ctrl-C reaches every process of the terminal's process group at once: the supervisor stops
the servers (SIGTERM), and nothing says more than the command's own last line.

`freeze_heap` is for every long-running process, API and worker alike.
"""

from __future__ import annotations

import gc
import logging
import signal
import socket
from types import FrameType

import uvicorn
from uvicorn.supervisors import multiprocess


def _listener(config: uvicorn.Config) -> socket.socket:
    family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((config.host, config.port))
    return sock


def _quiet() -> None:
    """A person pressed Ctrl-C: they want the service stopped, not a log of its stopping.
    Warnings and errors still show; SIGTERM (deployments) keeps the whole account."""
    logging.getLogger("uvicorn.error").setLevel(logging.WARNING)


class ReusePortServer(uvicorn.Server):
    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=[_listener(self.config)])

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if sig == signal.SIGINT:
            _quiet()
        super().handle_exit(sig, frame)


class _Process(multiprocess.Process):
    @property
    def server(self) -> uvicorn.Server:
        if self._server is None:
            self._server = ReusePortServer(config=self.config)
        return self._server

    def target(self, sockets: list[socket.socket] | None = None) -> None:
        # The supervisor stops this process with SIGTERM. Left to Python's default, a Ctrl-C
        # would raise KeyboardInterrupt here during start-up, and again when the server,
        # having stopped, hands the signal back: a traceback in the terminal either way.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        super().target(sockets)


class _Supervisor(multiprocess.Multiprocess):
    def handle_int(self) -> None:
        _quiet()
        self.should_exit.set()


def run_processes(config: uvicorn.Config) -> None:
    """Supervise `config.workers` processes until SIGINT or SIGTERM."""
    # Fail here, once, if the address is taken, rather than in every process. Bound but not
    # listening, this socket is not in the group the kernel hands connections to.
    _listener(config).close()
    # The supervisor creates its processes through this module-level name.
    multiprocess.Process = _Process  # type: ignore[misc]
    _Supervisor(config, sockets=[]).run()


def freeze_heap() -> None:
    """Exempt what start-up built (modules, models, schemas, routes: some 160,000 objects in
    an API process, living as long as it does) from garbage collection. Each full
    collection otherwise walked them all: a 70 ms stall of every request in flight."""
    gc.collect()
    gc.freeze()
