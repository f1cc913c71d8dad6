"""Parsing and showing what the CLI's commands share: durations, states, tables, log lines.

Imports rich at module level: only command handlers import this module, never the parser.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Iterable, Sequence

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from orchestrate_nb.core.states import StateType
from orchestrate_nb.errors import OrchestrateError
from orchestrate_nb.store.views import EdgeInfo, FlowRunInfo, LogInfo, StateInfo, TaskRunInfo


class InvalidArgument(OrchestrateError, ValueError):
    """A command-line value that cannot be understood (a duration, a state name)."""


PIPE_WIDTH = 120
# Past these, a value is a typo, not a wish: a timestamp that far back does not exist, and
# the database's integers (32-bit on PostgreSQL) cannot hold the count.
MAX_DURATION = dt.timedelta(days=36_500)
MAX_COUNT = 2**31 - 1
RICH_ROWS = 1_000
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
STATE_STYLES = {
    "COMPLETED": "green", "FAILED": "red", "CRASHED": "bold red", "CANCELLED": "magenta",
    "CANCELLING": "magenta", "RUNNING": "blue", "PENDING": "grey62", "SCHEDULED": "yellow",
    "PAUSED": "yellow",
}


def parse_duration(text: str) -> dt.timedelta:
    """``30d``, ``12h``, ``15m``, ``90s``, ``2w``, or combined: ``1h30m``."""
    compact = text.strip().lower().replace(" ", "")
    parts = _DURATION_PART.findall(compact)
    if not parts or "".join(number + unit for number, unit in parts) != compact:
        raise InvalidArgument(
            f"invalid duration {text!r}: use a number and a unit, like 30d, 12h, 15m or 90s")
    seconds = sum(float(n) * _DURATION_UNITS[u] for n, u in parts)
    if seconds > MAX_DURATION.total_seconds():
        raise InvalidArgument(f"invalid duration {text!r}: at most {MAX_DURATION.days}d")
    return dt.timedelta(seconds=seconds)


def parse_count(text: str, what: str, unit: str, maximum: int = MAX_COUNT) -> int:
    """A whole number of ``unit`` from 1 to ``maximum``; ``what`` names it (``--limit``)."""
    try:
        count = int(text.strip())
    except ValueError:
        count = 0
    if count < 1:
        raise InvalidArgument(f"invalid {what} {text!r}: give a whole number of {unit}, "
                              f"at least 1")
    if count > maximum:
        raise InvalidArgument(f"invalid {what} {text!r}: at most {maximum:,} {unit}")
    return count


def parse_state_types(values: Iterable[str] | None) -> list[str]:
    """State type names, case-insensitive, repeated or comma-separated."""
    known = [state.value for state in StateType]
    chosen = [v.strip().upper() for value in values or () for v in value.split(",") if v.strip()]
    for state in chosen:
        if state not in known:
            raise InvalidArgument(
                f"unknown state {state.lower()!r}; choose from {', '.join(known).lower()}")
    return chosen


def format_duration(value: dt.timedelta | None) -> str:
    if value is None:
        return "—"
    seconds = value.total_seconds()
    if seconds < 60:
        return f"{seconds:.2f}s" if seconds < 10 else f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours:02d}h"


def format_time(value: dt.datetime | None, time_only: bool = False) -> str:
    """A timestamp in the local time zone, to the second (or the time of day only)."""
    if value is None:
        return "—"
    return value.astimezone().strftime("%H:%M:%S" if time_only else "%Y-%m-%d %H:%M:%S")


def state_text(state_type: str, state_name: str) -> Text:
    return Text(state_name, style=STATE_STYLES.get(state_type, ""))


def short_id(run_id: str) -> str:
    return run_id[:8]


def make_console(stderr: bool = False) -> Console:
    # Resolved at each call so that redirected streams (tests, pipes) are honoured.
    # Messages and log lines are not wrapped (they stay greppable); tables fit the width.
    # Not on a terminal (a pipe, a notebook's `!orchestrate-nb ...`) and no COLUMNS given,
    # rich would assume 80 columns and truncate names: allow a notebook's width instead.
    console = Console(stderr=stderr, highlight=False, soft_wrap=True)
    if not _isatty(console.file) and not os.environ.get("COLUMNS"):
        console.width = PIPE_WIDTH
    return console


def _isatty(stream: object) -> bool:
    # (not ``console.is_terminal``: Jupyter sets FORCE_COLOR, which rich takes for a terminal)
    try:
        return bool(stream.isatty())  # type: ignore[attr-defined]
    except (AttributeError, ValueError, OSError):
        return False


def flow_runs_table(runs: Sequence[FlowRunInfo]) -> Table:
    table = Table(title=f"{len(runs)} flow run{'s' if len(runs) != 1 else ''}",
                  title_justify="left", header_style="bold")
    for column in ("ID", "FLOW", "NAME", "STATE", "CREATED", "DURATION", "MESSAGE"):
        table.add_column(column, no_wrap=column in ("ID", "STATE", "CREATED"))
    for run in runs:
        table.add_row(short_id(run.id), run.flow_name, run.name,
                      state_text(run.state_type, run.state_name), format_time(run.created),
                      format_duration(run.duration), _failure_line(run))
    return table


def _failure_line(run: FlowRunInfo) -> str:
    """Why a run failed or crashed (its message's first line); nothing for other states."""
    if run.state_type not in ("FAILED", "CRASHED") or not run.state_message:
        return ""
    lines = run.state_message.strip().splitlines()
    return lines[0] if lines else ""


def flow_run_header(run: FlowRunInfo) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    state = state_text(run.state_type, run.state_name)
    if run.state_message:
        state.append(f"  {run.state_message}", style="")
    rows: list[tuple[str, str | Text]] = [
        ("Flow run", f"{run.name}  ({run.id})"), ("Flow", run.flow_name), ("State", state),
        ("Created", format_time(run.created)), ("Started", format_time(run.start_time)),
        ("Ended", format_time(run.end_time)), ("Duration", format_duration(run.duration)),
    ]
    if run.parameters:
        rows.append(("Parameters", json.dumps(run.parameters, default=str)))
    if run.tags:
        rows.append(("Tags", ", ".join(run.tags)))
    if run.parent_flow_run_id:
        rows.append(("Parent run", run.parent_flow_run_id))
    if run.owner_host:
        rows.append(("Process", f"pid {run.owner_pid} on {run.owner_host}"))
    if run.executed_notebook:
        # the command on a row of its own: a long path must not wrap it mid-way
        rows += [("Notebook", run.executed_notebook),
                 ("", f"orchestrate-nb runs export {short_id(run.id)} DEST copies it")]
    for label, value in rows:
        grid.add_row(label, value)
    return grid


def state_history_lines(states: Sequence[StateInfo]) -> Group:
    """The flow run's own states, oldest first: ``12:00:01  Paused  waiting; resume with: ...``."""
    lines = [Text("States", style="bold")]
    for state in states:
        if state.task_run_id is not None:
            continue
        line = Text(f"  {format_time(state.timestamp, time_only=True)}  ", style="grey50")
        line.append_text(state_text(state.type, state.name))
        if state.message:
            line.append(f"  {state.message}")
        lines.append(line)
    return Group(*lines)


def _more(shown: int, total: int, what: str) -> list[Text]:
    if shown >= total:
        return []
    return [Text(f"… and {total - shown:,} more {what} (--all shows all)", style="grey50")]


def _task_runs_summary(counts: dict[str, int]) -> Text:
    total = sum(counts.values())
    summary = Text(f"{total:,} task run{'s' if total != 1 else ''}", style="bold")
    if counts:
        summary.append(": " + ", ".join(f"{n:,} {name}" for name, n in counts.items()), style="")
    return summary


_TASK_COLUMNS = ("NAME", "STATE", "DURATION", "RETRIES", "STARTED", "MESSAGE")


def _task_row(task: TaskRunInfo) -> tuple[str, ...]:
    return (task.name, task.state_name, format_duration(task.duration), str(task.retries),
            format_time(task.start_time, time_only=True), task.state_message or "")


def task_runs_table(task_runs: Sequence[TaskRunInfo], counts: dict[str, int]) -> Group:
    """``counts``: every task run of the flow run by state name (``task_runs`` may be fewer)."""
    summary = _task_runs_summary(counts)
    if not task_runs:
        return Group(summary)
    table = Table(header_style="bold")
    for column in _TASK_COLUMNS:
        table.add_column(column, no_wrap=column != "MESSAGE",
                         overflow="fold" if column == "MESSAGE" else "ellipsis",
                         ratio=1 if column == "MESSAGE" else None,
                         justify="right" if column in ("DURATION", "RETRIES") else "left")
    for task in task_runs:
        row = _task_row(task)
        table.add_row(row[0], state_text(task.state_type, task.state_name), *row[2:])
    return Group(summary, table, *_more(len(task_runs), sum(counts.values()), "task runs"))


def print_task_runs(console: Console, task_runs: Sequence[TaskRunInfo],
                    counts: dict[str, int]) -> None:
    """A rich table, or plain aligned columns past ``RICH_ROWS`` rows (``--all`` of a run
    of 100,000 task runs: rich's layout would take over a minute, these take a second)."""
    if len(task_runs) <= RICH_ROWS:
        console.print(task_runs_table(task_runs, counts))
        return
    console.print(_task_runs_summary(counts))
    rows = [_TASK_COLUMNS, *(_task_row(task) for task in task_runs)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(_TASK_COLUMNS) - 1)]
    _write_lines(console, (_aligned(row, widths) for row in rows))


