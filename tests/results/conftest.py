"""Cache tests: a private home per test (results under it), no run database, and the run
events and warnings a user would see."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from orchestrate_nb.core.events import LogEmitted, StateChanged, TaskRunCreated
from orchestrate_nb.engine import reporting
from orchestrate_nb.engine.reporting import ListReporter

REPO = Path(__file__).resolve().parents[2]


class Recorded(ListReporter):
    def task_runs(self, name_prefix: str = "") -> list[TaskRunCreated]:
        return [t for t in self.of_type(TaskRunCreated) if t.name.startswith(name_prefix)]

    def states_of(self, run_id: str) -> list[str]:
        return [e.state_name for e in self.of_type(StateChanged) if e.run_id == run_id]

    def final_change(self, run_id: str) -> StateChanged:
        return [e for e in self.of_type(StateChanged) if e.run_id == run_id][-1]

    def log_lines(self) -> list[str]:
        return [e.message for e in self.of_type(LogEmitted)]


@pytest.fixture
def home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """ORCHESTRATE_NB_HOME in a temporary folder; the run store is off."""
    monkeypatch.setenv("ORCHESTRATE_NB_HOME", str(tmp_path))
    monkeypatch.setenv("ORCHESTRATE_NB_STORE", "0")
    monkeypatch.delenv("ORCHESTRATE_NB_RESULTS_URL", raising=False)
    reporting.flush_and_close_store()
    yield tmp_path
    reporting.flush_and_close_store()


@pytest.fixture
def events(home: Path) -> Iterator[Recorded]:
    recorded = Recorded()
    reporting.subscribe(recorded)
    yield recorded
    reporting.unsubscribe(recorded)


@pytest.fixture
def results_dir(home: Path) -> Path:
    return home / "results"


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture
def results_warnings() -> Iterator[list[str]]:
    """Warnings of the ``orchestrate_nb.results`` logger, as they are logged."""
    logger = logging.getLogger("orchestrate_nb.results")
    handler = _Collect()
    logger.addHandler(handler)
    yield handler.messages
    logger.removeHandler(handler)


def _entries(results_dir: Path) -> list[Path]:
    if not results_dir.exists():
        return []
    return sorted(p for p in results_dir.rglob("*") if p.is_file() and not p.name.startswith("."))


@pytest.fixture
def entries() -> Callable[[Path], list[Path]]:
    """Cache entries on disk under a folder (temporary files excluded)."""
    return _entries


def _run_python(code: str, home: Path, extra_path: Path | None = None,
                env: dict[str, str] | None = None) -> str:
    environment = {**os.environ, "ORCHESTRATE_NB_HOME": str(home), "ORCHESTRATE_NB_STORE": "0",
                   "PYTHONPATH": os.pathsep.join(
                       str(p) for p in (extra_path, REPO) if p is not None)}
    environment.update(env or {})
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=environment,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def run_python() -> Callable[..., str]:
    """Run code in a fresh interpreter sharing a home: ``run_python(code, home)``; stdout."""
    return _run_python
