"""``orchestrate-nb worker start``: claim and execute a pool's runs (``deploy/worker.py``)."""

from __future__ import annotations

import argparse
from typing import Any

from orchestrate_nb.errors import OrchestrateError


def register(subparsers: Any) -> None:
    worker = subparsers.add_parser("worker", help="execute deployments' runs",
                                   description="Execute deployments' runs.")
    commands = worker.add_subparsers(dest="worker_command", metavar="COMMAND", required=True)
    start = commands.add_parser("start", help="claim and run due runs of a pool until stopped")
    start.add_argument("--pool", default="default", metavar="P", help="the pool (default)")
    start.add_argument("--limit", type=int, default=4, metavar="N",
                       help="at most N runs at once (4)")
    start.add_argument("--run-once", action="store_true",
                       help="claim the runs due now, wait for them, and exit")
    start.set_defaults(handler=start_worker)


def start_worker(args: argparse.Namespace) -> int:
    if args.limit < 1:
        raise OrchestrateError(f"--limit must be at least 1, got {args.limit}")
    from orchestrate_nb.deploy.launcher import stop, warm_up

    warm_up()  # the fork server's imports overlap the worker's own start
    from orchestrate_nb.deploy.worker import Worker
    from orchestrate_nb.store.database import open_database

    database = open_database()
    try:
        Worker(database, pool=args.pool, limit=args.limit, run_once=args.run_once).run_forever()
    finally:
        database.dispose()
        stop()  # the zygote exits with the worker, not just after it
    return 0
