"""``orchestrate-nb runs``: list flow runs, show one, print (or follow) its logs."""

from __future__ import annotations

import argparse
import time
from typing import Any

FOLLOW_POLL_SECONDS = 0.5
RECOVERY_EVERY_POLLS = 20


def register(subparsers: Any) -> None:
    runs = subparsers.add_parser("runs", help="inspect flow runs", description="Inspect flow runs.")
    commands = runs.add_subparsers(dest="runs_command", metavar="COMMAND", required=True)

    ls = commands.add_parser("ls", help="list flow runs, newest first")
    ls.add_argument("--state", action="append", metavar="S",
                    help="only runs in this state (completed, failed, running, ...); repeatable")
    ls.add_argument("--flow", metavar="F", help="only runs of the flow named F")
    ls.add_argument("--since", metavar="DURATION",
                    help="only runs created in the last DURATION (e.g. 1d, 12h, 15m)")
    ls.add_argument("--limit", type=int, default=50, metavar="N", help="at most N runs (50)")
    ls.set_defaults(handler=list_runs)

    show = commands.add_parser("show", help="a flow run, its task runs and dependencies")
    show.add_argument("id", metavar="ID", help="flow run id, or a unique prefix of it")
    show.add_argument("--limit", type=int, default=100, metavar="N",
                      help="show the first N task runs and dependencies (100; 0 for all)")
    show.set_defaults(handler=show_run)

    logs = commands.add_parser("logs", help="the log lines of a flow run")
    logs.add_argument("id", metavar="ID", help="flow run id, or a unique prefix of it")
    logs.add_argument("-f", "--follow", action="store_true",
                      help="keep printing new lines until the run finishes")
    logs.set_defaults(handler=print_logs)

    cancel = commands.add_parser("cancel", help="cancel a flow run (its worker stops it)")
    cancel.add_argument("id", metavar="ID", help="flow run id, or a unique prefix of it")
    cancel.set_defaults(handler=cancel_run)


def cancel_run(args: argparse.Namespace) -> int:
    """A waiting run ends Cancelled at once; a started one goes Cancelling, and its worker
    kills the run's process group and ends it Cancelled."""
    import datetime as dt

    from orchestrate_nb.errors import OrchestrateError
    from orchestrate_nb.store.claims import request_cancel
    from orchestrate_nb.store.repository import open_repository

    with open_repository() as repository:
        run = repository.get_flow_run(args.id)
        with repository.database.write() as conn:
            state = request_cancel(conn, run.id, dt.datetime.now(dt.timezone.utc))
    if state is None:
        raise OrchestrateError(f"flow run {run.id} already finished ({run.state_name})")
    print(f"{run.id}: {'Cancelled' if state == 'CANCELLED' else 'Cancelling'}")
    return 0


def list_runs(args: argparse.Namespace) -> int:
    from orchestrate_nb.cli.format import (
        flow_runs_table,
        make_console,
        parse_duration,
        parse_state_types,
    )
    from orchestrate_nb.store.repository import open_repository

    states = parse_state_types(args.state)
    since = parse_duration(args.since) if args.since else None
    with open_repository() as repository:
        runs = repository.list_flow_runs(states, args.flow, since, max(args.limit, 0))
    console = make_console()
    if runs:
        console.print(flow_runs_table(runs))
    else:
        console.print("No flow runs found.")
    return 0


def show_run(args: argparse.Namespace) -> int:
    from orchestrate_nb.cli.format import (
        edges_table,
        flow_run_header,
        make_console,
        task_runs_table,
    )
    from orchestrate_nb.store.repository import open_repository

    limit = args.limit if args.limit > 0 else None
    with open_repository() as repository:
        run = repository.get_flow_run(args.id)
        task_runs = repository.list_task_runs(run.id, limit)
        counts = repository.count_task_runs(run.id)
        edges = repository.list_edges(run.id, limit)
        edge_count = repository.count_edges(run.id)
    console = make_console()
    console.print(flow_run_header(run))
    console.print()
    console.print(task_runs_table(task_runs, counts))
    console.print()
    console.print(edges_table(edges, edge_count))
    return 0


def print_logs(args: argparse.Namespace) -> int:
    from orchestrate_nb.cli.format import log_line, make_console
    from orchestrate_nb.store.batch import FINAL_STATE_TYPES
    from orchestrate_nb.store.repository import open_repository

    console = make_console()
    with open_repository() as repository:
        run_id = repository.get_flow_run(args.id).id
        last_id, polls = 0, 0
        while True:
            finished = repository.get_flow_run(run_id).state_type in FINAL_STATE_TYPES
            for line in repository.list_logs(run_id, after_id=last_id):
                console.print(log_line(line))
                last_id = line.id
            if not args.follow or finished:  # lines written before the final state are in
                if not last_id and not args.follow:
                    console.print("No log lines.")
                return 0
            polls += 1
            if polls % RECOVERY_EVERY_POLLS == 0:  # a run whose process died ends the follow
                repository.recover_crashed_runs()
            try:
                time.sleep(FOLLOW_POLL_SECONDS)
            except KeyboardInterrupt:
                return 0
