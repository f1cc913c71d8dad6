"""``orchestrate-nb deploy`` and ``orchestrate-nb deployment ls|run|pause|resume|rm``."""

from __future__ import annotations

import argparse
import datetime as dt
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.table import Table

    from orchestrate_nb.store.deployments import DeploymentInfo

UTC = dt.timezone.utc


def register(subparsers: Any) -> None:
    _register_deploy(subparsers)
    group = subparsers.add_parser("deployment", help="list, trigger, pause, resume, remove "
                                  "deployments", description="Manage deployments.")
    commands = group.add_subparsers(dest="deployment_command", metavar="COMMAND", required=True)
    commands.add_parser("ls", help="list deployments and their next run").set_defaults(
        handler=list_deployments)
    run = commands.add_parser("run", help="create a run now (a worker executes it)")
    run.add_argument("name", metavar="NAME")
    run.add_argument("-p", "--param", action="append", metavar="KEY=VALUE", dest="params",
                     help="a parameter for this run (checked like at deploy time); repeatable")
    run.add_argument("--watch", action="store_true",
                     help="follow the run live (states, log lines, task runs) until it "
                          "ends (exit 1 unless it completed)")
    run.set_defaults(handler=run_deployment)
    for command, help_text, handler in (
            ("pause", "stop scheduling runs (runs not started yet are dropped)", pause),
            ("resume", "schedule runs again, from now (paused slots are not caught up)", resume),
            ("rm", "delete a deployment (its run history is kept)", remove)):
        parser = commands.add_parser(command, help=help_text)
        parser.add_argument("name", metavar="NAME")
        parser.set_defaults(handler=handler)
    from orchestrate_nb.cli import webhooks

    webhooks.register(commands)


def _register_deploy(subparsers: Any) -> None:
    deploy = subparsers.add_parser(
        "deploy", help="deploy a notebook or a Python flow, with an optional schedule",
        description="Deploy NOTEBOOK (an .ipynb, run with papermill) or path/file.py:flow_fn. "
                    "Redeploying a name updates the deployment.")
    deploy.add_argument("target", metavar="NOTEBOOK|FILE.py:FLOW")
    deploy.add_argument("--name", required=True, metavar="N")
    schedule = deploy.add_mutually_exclusive_group()
    schedule.add_argument("--cron", metavar="E", help="a cron expression, e.g. '0 2 * * *'")
    schedule.add_argument("--interval", metavar="S", help="seconds (or 15m, 1h, 1d)")
    schedule.add_argument("--rrule", metavar="R", help="an iCalendar RRULE")
    deploy.add_argument("--timezone", default="UTC", metavar="TZ",
                        help="the schedule's IANA timezone (UTC)")
    deploy.add_argument("-p", "--param", action="append", metavar="KEY=VALUE", dest="params",
                        help="a default parameter of its runs; repeatable")
    deploy.add_argument("--pool", default="default", metavar="P")
    deploy.add_argument("--retries", type=int, default=0, metavar="N")
    deploy.add_argument("--retry-delay", type=float, default=0, metavar="S")
    deploy.add_argument("--timeout", type=float, default=None, metavar="S")
    deploy.add_argument("--tag", action="append", metavar="T", dest="tags")
    deploy.add_argument("--catchup", default="latest", choices=("latest", "all", "none"),
                        help="missed slots: run the latest once (default), all, or none")
    deploy.add_argument("--paused", action="store_true", help="deploy without scheduling yet")
    deploy.add_argument("--cache", default="refresh", metavar="MODE",
                        help="refresh (default): runs compute afresh and store their results; "
                             "reuse: runs may read results cached by others (e.g. by an "
                             "interactive session)")
    deploy.add_argument("--kernel", metavar="NAME",
                        help="the Jupyter kernel of a notebook's runs (default: the one its "
                             "metadata names, else python3)")
    deploy.add_argument("--cwd", metavar="DIR",
                        help="the working directory of a notebook's runs (default: the "
                             "notebook's folder)")
    deploy.set_defaults(handler=deploy_target)


def deploy_target(args: argparse.Namespace) -> int:
    from orchestrate_nb.cli.format import make_console
    from orchestrate_nb.deploy.deployments import deploy_flow, deploy_notebook
    from orchestrate_nb.deploy.parameters import parse_key_values
    from orchestrate_nb.errors import DeploymentError

    options: dict[str, Any] = {"cache": args.cache}
    if ".py:" in args.target:
        deploy: Any = deploy_flow
        if args.kernel or args.cwd:
            raise DeploymentError("--kernel and --cwd are options of notebook deployments")
    else:
        deploy = deploy_notebook
        options.update(kernel=args.kernel, cwd=args.cwd)
    info = deploy(args.target, args.name, cron=args.cron, interval=_interval(args.interval),
                  rrule=args.rrule, timezone=args.timezone,
                  parameters=parse_key_values(args.params), pool=args.pool,
                  retries=args.retries, retry_delay_seconds=args.retry_delay,
                  timeout_seconds=args.timeout, tags=args.tags, catchup=args.catchup,
                  paused=args.paused, **options)
    when = (f"no schedule; start a run with orchestrate-nb deployment run {info.name}"
            if info.schedule_kind is None else
            f"{_schedule_words(info)}; next run {_next_run(info, None)}")
    make_console().print(f"Deployed {info.kind} {info.entrypoint} as {info.name!r}: {when}.")
    return 0


def _interval(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        from orchestrate_nb.cli.format import parse_duration

        return parse_duration(text).total_seconds()


def list_deployments(args: argparse.Namespace) -> int:
    from orchestrate_nb.cli.format import make_console
    from orchestrate_nb.store import deployments as store

    with _database() as database, store.read(database) as conn:
        found = store.list_deployments(conn)
    console = make_console()
    if not found:
        console.print("No deployments. Create one with: orchestrate-nb deploy NOTEBOOK --name N")
        return 0
    console.print(_table(found))
    return 0


def run_deployment(args: argparse.Namespace) -> int:
    from orchestrate_nb.cli.format import make_console
    from orchestrate_nb.deploy.deployments import trigger_deployment
    from orchestrate_nb.deploy.parameters import parse_key_values

    run_id = trigger_deployment(args.name, parse_key_values(args.params))
    console = make_console()
    console.print(f"Created run {run_id} of {args.name!r}, scheduled for now: "
                  "waiting for a worker to execute it.")
    if not args.watch:
        return 0
    from orchestrate_nb.cli.watch import watch_run

    return watch_run(run_id, console)


def pause(args: argparse.Namespace) -> int:
    return _set_paused(args.name, True)


def resume(args: argparse.Namespace) -> int:
    return _set_paused(args.name, False)


def _set_paused(name: str, paused: bool) -> int:
    from orchestrate_nb.cli.format import make_console
    from orchestrate_nb.store import deployments as store

    with _database() as database, store.write(database) as conn:
        changed = store.set_paused(conn, name, paused, dt.datetime.now(UTC))
    verb = "Paused" if paused else "Resumed"
    make_console().print(f"{verb} deployment {name!r}." if changed else
                         f"Deployment {name!r} was already {verb.lower()}.")
    return 0


def remove(args: argparse.Namespace) -> int:
    from orchestrate_nb.cli.format import make_console
    from orchestrate_nb.deploy.deployments import remove_deployment

    dropped = remove_deployment(args.name)
    extra = f" ({dropped} run(s) not started yet dropped)" if dropped else ""
    make_console().print(f"Removed deployment {args.name!r}{extra}; its run history is kept.")
    return 0


# -- showing -----------------------------------------------------------------------------
def _database() -> Any:
    from orchestrate_nb.deploy.deployments import open_store

    return open_store()


def _schedule_words(info: DeploymentInfo) -> str:
    from orchestrate_nb.deploy.deployments import schedule_of
    from orchestrate_nb.errors import DeploymentError

    try:
        schedule = schedule_of(info)
    except DeploymentError as exc:  # stored by an older version, or its zone is gone
        return str(exc)
    return schedule.describe() if schedule else "no schedule (run on demand)"


def _next_run(info: DeploymentInfo, scheduled: dt.datetime | None) -> str:
    """The pre-created next run's time, else the schedule's next slot, in its timezone;
    a note for a schedule that cannot fire (an older version stored it): never a crash."""
    from orchestrate_nb.core.schedules import require_next_slot
    from orchestrate_nb.deploy.deployments import schedule_of
    from orchestrate_nb.errors import DeploymentError

    try:
        schedule = schedule_of(info)
        if info.paused or schedule is None:
            return "—" if scheduled is None else _local(scheduled, info.timezone)
        if scheduled is None:
            after = max(info.last_slot or info.created, dt.datetime.now(UTC))
            scheduled = require_next_slot(schedule, after)
        return _local(scheduled, info.timezone)
    except DeploymentError:
        return "never: this schedule cannot fire (redeploy or rm it)"


def _local(moment: dt.datetime, timezone: str) -> str:
    from orchestrate_nb.core.schedules import zone

    return moment.astimezone(zone(timezone)).strftime("%Y-%m-%d %H:%M %Z")


def _table(found: list[tuple[DeploymentInfo, dt.datetime | None]]) -> Table:
    from rich.table import Table

    table = Table(title=f"{len(found)} deployment{'s' if len(found) != 1 else ''}",
                  title_justify="left", header_style="bold")
    for column in ("NAME", "FLOW", "KIND", "SCHEDULE", "NEXT RUN", "PAUSED", "POOL", "CACHE"):
        table.add_column(column)
    for info, scheduled in found:
        table.add_row(info.name, _what_runs(info), info.kind, _schedule_words(info),
                      _next_run(info, scheduled), "yes" if info.paused else "no", info.pool,
                      info.cache)
    return table


def _what_runs(info: DeploymentInfo) -> str:
    """The notebook's file name, ``file.py:fn``, or (pickled by value) the flow's name."""
    from pathlib import Path

    if info.kind == "notebook":
        return Path(info.entrypoint).name
    if info.kind == "python":
        file, _, function = info.entrypoint.rpartition(":")
        return f"{Path(file).name}:{function}"
    return info.flow_name
