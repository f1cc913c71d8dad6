"""Several processes (and readers) using one store at once: no "database is locked", no loss."""

from __future__ import annotations

import os
import runpy
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

from orchestrate_nb.store.reporter import StoreReporter
from orchestrate_nb.store.repository import RunRepository

TESTS = Path(__file__).resolve().parents[1]
FLOWS, TASKS = 20, 25

WRITE_FLOWS = """
    import sys, time
    sys.path.insert(0, {tests!r})
    from synthetic_runs import SyntheticRuns
    from orchestrate_nb.settings import load_settings
    from orchestrate_nb.store.reporter import StoreReporter

    def write_flows(reporter, label, go):
        time.sleep(max(0.0, go - time.time()))
        runs = SyntheticRuns()
        for index in range({flows}):
            run, _, events = runs.completed_flow(label, tasks={tasks})
            for event in events:
                reporter.emit(event)
            if index % 5 == 4:
                reporter.flush()  # as a flow call returning does
            time.sleep(0.02)
        reporter.close()
        return reporter.lost_events

    if __name__ == "__main__":
        reporter = StoreReporter(load_settings(), batch_size=40, poll_interval=0.005)
        print(write_flows(reporter, sys.argv[1], float(sys.argv[2])))
"""


def test_two_processes_and_this_one_writing_at_once_lose_nothing(settings, database, tmp_path):
    script = tmp_path / "write_flows.py"
    script.write_text(textwrap.dedent(WRITE_FLOWS.format(tests=str(TESTS), flows=FLOWS,
                                                         tasks=TASKS)))
    go = time.time() + 2.0
    processes = [subprocess.Popen([sys.executable, str(script), f"proc{i}", str(go)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  env=os.environ.copy()) for i in range(2)]
    write_flows = runpy.run_path(str(script))["write_flows"]
    reads = _KeepReading(RunRepository(database))
    mine = write_flows(StoreReporter(settings, batch_size=40, poll_interval=0.005), "here", go)
    outputs = [process.communicate(timeout=120) for process in processes]
    reads.stop()

    assert [p.returncode for p in processes] == [0, 0], outputs
    assert all("locked" not in err and "rror" not in err for _, err in outputs), outputs
    assert [int(out) for out, _ in outputs] + [mine] == [0, 0, 0]
    assert reads.errors == []
    repository = RunRepository(database)
    runs = repository.list_flow_runs(limit=None)
    assert len(runs) == 3 * FLOWS
    assert {r.state_type for r in runs} == {"COMPLETED"}
    for run in runs:
        assert len(repository.list_task_runs(run.id)) == TASKS
        assert len(repository.list_logs(run.id)) == TASKS


class _KeepReading(threading.Thread):
    """A reader (the CLI, the server) polling the store while the writers write."""

    def __init__(self, repository: RunRepository) -> None:
        super().__init__(daemon=True)
        self.repository = repository
        self.errors: list[BaseException] = []
        self._stopping = threading.Event()
        self.start()

    def run(self) -> None:
        while not self._stopping.is_set():
            try:
                for run in self.repository.list_flow_runs(limit=5):
                    self.repository.list_task_runs(run.id)
            except Exception as exc:
                self.errors.append(exc)
            time.sleep(0.01)

    def stop(self) -> None:
        self._stopping.set()
        self.join()
