"""`serve --workers N`: N uvicorn processes, each listening on its own `SO_REUSEPORT` socket.

uvicorn's own multi-process mode hands every process one shared listening socket, and
whichever process wakes first accepts the waiting connections. Keep-alive connections then
stay where they landed: under load one process ended up far busier than the other. With a
socket each in one `SO_REUSEPORT` group, the kernel spreads new connections over the
processes by hash instead. uvicorn has no public way to give each of
its processes a socket of its own, so this module supervises the processes itself, through
uvicorn's public `Server.run(sockets=...)`: it restarts a process that dies, rolls them all
on SIGHUP, and on SIGINT or SIGTERM asks each to finish its requests and waits for them.

One API process is served the same way, from a process of its own: every API process then
starts from a fresh interpreter that sees `PROMETHEUS_MULTIPROC_DIR` before anything imports
`prometheus_client` (which fixes where its values live when imported), whatever the command
line's process imported first; and `/metrics` shows the same series for one process or many.

Ctrl-C reaches every process of the terminal's process group at once: the supervisor stops
the servers (SIGTERM), and nothing says more than the command's own last line.

`freeze_heap` is for every long-running process, API and worker alike.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import multiprocessing
import signal
import socket
import threading
from multiprocessing.process import BaseProcess
from types import FrameType

import uvicorn

_SPAWN = multiprocessing.get_context("spawn")
_POLL_SECONDS = 0.5


def _listener(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def _quiet() -> None:
    """A person pressed Ctrl-C: they want the service stopped, not a log of its stopping.
    Warnings and errors still show; SIGTERM (deployments) keeps the whole account."""
    logging.getLogger("uvicorn.error").setLevel(logging.WARNING)


class _Server(uvicorn.Server):
    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if sig == signal.SIGINT:
            _quiet()
        super().handle_exit(sig, frame)


def _serve_one(config: uvicorn.Config) -> None:
    """One API process: its own socket in the port's `SO_REUSEPORT` group."""
    # The supervisor stops this process with SIGTERM. Left to Python's default, a Ctrl-C
    # would raise KeyboardInterrupt here during start-up, and again when the server, having
    # stopped, hands the signal back: a traceback in the terminal either way.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _Server(config).run(sockets=[_listener(config.host, config.port)])


class _Supervisor:
    def __init__(self, config: uvicorn.Config) -> None:
        self.config = config
        self.processes: list[BaseProcess] = []
        self.stopping = threading.Event()
        self.rolling = threading.Event()

    def _start(self) -> BaseProcess:
        process = _SPAWN.Process(target=_serve_one, args=(self.config,), daemon=False)
        process.start()
        return process

    def _stop(self, process: BaseProcess) -> None:
        if process.is_alive():
            process.terminate()  # SIGTERM: uvicorn finishes the requests in flight
        process.join(self.config.timeout_graceful_shutdown or None)
        if process.is_alive():
            process.kill()
            process.join()

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if signum == signal.SIGHUP:
            self.rolling.set()
            return
        if signum == signal.SIGINT:
            _quiet()
        self.stopping.set()

    def run(self) -> None:
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, self._on_signal)
        self.processes = [self._start() for _ in range(self.config.workers)]
        try:
            while not self.stopping.wait(_POLL_SECONDS):
                if self.rolling.is_set():
                    self.rolling.clear()
                    for index, process in enumerate(self.processes):
                        self._stop(process)
                        self.processes[index] = self._start()
                for index, process in enumerate(self.processes):
                    if not process.is_alive():  # died: a new one takes its place
                        process.join()
                        self.processes[index] = self._start()
        finally:
            for process in self.processes:
                with contextlib.suppress(OSError):
                    if process.is_alive():
                        process.terminate()
            for process in self.processes:
                self._stop(process)


def run_processes(config: uvicorn.Config) -> None:
    """Supervise `config.workers` processes until SIGINT or SIGTERM."""
    # Fail here, once, if the address is taken, rather than in every process. Bound but not
    # listening, this socket is not in the group the kernel hands connections to.
    _listener(config.host, config.port).close()
    _Supervisor(config).run()


def freeze_heap() -> None:
    """Exempt what start-up built (modules, models, schemas, routes: objects living as long
    as the process) from garbage collection, which would otherwise walk them all on each
    full collection, stalling every request in flight."""
    gc.collect()
    gc.freeze()
