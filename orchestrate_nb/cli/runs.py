"""``orchestrate-nb runs``: list flow runs, show one, print (or follow) its logs, cancel
one, resume a paused one."""

from __future__ import annotations

import argparse
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from orchestrate_nb.store.pauses import PauseInfo

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
    _add_limit(ls, 50, "runs")
    ls.set_defaults(handler=list_runs)

    show = commands.add_parser("show", help="a flow run, its task runs and dependencies")
    show.add_argument("id", metavar="ID", help="flow run id, or a unique prefix of it")
    _add_limit(show, 100, "task runs and dependencies")
    show.set_defaults(handler=show_run)

    logs = commands.add_parser("logs", help="the log lines of a flow run")
    logs.add_argument("id", metavar="ID", help="flow run id, or a unique prefix of it")
    logs.add_argument("-f", "--follow", action="store_true",
                      help="keep printing new lines until the run finishes")
    logs.set_defaults(handler=print_logs)

    export = commands.add_parser(
        "export", help="copy a notebook run's executed notebook where JupyterLab opens it",
        description="Copy the executed notebook of a notebook deployment run (with its "
                    "outputs) to DEST: a folder, or a path ending in .ipynb.")
    export.add_argument("id", metavar="ID", help="flow run id, or a unique prefix of it")
    export.add_argument("dest", metavar="DEST", help="an existing folder, or a .ipynb path")
    export.add_argument("--force", action="store_true", help="replace an existing file")
    export.set_defaults(handler=export_run)

    cancel = commands.add_parser("cancel", help="cancel a flow run (its worker stops it)")
    cancel.add_argument("id", metavar="ID", help="flow run id, or a unique prefix of it")
    cancel.set_defaults(handler=cancel_run)

    resume = commands.add_parser(
        "resume", help="resume a flow run paused by pause_flow_run()",
        description="Resume a flow run paused by pause_flow_run(). A run that waits for "
                    "input gets it from -p and --input, checked against the input's fields "
                    "first: a missing, unknown or mistyped field is refused and the run "
                    "stays paused.")
    resume.add_argument("id", metavar="ID", help="flow run id, or a unique prefix of it")
    resume.add_argument("-p", "--param", action="append", metavar="KEY=VALUE", dest="params",
                        help="an input field, converted by its type (n=3, ok=true, "
                             "ids=[1,2]); repeatable")
    resume.add_argument("--input", metavar="JSON",
                        help="the input as a JSON object (-p fields are added to it)")
    resume.add_argument("--watch", action="store_true",
                        help="then follow the run live (states, log lines) until it ends")
    resume.set_defaults(handler=resume_run)


def _add_limit(parser: Any, default: int, what: str) -> None:
    """``--limit N`` (checked by ``_limit``, so a mistake is one line) or ``--all``."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--limit", default=str(default), metavar="N",
                       help=f"show the first N {what} ({default})")
    group.add_argument("--all", action="store_true", help=f"show all {what}")


def _limit(args: argparse.Namespace) -> int | None:
    from orchestrate_nb.cli.format import parse_count

    return None if args.all else parse_count(args.limit, "--limit", "rows")


def resume_run(args: argparse.Namespace) -> int:
    """PAUSED → RUNNING ("Resumed") with the checked input; the paused process goes on."""
    from orchestrate_nb.core.run_input import input_from_key_values
    from orchestrate_nb.deploy.parameters import parse_key_values
    from orchestrate_nb.errors import ResumeError
    from orchestrate_nb.store.pauses import read_pause_info, resume_flow_run

    pairs = parse_key_values(args.params)
    given = _json_object(args.input)
    info = read_pause_info(args.id)
    if info.state_type != "PAUSED":
        raise ResumeError(f"flow run {info.id} is not paused (it is {info.state_name})")
    given.update(input_from_key_values(info.input_schema, pairs))
    run_id = resume_flow_run(info.id, given if args.input is not None or pairs else None)
    print(f"{run_id}: Resumed", flush=True)
    if not args.watch:
        return 0
    from orchestrate_nb.cli.format import make_console
    from orchestrate_nb.cli.watch import watch_run

    return watch_run(run_id, make_console())


def _json_object(text: str | None) -> dict[str, Any]:
    import json

    from orchestrate_nb.errors import ResumeError

    if text is None:
        return {}
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise ResumeError(f"--input is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ResumeError('--input must be a JSON object, like \'{"approved": true}\'')
    return value


def export_run(args: argparse.Namespace) -> int:
    """Copy the executed notebook; refused (nothing written) when the run has none, when
    DEST's folder is missing, or when the file exists and ``--force`` is not given."""
    import shutil

    from orchestrate_nb.cli.export import executed_notebook_of, export_target
    from orchestrate_nb.store.repository import open_repository

    with open_repository() as repository:
        run = repository.get_flow_run(args.id)
    source = executed_notebook_of(run)
    target = export_target(run, args.dest, args.force)
    shutil.copyfile(source, target)
    print(f"Exported the executed notebook of flow run {run.name} ({run.id[:8]}) to {target}")
    return 0


