"""Watching a flow run live until it ends: ``deployment run NAME --watch`` and
``runs resume ID --watch``.

It prints, as they happen, each state the run enters (``Running``, ``Paused: …``), each log
line (the lines a notebook's cells print are its log lines), and at the end one summary line:
the final state, the duration and the task runs by state. On a terminal a spinner line shows
the progress meanwhile (task runs finished and running). The exit status is 0 when the run
completed, 1 otherwise; Ctrl-C stops watching, not the run.
"""

from __future__ import annotations

import time
from contextlib import nullcontext
from typing import Any

from rich.console import Console

from orchestrate_nb.cli.format import format_duration, log_line

POLL_SECONDS = 0.25
RECOVERY_EVERY_POLLS = 40  # a run whose process died (no worker left) ends the watch


def watch_run(run_id: str, console: Console) -> int:
    from orchestrate_nb.store.batch import FINAL_STATE_TYPES
    from orchestrate_nb.store.repository import open_repository

    shown: tuple[str, str] | None = None
    last_log, polls = 0, 0
    status: Any = console.status("waiting for a worker") if console.is_terminal \
        else nullcontext()
    with open_repository() as repository, status as spinner:
        try:
            while True:
                run = repository.get_flow_run(run_id)
                if (run.state_type, run.state_name) != shown:
                    shown = (run.state_type, run.state_name)
                    message = f": {run.state_message}" if run.state_message else ""
                    console.print(f"{run.state_name}{message}", highlight=False)
                for line in repository.list_logs(run_id, after_id=last_log):
                    console.print(log_line(line))
                    last_log = line.id
                counts = repository.count_task_runs(run_id)
                if run.state_type in FINAL_STATE_TYPES:
                    console.print(summary(run, counts), highlight=False)
                    return 0 if run.state_type == "COMPLETED" else 1
                if spinner is not None:
                    spinner.update(progress(run.state_name, counts))
                polls += 1
                if polls % RECOVERY_EVERY_POLLS == 0:
                    repository.recover_crashed_runs()
                time.sleep(POLL_SECONDS)
        except KeyboardInterrupt:
            console.print(f"Stopped watching; the run goes on (orchestrate-nb runs show "
                          f"{run_id}).", highlight=False)
            return 130


UNFINISHED = ("Scheduled", "Pending", "Running", "Retrying", "AwaitingRetry", "Paused")


def progress(state_name: str, counts: dict[str, int]) -> str:
    """``counts``: task runs by state name."""
    finished = sum(n for name, n in counts.items() if name not in UNFINISHED)
    running = counts.get("Running", 0) + counts.get("Retrying", 0)
    return f"{state_name} · {finished} task run{'s' if finished != 1 else ''} finished, " \
           f"{running} running"


def summary(run: Any, counts: dict[str, int]) -> str:
    took = ""
    if run.start_time is not None and run.end_time is not None:
        took = f" in {format_duration(run.end_time - run.start_time)}"
    total = sum(counts.values())
    parts = ", ".join(f"{n} {name}" for name, n in counts.items())
    tasks = f" · {total} task run{'s' if total != 1 else ''}" + (f": {parts}" if parts else "")
    return f"{run.state_name}{took}{tasks}"
