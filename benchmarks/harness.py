"""Parent-side helpers: start measurement subprocesses, clean up after them, print tables.

Every child runs in its own temporary home (ORCHESTRATE_NB_HOME and PREFECT_HOME) and its
own process session, so whatever it starts (Prefect's ephemeral server) is stopped with it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RUNNER = HERE / "run_workload.py"
CHILD_TIMEOUT_S = 3600.0
# Variables that would point a child at a shared server or database instead of its temp home.
SCRUBBED_ENV = ("PREFECT_API_URL", "PREFECT_API_KEY", "PREFECT_PROFILES_PATH",
                "ORCHESTRATE_NB_DATABASE_URL", "ORCHESTRATE_NB_RESULTS_URL")


@dataclass(frozen=True)
class Engine:
    module: str  # what `workloads.py` imports flow/task from
    python: str  # the interpreter whose environment has that module
    label: str


class ChildFailed(RuntimeError):
    pass


def child_env(engine: Engine, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED_ENV}
    env.update(
        BENCH_ENGINE=engine.module,
        ORCHESTRATE_NB_HOME=str(home / "orchestrate_nb"),
        PREFECT_HOME=str(home / "prefect"),
        PREFECT_SERVER_EPHEMERAL_ENABLED="true",  # Prefect starts its own local server
        PREFECT_SERVER_ANALYTICS_ENABLED="false",  # keep traffic on loopback
        DO_NOT_TRACK="1",
    )
    return env


@contextmanager
def temp_home(keep: bool = False) -> Iterator[Path]:
    home = Path(tempfile.mkdtemp(prefix="bench-home-"))
    try:
        yield home
    finally:
        if not keep:
            shutil.rmtree(home, ignore_errors=True)


def stop_process_group(pgid: int) -> None:
    """Stop whatever a child left running in its session (it is the group leader)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        time.sleep(0.5)


def _tail(path: Path, lines: int = 25) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def run_child(engine: Engine, home: Path, workload: str, **options: Any) -> dict[str, Any]:
    """Run one workload in a fresh interpreter; its JSON result (raises ChildFailed)."""
    out, log = home / "result.json", home / "child.log"
    argv = [engine.python, str(RUNNER), "--workload", workload, "--out", str(out)]
    for key, value in options.items():
        argv += [f"--{key.replace('_', '-')}", str(value)]
    with log.open("w") as log_file:
        proc = subprocess.Popen(argv, env=child_env(engine, home), stdout=log_file,
                                stderr=subprocess.STDOUT, start_new_session=True, cwd=HERE)
        try:
            code = proc.wait(timeout=CHILD_TIMEOUT_S)
        finally:
            if proc.poll() is None:  # timed out
                proc.kill()
                proc.wait()
            stop_process_group(proc.pid)
    if code != 0 or not out.exists():
        raise ChildFailed(f"{engine.label} {workload} exited {code}:\n{_tail(log)}")
    return json.loads(out.read_text())


def run_children(engine: Engine, runs: int, workload: str, **options: Any) -> list[dict]:
    results = []
    for i in range(runs):
        with temp_home() as home:
            results.append(run_child(engine, home, workload, **options))
        progress(f"{engine.label} {workload} run {i + 1}/{runs} done")
    return results


# --- import time --------------------------------------------------------------------------


def _wall(argv: Sequence[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, env=env, cwd=HERE, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def import_time(engine: Engine, statement: str, runs: int) -> tuple[float, float]:
    """Median wall time of `python -c STATEMENT` and of `python -c pass`, interleaved.

    One discarded warm-up of each first, so bytecode caches exist as they would for a user.
    """
    with temp_home() as home:
        env = child_env(engine, home)
        statement_argv = [engine.python, "-c", statement]
        bare_argv = [engine.python, "-c", "pass"]
        _wall(statement_argv, env), _wall(bare_argv, env)
        pairs = [(_wall(statement_argv, env), _wall(bare_argv, env)) for _ in range(runs)]
    return statistics.median(p[0] for p in pairs), statistics.median(p[1] for p in pairs)


# --- reporting ----------------------------------------------------------------------------


def progress(message: str) -> None:
    print(f"  … {message}", file=sys.stderr, flush=True)


def median_of(results: Sequence[dict[str, Any]], key: str) -> float | None:
    values = [r[key] for r in results if r.get(key) is not None]
    return statistics.median(values) if values else None


def print_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(str(row[i])) for row in [headers, *rows]) for i in range(len(headers))]
    line = "  ".join("-" * w for w in widths)
    print("  ".join(str(h).ljust(w) for h, w in zip(headers, widths, strict=True)))
    print(line)
    for row in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))


def fmt(value: float | None, digits: int = 1, unit: str = "") -> str:
    if value is None:
        return "n/a"
    return f"{value:,.{digits}f}{unit}"


def machine_summary() -> str:
    return f"Python {sys.version.split()[0]} on {os.uname().sysname}, {os.cpu_count()} CPUs"


def load_average() -> float:
    return os.getloadavg()[0]


def print_load_note(load_at_start: float) -> None:
    """Other work on the machine skews timings; say so instead of hiding it.

    Only the load before the run is judged: at the end it includes the benchmark itself.
    """
    note = f"1-min load average before {load_at_start:.2f}, after {load_average():.2f}"
    busy = load_at_start > 0.5 * (os.cpu_count() or 1)
    print(note + (" — the machine was busy before the run: timings may be inflated"
                  if busy else ""))
