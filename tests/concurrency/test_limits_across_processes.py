"""Tag limits hold across processes, and a process that dies gives its slots back."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

TAGGED_FLOW = """
    import sys, time
    from orchestrate_nb import flow, task
    from orchestrate_nb.task_runners import ThreadPoolTaskRunner

    record, label, go, tasks, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3]), \\
        int(sys.argv[4]), float(sys.argv[5])

    @task(tags=["db", "etl"])
    def query_db(index):
        start = time.time()
        with open(record, "a") as out:
            out.write(f"start {{label}} {{index}} {{start}}\\n")
            out.flush()
            time.sleep(seconds)
            out.write(f"end {{label}} {{index}} {{time.time()}}\\n")

    @flow(task_runner=ThreadPoolTaskRunner(max_workers=tasks))
    def load():
        for future in query_db.map(range(tasks)):
            future.result()

    time.sleep(max(0.0, go - time.time()))
    load()
"""


def start_flow(tmp_path: Path, record: Path, label: str, go: float, tasks: int,
               seconds: float) -> subprocess.Popen[str]:
    script = tmp_path / "tagged_flow.py"
    script.write_text(textwrap.dedent(TAGGED_FLOW.format()))
    return subprocess.Popen(
        [sys.executable, str(script), str(record), label, str(go), str(tasks), str(seconds)],
        text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=os.environ.copy())


def intervals(record: Path) -> dict[tuple[str, str], list[float]]:
    spans: dict[tuple[str, str], list[float]] = {}
    for line in record.read_text().splitlines():
        kind, label, index, moment = line.split()
        spans.setdefault((label, index), [0.0, 0.0])[kind == "end"] = float(moment)
    return spans


def most_at_once(spans: dict[tuple[str, str], list[float]]) -> int:
    # An end sorts before a start at the same instant: touching runs do not overlap.
    moments = sorted([(start, 1) for start, _ in spans.values()]
                     + [(end, -1) for _, end in spans.values()])
    running = peak = 0
    for _, change in moments:
        running += change
        peak = max(peak, running)
    return peak


def wait_for_text(path: Path, text: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text():
            return
        time.sleep(0.05)
    raise AssertionError(f"{text!r} never appeared in {path}")


def test_a_limit_of_two_holds_across_two_processes_running_tagged_tasks(tmp_path, limits):
    limits.create("db", 2)
    record = tmp_path / "runs.txt"
    go = time.time() + 1.5  # both processes start their flows at the same moment
    processes = [start_flow(tmp_path, record, label, go, tasks=4, seconds=0.2)
                 for label in ("first", "second")]
    outputs = [process.communicate(timeout=60) for process in processes]

    assert [p.returncode for p in processes] == [0, 0], outputs
    spans = intervals(record)
    assert len(spans) == 8 and all(end > start for start, end in spans.values())
    assert most_at_once(spans) == 2
    assert {label for label, _ in spans} == {"first", "second"}
    assert limits.active("db") == 0


def test_a_process_killed_while_holding_a_slot_gives_it_back_to_a_waiting_process(
        tmp_path, limits):
    limits.create("db", 1)
    holder_record, waiter_record = tmp_path / "holder.txt", tmp_path / "waiter.txt"
    holder = start_flow(tmp_path, holder_record, "holder", 0, tasks=1, seconds=120)
    wait_for_text(holder_record, "start", timeout=30)
    waiter = start_flow(tmp_path, waiter_record, "waiter", 0, tasks=1, seconds=0)
    time.sleep(1.5)  # long enough to import, open the store and find the slot taken
    assert not waiter_record.exists()

    holder.send_signal(signal.SIGKILL)
    killed_at = time.monotonic()
    _, waiter_log = waiter.communicate(timeout=30)

    assert waiter.returncode == 0, waiter_log
    assert "end waiter" in waiter_record.read_text()
    assert time.monotonic() - killed_at < 10
    assert "waiting for a concurrency slot on tag 'db' (limit 1)" in waiter_log
    holder.communicate(timeout=10)
