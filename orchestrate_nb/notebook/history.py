"""``%flow history [N]``: this notebook's last flow runs (kernel sessions and ``%flow run``s)
from the run store, with what their task cells did."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from orchestrate_nb.notebook.explain import format_seconds

_STATE_ORDER = ("Completed", "Cached", "Failed", "TimedOut", "NotReady", "Crashed", "Running")


def history_text(flow_names: Sequence[str], limit: int) -> str:
    """A text table of the last ``limit`` flow runs of these flows, newest first."""
    from orchestrate_nb.engine.reporting import get_reporter
    from orchestrate_nb.store.repository import open_repository

    get_reporter().flush(10.0)  # this kernel's own events first
    with open_repository() as repository:
        runs = [run for name in flow_names
                for run in repository.list_flow_runs(flow_name=name, limit=limit)]
        runs = sorted(runs, key=lambda run: run.created, reverse=True)[:limit]
        counts = [Counter(t.state_name for t in repository.list_task_runs(run.id))
                  for run in runs]
    if not runs:
        return f"no runs of {' or '.join(map(repr, flow_names))} in the run store yet"
    rows: list[tuple[str, ...]] = [("started", "flow run", "state", "duration", "task runs")]
    rows += [_row(run, count) for run, count in zip(runs, counts)]
    return _table(rows)


def _row(run: Any, counts: Counter[str]) -> tuple[str, ...]:
    started = run.start_time or run.created
    duration = run.duration.total_seconds() if run.duration is not None else None
    return (started.astimezone().strftime("%Y-%m-%d %H:%M:%S"), run.name, run.state_name,
            format_seconds(duration) if duration is not None else "-", _counts(counts))


def _counts(counts: Counter[str]) -> str:
    names = sorted(counts, key=lambda n: (_STATE_ORDER.index(n) if n in _STATE_ORDER else 99, n))
    return ", ".join(f"{counts[name]} {name.lower()}" for name in names) or "-"


def _table(rows: Sequence[tuple[str, ...]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return "\n".join("  ".join(f"{cell:<{width}}" for cell, width in zip(row, widths))
                     + "  " + row[-1] for row in rows)