def cancel_run(args: argparse.Namespace) -> int:
    """A waiting run ends Cancelled at once; a started deployment run goes Cancelling, and
    its worker kills the run's process group and ends it Cancelled; a paused run (in any
    process) goes Cancelling and its flow ends Cancelled. A run started by hand (a script,
    a notebook) is refused: no process here can stop it."""
    import datetime as dt

    from orchestrate_nb.errors import OrchestrateError
    from orchestrate_nb.store.claims import request_cancel
    from orchestrate_nb.store.repository import open_repository

    with open_repository() as repository:
        run = repository.get_flow_run(args.id)
        if run.deployment_id is None and run.state_type in ("PENDING", "RUNNING"):
            raise OrchestrateError(
                f"flow run {run.id} was not started by a worker, so nothing here can stop "
                f"it: interrupt it where it runs (Ctrl-C, or interrupt the kernel); only "
                f"deployment runs and paused runs are cancelled from the command line")
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
    limit = _limit(args)
    with open_repository() as repository:
        runs = repository.list_flow_runs(states, args.flow, since, limit)
    console = make_console()
    if runs:
        console.print(flow_runs_table(runs))
    else:
        console.print("No flow runs found.")
    return 0


def show_run(args: argparse.Namespace) -> int:
    from orchestrate_nb.cli.format import (
        flow_run_header,
        make_console,
        print_edges,
        print_task_runs,
        state_history_lines,
    )
    from orchestrate_nb.store.alerts import list_deliveries
    from orchestrate_nb.store.artifacts import list_artifacts
    from orchestrate_nb.store.pauses import load_pause_info
    from orchestrate_nb.store.repository import open_repository

    limit = _limit(args)
    with open_repository() as repository:
        run = repository.get_flow_run(args.id)
        task_runs = repository.list_task_runs(run.id, limit)
        counts = repository.count_task_runs(run.id)
        edges = repository.list_edges(run.id, limit)
        edge_count = repository.count_edges(run.id)
        states = repository.state_history(run.id)
        paused = load_pause_info(repository.database, run.id)
        artifacts = list_artifacts(repository.database, flow_run_id=run.id, limit=limit)
        deliveries = list_deliveries(repository.database, flow_run_id=run.id)
    console = make_console()
    console.print(flow_run_header(run))
    for line in _pause_lines(paused):
        console.print(line)
    console.print()
    console.print(state_history_lines(states))
    console.print()
    print_task_runs(console, task_runs, counts)
    console.print()
    print_edges(console, edges, edge_count)
    print_run_extras(console, artifacts, deliveries)
    return 0


def print_run_extras(console: Any, artifacts: list[Any], deliveries: list[Any]) -> None:
    """The run's artifacts (each rendered) and the alerts sent about it."""
    from orchestrate_nb.cli.artifacts import print_artifact

    if artifacts:
        console.print()
        console.print(f"Artifacts ({len(artifacts)}):")
        for artifact in reversed(artifacts):  # in the order they were made
            print_artifact(console, artifact)
    if deliveries:
        console.print()
        console.print("Alerts:")
        for d in deliveries:
            console.print(f"  {d.status} → {d.target} ({d.event}, {d.attempts} attempt(s))"
                          + (f": {d.last_error}" if d.last_error and d.status != "sent"
                             else ""), markup=False)


def _pause_lines(info: PauseInfo | None) -> list[str]:
    """How to resume a paused run (and the input it waits for), or what it was resumed with."""
    import json

    from orchestrate_nb.cli.format import format_time
    from orchestrate_nb.core.run_input import describe_fields, resume_command

    if info is None:
        return []
    if info.state_type == "PAUSED":
        lines = [f"Resume with: {resume_command(info.id, info.input_schema)}"]
        if info.input_schema is not None:
            lines.append(f"Waiting for: {describe_fields(info.input_schema)}")
        if info.expires is not None:
            lines.append(f"Times out:   {format_time(info.expires)}")
        return lines
    if info.resume_input:
        return [f"Resumed with: {json.dumps(info.resume_input, default=str)}"]
    return []


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
