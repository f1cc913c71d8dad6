"""``orchestrate-nb worker start``: claim and execute a pool's runs (``deploy/worker.py``);
``orchestrate-nb worker ls``: the workers in the store, alive or not, and the runs they hold.

The worker says what it does: a start line (pool, limit, database with any password
masked), then a line per run it claims and per run that ends (name, state, duration, and
on failure the exception's first line and where the run's log is): rich on a terminal,
plain timestamped lines when its output goes to a file. With ``--run-once`` it exits 1
when a run did not complete, naming the run and its log.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from orchestrate_nb.errors import OrchestrateError

if TYPE_CHECKING:
    from orchestrate_nb.deploy.worker import EndedRun

WORKER_LOGGER = "orchestrate_nb.worker"


def register(subparsers: Any) -> None:
    worker = subparsers.add_parser("worker", help="execute deployments' runs",
                                   description="Execute deployments' runs.")
    commands = worker.add_subparsers(dest="worker_command", metavar="COMMAND", required=True)
    start = commands.add_parser("start", help="claim and run due runs of a pool until stopped")
    start.add_argument("--pool", default="default", metavar="P", help="the pool (default)")
    start.add_argument("--limit", type=int, default=4, metavar="N",
                       help="at most N runs at once (4)")
    start.add_argument("--run-once", action="store_true",
                       help="claim the runs due now, wait for them, and exit (1 if one of "
                            "them did not complete)")
    start.set_defaults(handler=start_worker)
    ls = commands.add_parser("ls", help="list workers: alive or not, pool, runs they hold")
    ls.add_argument("--alive", action="store_true", help="only workers that are running")
    ls.set_defaults(handler=list_workers)


def list_workers(args: argparse.Namespace) -> int:
    """Workers registered in the store (stopped ones are kept for a week)."""
    from rich.table import Table

    from orchestrate_nb.cli.format import format_time, make_console
    from orchestrate_nb.deploy.deployments import open_store
    from orchestrate_nb.store.deployments import read
    from orchestrate_nb.store.workers import list_workers as read_workers

    with open_store() as database, read(database) as conn:
        found = read_workers(conn)
    if args.alive:
        found = [w for w in found if w.alive]
    console = make_console()
    if not found:
        console.print("No workers" + (" running." if args.alive else " have started yet "
                                      "(orchestrate-nb worker start)."))
        return 0
    table = Table(title=f"{len(found)} worker{'s' if len(found) != 1 else ''}",
                  title_justify="left", header_style="bold")
    for column in ("ID", "POOL", "ALIVE", "STARTED", "LAST HEARTBEAT", "RUNS"):
        table.add_column(column)
    for w in found:
        alive = "yes" if w.alive else ("stopped" if w.stopped else "no (gone)")
        runs = ", ".join(run_id[:8] for run_id in w.runs) or "—"
        table.add_row(w.id, w.pool, alive, format_time(w.started), format_time(w.heartbeat),
                      runs)
    console.print(table)
    return 0


def start_worker(args: argparse.Namespace) -> int:
    if args.limit < 1:
        raise OrchestrateError(f"--limit must be at least 1, got {args.limit}")
    from orchestrate_nb.deploy.launcher import stop, warm_up

    warm_up()  # the fork server's imports overlap the worker's own start
    from orchestrate_nb.deploy.kernels import check_pool_kernels
    from orchestrate_nb.deploy.worker import Worker
    from orchestrate_nb.store.database import open_database

    database = open_database()
    try:
        check_pool_kernels(database, args.pool)
        worker = Worker(database, pool=args.pool, limit=args.limit, run_once=args.run_once)
        with _worker_lines() as say:
            say.info("worker started: pool %r, up to %d run%s at once, database %s",
                     args.pool, args.limit, "s" if args.limit != 1 else "",
                     database.display_url)
            worker.run_forever()
    finally:
        database.dispose()
        stop()  # the zygote exits with the worker, not just after it
    return _run_once_outcome(worker.ended) if args.run_once else 0


def _run_once_outcome(ended: list[EndedRun]) -> int:
    failed = [run for run in ended if run.state_type != "COMPLETED"]
    if not failed:
        return 0
    more = f" (and {len(failed) - 1} more run(s) that did not complete)" if len(failed) > 1 else ""
    raise OrchestrateError(f"{failed[0].describe()}; its log: {failed[0].log}{more}")


@contextmanager
def _worker_lines() -> Iterator[logging.Logger]:
    """The worker's lines on stdout while it runs: rich on a terminal, plain timestamped
    lines in a file or a pipe."""
    from orchestrate_nb.cli.format import _isatty, make_console

    handler: logging.Handler
    if _isatty(sys.stdout):
        from rich.highlighter import NullHighlighter
        from rich.logging import RichHandler

        handler = RichHandler(console=make_console(), show_path=False, markup=False,
                              highlighter=NullHighlighter())  # (run names are not numbers)
    else:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger = logging.getLogger(WORKER_LOGGER)
    level, propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        yield logger
    finally:
        handler.flush()
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate
