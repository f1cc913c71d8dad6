"""``orchestrate-nb alert``: create, list (with recent deliveries), test and remove alerts."""

from __future__ import annotations

import argparse
from typing import Any

DELIVERIES_SHOWN = 5


def register(subparsers: Any) -> None:
    group = subparsers.add_parser(
        "alert", help="notify a block when runs fail, crash, are cancelled or late",
        description="Alerts are sent by workers (deployment runs, crashes, late runs, "
                    "freshness) and by the process that ran a flow (other runs).")
    commands = group.add_subparsers(dest="alert_command", metavar="COMMAND", required=True)
    create = commands.add_parser("create", help="create an alert")
    create.add_argument("name", metavar="NAME")
    create.add_argument("--on", metavar="EVENTS", default="",
                        help="comma-separated: failed, crashed, cancelled, late, completed")
    scope = create.add_mutually_exclusive_group()
    scope.add_argument("--deployment", metavar="D", help="only runs of this deployment")
    scope.add_argument("--flow", metavar="F", help="only runs of this flow")
    scope.add_argument("--tag", metavar="T", help="only runs with this tag")
    create.add_argument("--no-success-for", metavar="DURATION", dest="no_success_for",
                        help="also fire when a deployment has had no Completed run for "
                             "this long (e.g. 26h)")
    create.add_argument("--notify", metavar="BLOCK", action="append", default=[],
                        help="a notification block to send to (repeat for several)")
    create.add_argument("--overwrite", action="store_true", help="replace an existing alert")
    create.set_defaults(handler=create_alert)
    ls = commands.add_parser("ls", help="list alerts and their recent deliveries")
    ls.set_defaults(handler=list_alerts)
    rm = commands.add_parser("rm", help="remove an alert")
    rm.add_argument("name", metavar="NAME")
    rm.set_defaults(handler=remove_alert)
    test = commands.add_parser("test", help="send a test message to the alert's blocks now")
    test.add_argument("name", metavar="NAME")
    test.set_defaults(handler=test_alert)


def create_alert(args: argparse.Namespace) -> int:
    from orchestrate_nb.alerts import create_alert as create

    alert = create(args.name, args.on, notify=args.notify, deployment=args.deployment,
                   flow=args.flow, tag=args.tag, no_success_for=args.no_success_for,
                   overwrite=args.overwrite)
    print(f"Created alert {alert.name}: {describe(alert)}")
    return 0


def describe(alert: Any) -> str:
    parts = []
    if alert.events:
        parts.append(f"on {', '.join(alert.events)}")
    if alert.no_success_for_seconds:
        parts.append(f"no success for {_span(alert.no_success_for_seconds)}")
    scope = next((f"{label} {value}" for label, value in (
        ("deployment", alert.deployment), ("flow", alert.flow), ("tag", alert.tag))
        if value is not None), "every run")
    return f"{' or '.join(parts)} of {scope} → {', '.join(alert.notify)}"


def _span(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"


def list_alerts(args: argparse.Namespace) -> int:
    from orchestrate_nb.alerts.rules import list_alerts as query
    from orchestrate_nb.cli.format import format_time, make_console
    from orchestrate_nb.store.alerts import list_deliveries
    from orchestrate_nb.store.handles import shared_database

    database = shared_database()
    alerts = query(database)
    console = make_console()
    if not alerts:
        console.print("No alerts. Create one with: orchestrate-nb alert create NAME "
                      "--on failed --notify BLOCK")
        return 0
    for alert in alerts:
        console.print(f"[bold]{alert.name}[/bold]: {describe(alert)}", markup=True,
                      highlight=False)
        deliveries = list_deliveries(database, alert.id, limit=DELIVERIES_SHOWN)
        if not deliveries:
            console.print("  no deliveries yet")
        for d in deliveries:
            about = d.flow_run_id[:8] if d.flow_run_id else d.subject.split("@")[0][:12]
            error = f" — {d.last_error}" if d.last_error and d.status != "sent" else ""
            console.print(f"  {format_time(d.updated)}  {d.status:<8} {d.event:<10} "
                          f"{about:<12} → {d.target} ({d.attempts} attempt(s)){error}",
                          markup=False)
    return 0


def remove_alert(args: argparse.Namespace) -> int:
    from orchestrate_nb.alerts import delete_alert

    delete_alert(args.name)
    print(f"Removed alert {args.name}")
    return 0


def test_alert(args: argparse.Namespace) -> int:
    from orchestrate_nb.alerts import test_alert as test

    failed = 0
    for outcome in test(args.name):
        if outcome.status == "sent":
            print(f"Sent a test message to {outcome.target}")
        else:
            failed += 1
            print(f"Could not notify {outcome.target}: {outcome.error}")
    return 1 if failed else 0
