"""``designspace storage serve URL``: Optuna's gRPC storage proxy in front of a study database.

Every study worker holds its own database connections (a pool per process); a few hundred
workers exhaust PostgreSQL's ``max_connections`` (100 by default) and each connection costs the
server memory.  One proxy holds a few connections and serves any number of workers over gRPC:
start it next to the database, and give the workers ``--storage grpc://HOST:PORT``.  Below about
100 workers, point them at the database directly.
"""
from __future__ import annotations

import argparse
import sys

from designspace.errors import UsageError

_SERVE = "serve a study database to many workers through Optuna's gRPC storage proxy"


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION")
    s = sub.add_parser("serve", help=_SERVE, description=_SERVE[0].upper() + _SERVE[1:] + " (workers: --storage grpc://HOST:PORT).")
    g = s.add_argument_group("messages")
    g.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS, help="show debug messages")
    g.add_argument("-q", "--quiet", action="count", default=argparse.SUPPRESS, help="only warnings and errors")
    s.add_argument("url", help="the database to serve: an RDB URL (postgresql://USER@HOST/DB, sqlite:///PATH, ...)")
    s.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    s.add_argument("--port", default="13000", help="port to listen on (default 13000)")
    s.add_argument("--storage-retry", default="120",
                   help="seconds an unreachable database is waited out before a request fails (default 120)")


def run(args: argparse.Namespace) -> int:
    if getattr(args, "action", None) != "serve":
        raise UsageError("choose an action: serve")
    from designspace.errors import require
    from designspace.search.study.storage import serve_storage
    from designspace.search.study.urls import is_url, mask

    port = _int("--port", args.port, 1, 65535)
    retry = _int("--storage-retry", args.storage_retry, 0, 7 * 24 * 3600)
    if not is_url(args.url) or args.url.startswith("grpc://"):
        raise UsageError(mask(f"url={args.url!r} is not a database URL (postgresql://..., sqlite:///...); Optuna's "
                              "proxy serves RDB storages, not journal files"))
    require("grpc", extra="grpc", what="designspace storage serve", package="grpcio")
    import optuna

    _check_port(args.host, port)
    storage = serve_storage(args.url, retry)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"designspace storage: warning: listening on {args.host} without authentication: anyone who can "
              "reach this port can read and write the studies", file=sys.stderr)
    print(mask(f"designspace storage: serving {args.url} at grpc://{args.host}:{port} (Ctrl-C stops)"), flush=True)
    import warnings

    import optuna

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        try:
            optuna.storages.run_grpc_proxy_server(optuna.storages.get_storage(storage), host=args.host, port=port)
        except KeyboardInterrupt:
            print("designspace storage: stopped", file=sys.stderr)
    return 0


def _check_port(host: str, port: int) -> None:
    """Refuse a port that is taken (before a database connection is made)."""
    import socket

    try:
        with socket.create_server((host, port)):
            pass
    except OSError as e:
        raise UsageError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None


def _int(flag: str, text: str, lo: int, hi: int) -> int:
    try:
        v = int(str(text).strip())
    except ValueError:
        raise UsageError(f"{flag}={text!r} is not an integer") from None
    if not lo <= v <= hi:
        raise UsageError(f"{flag}={v} must be in [{lo}, {hi}]")
    return v