def _aligned(row: tuple[str, ...], widths: list[int]) -> str:
    cells = "  ".join(cell.ljust(width) for cell, width in zip(row, widths))
    return f"{cells}  {row[-1]}".rstrip()


def print_edges(console: Console, edges: Sequence[EdgeInfo], total: int) -> None:
    if len(edges) <= RICH_ROWS:
        console.print(edges_table(edges, total))
        return
    console.print(Text(f"{total:,} dependenc{'ies' if total != 1 else 'y'}", style="bold"))
    _write_lines(console, (f"  {_edge_end(e.upstream_name, e.upstream_task_run_id)} → "
                           f"{_edge_end(e.downstream_name, e.downstream_task_run_id)} "
                           f"({e.input_name})" for e in edges))


def _edge_end(name: str | None, task_run_id: str) -> str:
    return name or short_id(task_run_id)


def _write_lines(console: Console, lines: Iterable[str], chunk: int = 5_000) -> None:
    batch: list[str] = []
    for line in lines:
        batch.append(line)
        if len(batch) == chunk:
            console.file.write("\n".join(batch) + "\n")
            batch.clear()
    if batch:
        console.file.write("\n".join(batch) + "\n")


def edges_table(edges: Sequence[EdgeInfo], total: int) -> Group:
    """One line per dependency: ``upstream → downstream (input)``."""
    title = Text(f"{total:,} dependenc{'ies' if total != 1 else 'y'}", style="bold")
    lines = [
        Text.assemble(
            "  ", _edge_end(edge.upstream_name, edge.upstream_task_run_id), (" → ", "grey50"),
            _edge_end(edge.downstream_name, edge.downstream_task_run_id),
            (f" ({edge.input_name})", "grey50"))
        for edge in edges
    ]
    return Group(title, *lines, *_more(len(edges), total, "dependencies"))


_LEVEL_STYLES = {"DEBUG": "grey50", "INFO": "", "WARNING": "yellow", "ERROR": "red",
                 "CRITICAL": "bold red"}


def log_line(line: LogInfo) -> Text:
    import logging

    level = logging.getLevelName(line.level)
    text = Text(line.timestamp.astimezone().strftime("%H:%M:%S.%f")[:-3], style="grey50")
    text.append(f" {level:<8} ", style=_LEVEL_STYLES.get(level, ""))
    text.append(f"{line.task_run_name or 'flow'} | ", style="cyan")
    text.append(line.message)
    return text
