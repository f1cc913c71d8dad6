"""``orchestrate-nb db``: schema upgrades and pruning old run history."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from orchestrate_nb.store.repository import RunRepository
    from orchestrate_nb.store.views import PruneSummary


def register(subparsers: Any) -> None:
    db = subparsers.add_parser("db", help="manage the run store database",
                               description="Manage the run store database.")
    commands = db.add_subparsers(dest="db_command", metavar="COMMAND", required=True)

    upgrade = commands.add_parser("upgrade", help="apply pending schema migrations")
    upgrade.set_defaults(handler=upgrade_database)

    prune = commands.add_parser("prune", help="delete finished runs older than a duration")
    prune.add_argument("--older-than", required=True, metavar="DURATION",
                       help="delete runs created longer ago than this (e.g. 30d, 12h)")
    prune.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    prune.add_argument("--dry-run", action="store_true", help="only say what would be deleted")
    prune.set_defaults(handler=prune_runs)


def upgrade_database(args: argparse.Namespace) -> int:
    from orchestrate_nb.cli.format import make_console
    from orchestrate_nb.store.repository import upgrade_store

    before, after, url = upgrade_store()
    console = make_console()
    if before == after:
        console.print(f"Run store at {url} is up to date (schema revision {after}).")
    else:
        console.print(f"Upgraded run store at {url} from {before or 'empty'} to revision {after}.")
    return 0


def prune_runs(args: argparse.Namespace) -> int:
    from rich.prompt import Confirm

    from orchestrate_nb.cli.format import format_time, make_console, parse_duration
    from orchestrate_nb.store.repository import open_repository

    older_than = parse_duration(args.older_than)
    console = make_console()
    with open_repository() as repository:
        found = repository.count_prunable(older_than)
        console.print(f"{found.flow_runs} flow run(s) and {found.task_runs} task run(s) "
                      f"finished and created before {format_time(found.cutoff)}.")
        if not (found.flow_runs or found.task_runs) or args.dry_run:
            return 0
        if not args.yes and sys.stdin.isatty() and not Confirm.ask("Delete them?"):
            console.print("Nothing deleted.")
            return 1
        if console.is_terminal:
            done = _prune_with_progress(repository, older_than)
        else:
            done = repository.prune(older_than)
        console.print(f"Pruned {done.flow_runs} flow run(s), {done.task_runs} task run(s) and "
                      f"{done.log_lines} log line(s) older than {args.older_than}.")
        _reclaim_space(repository, console)
    return 0


def _reclaim_space(repository: RunRepository, console: Console) -> None:
    """Shrink the SQLite file by what the prune freed (PostgreSQL reuses the space)."""
    from orchestrate_nb.errors import StoreError
    from orchestrate_nb.store.maintenance import reclaim_space

    try:
        with console.status("Reclaiming disk space (VACUUM)…"):
            freed = reclaim_space(repository.database)
    except StoreError as exc:  # the prune itself is done; new runs will reuse the space
        console.print(f"Disk space not reclaimed now: {exc}")
        return
    if freed is not None:
        console.print(f"Freed {_megabytes(freed)} of disk space.")


def _megabytes(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size >= 100_000 else f"{size / 1e3:.0f} kB"


def _prune_with_progress(repository: RunRepository, older_than: dt.timedelta) -> PruneSummary:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    columns = (TextColumn("Pruning runs"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, transient=True) as progress:
        task = progress.add_task("prune", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        return repository.prune(older_than, progress=advance)
