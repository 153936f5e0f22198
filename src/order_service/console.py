"""The `order-service` command. Nothing but the standard library is imported before the `try`:
a Ctrl-C that comes while the CLI is still loading (about a second) is handled like a later
one."""

from __future__ import annotations

import sys

RUN_UNTIL_STOPPED = ("serve", "worker")


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    stoppable = bool(args) and args[0] in RUN_UNTIL_STOPPED
    try:
        from order_service import cli

        cli.main(args)
    except KeyboardInterrupt:
        # Ctrl-C is how a person stops `serve` and `worker`: no traceback, and success, so
        # that `make run` adds nothing. A one-off command was interrupted.
        if not stoppable:
            print("order-service: interrupted", file=sys.stderr)
            sys.exit(130)
    if stoppable:
        print("order-service stopped", flush=True)
