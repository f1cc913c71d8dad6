"""Figures for ``%%task`` cells, each beside its baseline measured in the same run.

    python benchmarks/bench_notebook.py [--runs 5] [--quick] [--ipyflow PYTHON]

1. ``%%task`` overhead on a trivial cell (``x = 1``) over plain IPython running the same
   cell, target <= 2 ms. Measured three ways, for a cache hit, a run that stores its result
   (``--refresh``) and ``--no-cache``:
   - in-process: an ``InteractiveShell`` in this process (``shell.run_cell``);
   - in a real kernel, kernel side: a cell of the kernel times ``get_ipython().run_cell``
     (ipykernel's display publisher and streams, no client round trip);
   - in a real kernel, through a client: nbclient executes a notebook of such cells; the
     time of a cell is its execute_input -> execute_reply span (kernel timestamps).
   With ``--ipyflow PYTHON`` (an interpreter with ipyflow installed), the last measurement
   is repeated on ipyflow's kernel, side by side.
2. A cache hit restoring a 100 MB pandas DataFrame (the whole ``%%task`` cell, in-process)
   against a bare ``pickle.load`` of the same frame from a file (protocol 5, page cache
   warm), target <= 1.3x.
3. "Restart & Run All" of a notebook whose task cells sleep 10 s in total: the summed cell
   time of an execution in a fresh kernel once the cache is filled, against the first
   execution, target <= 1 s.

Each figure is the median of ``--runs`` runs; each part runs in a fresh interpreter, in a
temporary ORCHESTRATE_NB_HOME, with the run store on as a user's kernel has it (the overhead
also with it off). Timing starts once the run store is open: a kernel's first ``%%task``
cell opens it on the writer thread (migration check, crash recovery), which overlaps the
next few hundred milliseconds once per kernel.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import gc
import io
import json
import os
import pickle
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

TRIVIAL = {"plain IPython": "x = 1",
           "%%task, cache hit": "%%task trivial\nx = 1",
           "%%task, runs and stores (--refresh)": "%%task trivial_refresh --refresh\nx = 1",
           "%%task --no-cache": "%%task trivial_uncached --no-cache\nx = 1"}
FRAME_CELL = ("%%task frame\nframe = pd.DataFrame(np.random.default_rng(0).random("
              "(ROWS, 4)), columns=list('abcd'))")
SLEEP_CELLS = 5


# -- helpers -----------------------------------------------------------------------------

def median_of(runs: int, measure: Callable[[], float]) -> float:
    return statistics.median(measure() for _ in range(runs))


@contextlib.contextmanager
def temp_home() -> Iterator[Path]:
    home = Path(tempfile.mkdtemp(prefix="bench-notebook-"))
    saved = os.environ.get("ORCHESTRATE_NB_HOME")
    os.environ["ORCHESTRATE_NB_HOME"] = str(home / "home")
    try:
        yield home
    finally:
        if saved is None:
            os.environ.pop("ORCHESTRATE_NB_HOME", None)
        else:
            os.environ["ORCHESTRATE_NB_HOME"] = saved
        shutil.rmtree(home, ignore_errors=True)


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """The shell prints badges and tables: keep them off the report."""
    saved = sys.stdout
    sys.stdout = io.StringIO()
    try:
        yield
    finally:
        sys.stdout = saved


def row(label: str, value: str, note: str = "") -> None:
    print(f"  {label:<44} {value:>12}  {note}")


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.3f} ms"


# -- 1. overhead ---------------------------------------------------------------------------

def in_process_shell() -> Any:
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    with quiet():
        shell.run_cell("%load_ext orchestrate_nb")
    return shell


def store_ready() -> None:
    """The first event opens the run store on its writer thread (migrations, crash
    recovery: once per process, in the background); measure after that."""
    from orchestrate_nb.engine.reporting import get_reporter

    get_reporter().flush()


def per_cell(run_cell: Callable[[str], Any], cell: str, n: int) -> float:
    run_cell(cell)  # warm: the first run of a %%task cell misses and fills the cache
    store_ready()
    started = time.perf_counter()
    for _ in range(n):
        run_cell(cell)
    return (time.perf_counter() - started) / n


def overhead_in_process(runs: int, n: int) -> dict[str, float]:
    shell = in_process_shell()
    with quiet():
        return {label: median_of(runs, lambda c=cell: per_cell(shell.run_cell, c, n))
                for label, cell in TRIVIAL.items()}


KERNEL_TIMER = """
import json, statistics, time
from orchestrate_nb.engine.reporting import get_reporter
def _per_cell(cell, n):
    get_ipython().run_cell(cell)
    get_reporter().flush()  # the run store opens once, in the background: let it
    started = time.perf_counter()
    for _ in range(n):
        get_ipython().run_cell(cell)
    return (time.perf_counter() - started) / n
