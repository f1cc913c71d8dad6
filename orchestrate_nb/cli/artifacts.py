"""``orchestrate-nb artifact``: list artifacts, show one key's latest version and history."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console, RenderableType

    from orchestrate_nb.store.artifacts import ArtifactInfo

SHOWN_TABLE_ROWS = 50


def register(subparsers: Any) -> None:
    group = subparsers.add_parser(
        "artifact", help="list and show artifacts (reports, tables, links made by runs)",
        description="Artifacts made by create_markdown_artifact, create_table_artifact, ... "
                    "A key keeps a history: ls shows each key's latest version.")
    commands = group.add_subparsers(dest="artifact_command", metavar="COMMAND", required=True)
    ls = commands.add_parser("ls", help="each key's latest version, and unkeyed artifacts")
    ls.add_argument("--run", metavar="ID", help="only those of this flow run (id or prefix)")
    ls.add_argument("--limit", metavar="N", default="50", help="at most N (default 50)")
    ls.set_defaults(handler=list_artifacts)
    show = commands.add_parser("show", help="a key's latest version and its history")
    show.add_argument("key", metavar="KEY", help="an artifact key (or an artifact id)")
    show.set_defaults(handler=show_artifact)


def list_artifacts(args: argparse.Namespace) -> int:
    from orchestrate_nb.cli.format import make_console, parse_count
    from orchestrate_nb.store.artifacts import list_artifacts as query
    from orchestrate_nb.store.handles import shared_database

    limit = parse_count(args.limit, "--limit", "artifacts")
    database = shared_database()
    run_id = None
    if args.run:
        from orchestrate_nb.store.repository import RunRepository

        run_id = RunRepository(database).get_flow_run(args.run).id
    found = query(database, flow_run_id=run_id, latest_only=run_id is None, limit=limit)
    console = make_console()
    if not found:
        console.print("No artifacts. Runs make them with orchestrate_nb.artifacts."
                      "create_markdown_artifact(...) and the other create_* functions.")
        return 0
    console.print(artifacts_table(found))
    return 0


def show_artifact(args: argparse.Namespace) -> int:
    from orchestrate_nb.cli.format import format_time, make_console
    from orchestrate_nb.store.artifacts import artifact_history, get_artifact
    from orchestrate_nb.store.handles import shared_database

    database = shared_database()
    artifact = get_artifact(database, args.key)
    console = make_console()
    print_artifact(console, artifact)
    if artifact.key:
        history = artifact_history(database, artifact.key, limit=20)
        if len(history) > 1:
            console.print()
            console.print(f"History of {artifact.key} ({len(history)} version(s), newest "
                          "first):")
            for version in history:
                console.print(f"  {format_time(version.created)}  {version.id[:8]}  "
                              f"{summary(version)}")
    return 0


def print_artifact(console: Console, artifact: ArtifactInfo) -> None:
    from orchestrate_nb.cli.format import format_time

    title = artifact.key or artifact.id
    run = f", run {artifact.flow_run_id[:8]}" if artifact.flow_run_id else ", standalone"
    task = f", task run {artifact.task_run_id[:8]}" if artifact.task_run_id else ""
    console.print(f"[bold]{title}[/bold] ({artifact.type}{run}{task}, "
                  f"{format_time(artifact.created)})", markup=True)
    if artifact.description:
        console.print(artifact.description, markup=False)
    console.print(render(artifact))


def render(artifact: ArtifactInfo) -> RenderableType:
    from rich.markdown import Markdown
    from rich.table import Table
    from rich.text import Text

    data = artifact.data
    if artifact.type == "markdown":
        return Markdown(str(data))
    if artifact.type == "table" and isinstance(data, dict):
        table = Table(header_style="bold")
        for column in data.get("columns", []):
            table.add_column(str(column))
        rows = data.get("rows", [])
        for row in rows[:SHOWN_TABLE_ROWS]:
            table.add_row(*["" if v is None else str(v) for v in row])
        if len(rows) > SHOWN_TABLE_ROWS:
            table.caption = f"{SHOWN_TABLE_ROWS} of {len(rows)} rows shown"
        return table
    return Text(summary(artifact))


def summary(artifact: ArtifactInfo) -> str:
    """One line about an artifact's content."""
    from orchestrate_nb.store.artifacts import describe

    return describe(artifact.type, artifact.data)


def artifacts_table(artifacts: Sequence[ArtifactInfo]) -> Any:
    from rich.table import Table

    from orchestrate_nb.cli.format import format_time

    table = Table(title=f"{len(artifacts)} artifact(s)", title_justify="left",
                  header_style="bold")
    for column in ("KEY", "TYPE", "CONTENT", "RUN", "CREATED", "DESCRIPTION"):
        table.add_column(column)
    for artifact in artifacts:
        table.add_row(artifact.key or artifact.id[:8], artifact.type, summary(artifact),
                      (artifact.flow_run_id or "—")[:8], format_time(artifact.created),
                      artifact.description or "")
    return table
