"""``designspace dashboard STUDY.toml``: optuna-dashboard for a study, on 127.0.0.1 by default.

Our trial attributes (spec JSON, spec id, flops, params, acts, per-epoch errors, device) are
Optuna user attributes, so the dashboard shows them with each trial.  The server binds to the
loopback address unless ``--host`` says otherwise: a study's storage is not something to publish
by accident.  ``--port 0`` picks a free port; the URL is printed once the server listens.
"""
from __future__ import annotations

import argparse
import os
import sys

from designspace.errors import UsageError, require


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("spec", help="study spec TOML file")
    p.add_argument("--storage", default=None,
                   help="Optuna storage URL or journal file (default: $DESIGNSPACE_STORAGE, else <spec>.db)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8080, help="port (default 8080; 0 picks a free one)")


def run(args: argparse.Namespace) -> int:
    from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

    from designspace.search.study import StudySpecError, load_study, mask
    from designspace.search.study.storage import storage_of

    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port={args.port} must be in [0, 65535]")
    optuna_dashboard = require("optuna_dashboard", extra="dashboard", what="designspace dashboard",
                               package="optuna-dashboard")
    storage = args.storage or os.environ.get("DESIGNSPACE_STORAGE") or None
    try:
        study, spec, url = load_study(args.spec, storage)
    except (StudySpecError, FileNotFoundError) as e:
        raise UsageError(mask(str(e))) from None

    class _Quiet(WSGIRequestHandler):
        def log_message(self, *a: object) -> None:  # no per-request lines on the terminal
            pass

    class _Server(WSGIServer):
        allow_reuse_address = True
        daemon_threads = True

    try:
        httpd = make_server(args.host, args.port, optuna_dashboard.wsgi(storage_of(study)),
                            server_class=_Server, handler_class=_Quiet)
    except OSError as e:
        raise UsageError(f"cannot listen on {args.host}:{args.port}: {e.strerror or e}") from None
    host, port = httpd.server_address[:2]
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"designspace dashboard: warning: listening on {args.host}: anyone who can reach this machine "
              "can read the study", file=sys.stderr)
    print(mask(f"designspace dashboard: study {spec.name} ({url}) at http://{host}:{port}/dashboard "
               "(Ctrl-C stops)"), flush=True)
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        print("designspace dashboard: stopped", file=sys.stderr)
    finally:
        httpd.server_close()
    return 0