_cells = json.loads({cells!r})
_result = {{label: statistics.median(_per_cell(cell, {n}) for _ in range({runs}))
           for label, cell in _cells.items()}}
print("RESULT" + json.dumps(_result))
"""


def overhead_kernel_side(runs: int, n: int, work: Path) -> dict[str, float]:
    source = KERNEL_TIMER.format(cells=json.dumps(TRIVIAL), n=n, runs=runs)
    notebook = execute([["%load_ext orchestrate_nb"], [source]], work)
    text = "".join(o.get("text", "") for o in notebook.cells[1].outputs
                   if o.output_type == "stream" and o.name == "stdout")
    return json.loads(text[text.rindex("RESULT") + len("RESULT"):].splitlines()[0])


def overhead_through_client(runs: int, n: int, work: Path, kernel: str = "python3",
                            cells: dict[str, str] | None = None, pause: float = 0.0
                            ) -> dict[str, float]:
    """Median cell span; ``pause`` > 0 puts a ``time.sleep`` cell between measured cells
    (a person's pace: background work such as the run store's writer is done between)."""
    result = {}
    setup = ["%load_ext orchestrate_nb"] if kernel == "python3" else []
    ready = [["from orchestrate_nb.engine.reporting import get_reporter\n"
              "get_reporter().flush()"]] if kernel == "python3" else []
    gap = [[f"import time; time.sleep({pause})"]] if pause else []
    for label, cell in (cells or TRIVIAL).items():
        def measure(cell: str = cell) -> float:
            body = [c for _ in range(n) for c in (*gap, [cell])]
            notebook = execute([setup, [cell], *ready, *body], work, kernel)
            measured = [c for c in notebook.cells[2 + len(ready):] if c.source == cell]
            return statistics.median(cell_seconds(c) for c in measured)
        result[label] = median_of(runs, measure)
    return result


def execute(cells: list[list[str]], work: Path, kernel: str = "python3") -> Any:
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell("\n".join(c)) for c in cells])
    NotebookClient(notebook, timeout=600, kernel_name=kernel,
                   resources={"metadata": {"path": str(work)}}).execute()
    return notebook


def cell_seconds(cell: Any) -> float:
    timing = cell.metadata.get("execution", {})
    start = dt.datetime.fromisoformat(timing["iopub.execute_input"].replace("Z", "+00:00"))
    end = dt.datetime.fromisoformat(timing["shell.execute_reply"].replace("Z", "+00:00"))
    return (end - start).total_seconds()


def report_overhead(title: str, figures: dict[str, float]) -> None:
    print(f"\n{title}")
    base = figures["plain IPython"]
    for label, seconds in figures.items():
        note = "" if label == "plain IPython" else \
            f"overhead {ms(seconds - base)}  (target <= 2 ms)"
        row(label, ms(seconds), note)


# -- 2. restoring a large frame ------------------------------------------------------------

def frame_restore(runs: int, rows: int, home: Path) -> tuple[float, float, int]:
    shell = in_process_shell()
    cell = FRAME_CELL.replace("ROWS", str(rows))
    with quiet():
        shell.run_cell("import numpy as np\nimport pandas as pd")
        shell.run_cell(cell)  # the miss: computes and stores the frame
    frame = shell.user_ns["frame"]
    size = int(frame.memory_usage(index=True).sum())
    path = home / "frame.pickle"
    with open(path, "wb") as f:
        pickle.dump(frame, f, protocol=5)
    del frame

    def hit() -> float:
        with quiet():
            shell.run_cell("del frame")  # frees the previous frame outside the timing,
            gc.collect()  # as the baseline frees its own after it
            started = time.perf_counter()
            shell.run_cell(cell)
            return time.perf_counter() - started

    def bare_load() -> float:
        gc.collect()
        started = time.perf_counter()
        with open(path, "rb") as f:
            loaded = pickle.load(f)
        elapsed = time.perf_counter() - started
        del loaded
        return elapsed

    bare_load()  # page cache warm for both
    hit()
    return median_of(runs, hit), median_of(runs, bare_load), size


# -- 3. restart & run all --------------------------------------------------------------------

def sleepy_notebook(seconds_each: float) -> list[list[str]]:
    cells = [["%load_ext orchestrate_nb"]]
    for i in range(SLEEP_CELLS):
        source = f"import time\ntime.sleep({seconds_each})\n"
        upstream = f" + step{i - 1}" if i else ""
        cells.append([f"%%task step{i}\n{source}step{i} = {i}{upstream}"])
    return cells


def restart_and_run_all(runs: int, seconds_each: float, work: Path) -> tuple[float, float]:
    def cells_time(notebook: Any) -> float:
        return sum(cell_seconds(c) for c in notebook.cells)

    cells = sleepy_notebook(seconds_each)
    first = cells_time(execute(cells, work))  # fills the cache
    again = median_of(runs, lambda: cells_time(execute(cells, work)))
    return first, again


# -- main ------------------------------------------------------------------------------------

PARTS = ("overhead", "frame", "restart")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="2 runs, small workloads")
    parser.add_argument("--only", choices=PARTS, help="run one part, in this process")
    parser.add_argument("--store", choices=["on", "off"], default="on",
                        help="record runs in the run store (kernels and this process)")
    parser.add_argument("--ipyflow", metavar="PYTHON",
                        help="an interpreter with ipyflow installed: compare its kernel")
    args = parser.parse_args()
    if args.only is None:
        print(f"bench_notebook: median of {2 if args.quick else args.runs} runs; "
              f"Python {sys.version.split()[0]}; each part in a fresh interpreter")
        for part, store in [("overhead", "off"), ("overhead", "on"), ("frame", "on"),
                            ("restart", "on")]:
            run_part(part, store, args)
        return
    os.environ["ORCHESTRATE_NB_STORE"] = "1" if args.store == "on" else "0"
    runs = 2 if args.quick else args.runs
    if args.only == "overhead":
        bench_overhead(runs, args.quick, args.store, args.ipyflow)
    elif args.only == "frame":
        bench_frame(runs, args.quick)
    else:
        bench_restart(runs, args.quick)


def run_part(part: str, store: str, args: argparse.Namespace) -> None:
    command = [sys.executable, __file__, "--only", part, "--store", store,
               "--runs", str(args.runs)]
    command += ["--quick"] if args.quick else []
    if part == "overhead" and store == "on" and args.ipyflow:
        command += ["--ipyflow", args.ipyflow]
    sys.stdout.flush()
    subprocess.run(command, check=True)


def bench_overhead(runs: int, quick: bool, store: str, ipyflow: str | None) -> None:
    n, client_n = (20, 10) if quick else (200, 30)
    what = f"run store {store}"
    with temp_home() as home:
        report_overhead(f"1a. trivial cell, in-process InteractiveShell, {what} "
                        f"({n} cells per run)", overhead_in_process(runs, n))
        report_overhead(f"1b. trivial cell, real kernel, kernel side, {what} "
                        f"({n} cells per run)", overhead_kernel_side(runs, n, home))
        report_overhead(f"1c. trivial cell, real kernel, through nbclient, {what}, "
                        f"back to back (median cell of {client_n})",
                        overhead_through_client(runs, client_n, home))
        if store == "on":
            report_overhead(f"1d. trivial cell, real kernel, through nbclient, {what}, "
                            f"0.3 s between cells (median cell of {client_n // 3})",
                            overhead_through_client(runs, client_n // 3, home, pause=0.3))
        if ipyflow:
            report_ipyflow(ipyflow, runs, client_n, home)


def bench_frame(runs: int, quick: bool) -> None:
    with temp_home() as home:
        hit, bare, size = frame_restore(runs, 100_000 if quick else 3_276_800, home)
    print(f"\n2. cache hit restoring a {size / 1e6:.0f} MB DataFrame (in-process)")
    row("bare pickle.load (protocol 5, warm)", ms(bare))
    row("%%task cell, cache hit (whole cell)", ms(hit), f"{hit / bare:.2f}x  (target <= 1.3x)")


def bench_restart(runs: int, quick: bool) -> None:
    seconds_each = (0.2 if quick else 10.0) / SLEEP_CELLS
    with temp_home() as home:
        first, again = restart_and_run_all(runs, seconds_each, home)
    print(f"\n3. Restart & Run All, {SLEEP_CELLS} task cells sleeping "
          f"{seconds_each * SLEEP_CELLS:g} s in total (summed cell time, real kernel)")
    row("first execution", f"{first:.3f} s")
    row("fresh kernel, cache filled", f"{again:.3f} s", "(target <= 1 s)")


def report_ipyflow(python: str, runs: int, n: int, home: Path) -> None:
    """ipyflow's kernel (run by ``python``) vs plain ipykernel, both through nbclient."""
    spec = home / "kernels" / "kernels" / "ipyflow-bench"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [python, "-m", "ipyflow.kernel", "-f", "{connection_file}"],
        "display_name": "ipyflow (benchmark)", "language": "python"}))
    os.environ["JUPYTER_PATH"] = os.pathsep.join(
        [str(home / "kernels"), os.environ.get("JUPYTER_PATH", "")])
    figures = overhead_through_client(runs, n, home, "ipyflow-bench",
                                      {"ipyflow kernel": "x = 1"})
    base = overhead_through_client(runs, n, home, "python3",
                                   {"plain IPython": "x = 1"})["plain IPython"]
    print(f"\n1e. trivial cell through nbclient: ipyflow's kernel (median cell of {n})")
    row("plain ipykernel", ms(base))
    row("ipyflow kernel", ms(figures["ipyflow kernel"]),
        f"overhead {ms(figures['ipyflow kernel'] - base)}")


if __name__ == "__main__":
    main()
