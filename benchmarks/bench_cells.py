"""Figures for files as inputs of ``%%task`` cells, each beside a baseline of the same run.

    python benchmarks/bench_cells.py [--runs 5] [--quick]

1. ``%%task`` overhead on a trivial cell (``x = 1``, a cache hit) over plain IPython, file
   tracking on (the audit hook installed), in-process: target <= 2 ms.
2. The audit hook's cost per ``open``: a plain ``open``/``close`` loop in an interpreter
   without the hook (the baseline), with the hook installed and no cell recording (what
   every ``open`` of the kernel pays), and inside a recording cell.
3. The hit check of a cell that read 100 files of 1 MB, unchanged: the manifest read and
   100 ``stat``s (``CellFiles.key``), and the whole ``%%task`` hit; target <= 5 ms.
4. A hit on a cell that read a 1 GB file (sparse, in a temporary folder), unchanged: the
   check beside one ``os.stat`` of the file, and the whole hit beside a cell that read a
   1-byte file; target: no more than a stat.

Each figure is the median of ``--runs`` runs, in a temporary ORCHESTRATE_NB_HOME.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_notebook import in_process_shell, median_of, ms, per_cell, quiet, row, temp_home

OPEN_LOOP = """
import json, os, statistics, sys, time
mode, path, n, runs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
from orchestrate_nb.notebook import file_access
if mode != "no hook":
    file_access.install()
def opens():
    started = time.perf_counter()
    for _ in range(n):
        open(path, "rb").close()
    return (time.perf_counter() - started) / n
def ids():  # id() raises an audit event too: the cost of any other audited call
    started = time.perf_counter()
    for _ in range(n):
        id(path)
    return (time.perf_counter() - started) / n
def measure():
    return [statistics.median(loop() for _ in range(runs)) for loop in (opens, ids)]
if mode == "recording":
    with file_access.recording():
        result = measure()
else:
    result = measure()
print(json.dumps(result))
"""


def open_costs(runs: int, n: int, work: Path) -> dict[str, list[float]]:
    path = work / "small.txt"
    path.write_text("x")
    figures = {}
    for mode in ("no hook", "hook installed, no cell recording", "recording"):
        out = subprocess.run([sys.executable, "-c", OPEN_LOOP, mode, str(path), str(n),
                              str(runs)], check=True, capture_output=True, text=True).stdout
        figures[mode] = json.loads(out)
    return figures


def report_open_costs(figures: dict[str, list[float]]) -> None:
    for index, what in enumerate(("open() + close() of a 1-byte file",
                                  "id(x), an audited builtin: any other audit event")):
        print(f"\n2{'ab'[index]}. the audit hook, per call of {what}")
        base = figures["no hook"][index]
        for label, both in figures.items():
            seconds = both[index]
            note = "" if label == "no hook" else f"{(seconds - base) * 1e9:+.0f} ns per call"
            row(label, f"{seconds * 1e6:.3f} µs", note)


def overhead(shell: Any, runs: int, n: int) -> dict[str, float]:
    cells = {"plain IPython": "x = 1", "%%task, cache hit": "%%task trivial\nx = 1"}
    with quiet():
        return {label: median_of(runs, lambda c=cell: per_cell(shell.run_cell, c, n))
                for label, cell in cells.items()}


def many_files(shell: Any, work: Path, runs: int, count: int, size: int) -> dict[str, float]:
    folder = work / "many"
    folder.mkdir()
    block = os.urandom(size)
    for i in range(count):
        (folder / f"part-{i:03}.bin").write_bytes(block)
    shell.user_ns["folder"] = str(folder)
    cell = ("%%task read_many\nimport os\nsizes = [len(open(os.path.join(folder, name), 'rb')"
            ".read()) for name in sorted(os.listdir(folder))]")
    with quiet():
        hit = median_of(runs, lambda: per_cell(shell.run_cell, cell, 5))
    return {"whole %%task hit": hit,
            "files check (CellFiles.key)": _key_check(shell, cell, runs)}


def _key_check(shell: Any, cell: str, runs: int) -> float:
    """The files part of a hit on ``cell``: read its manifest, stat its files."""
    from orchestrate_nb.notebook import cell_files

    bases: list[str] = []
    original = cell_files.CellFiles.key

    def spy(self: Any, base_key: str) -> str:
        bases.append(base_key)
        return original(self, base_key)

    cell_files.CellFiles.key = spy  # type: ignore[method-assign]
    try:
        with quiet():
            shell.run_cell(cell)
    finally:
        cell_files.CellFiles.key = original  # type: ignore[method-assign]

    def measure() -> float:
        started = time.perf_counter()
        for _ in range(20):
            cell_files.CellFiles((), ()).key(bases[-1])
        return (time.perf_counter() - started) / 20

    return median_of(runs, measure)


def big_file(shell: Any, runs: int) -> dict[str, float]:
    folder = Path(tempfile.mkdtemp(prefix="bench-cells-big-"))
    big, tiny = folder / "big.bin", folder / "tiny.bin"
    with open(big, "wb") as handle:
        handle.truncate(1 << 30)  # sparse: 1 GB that takes no disk
    tiny.write_bytes(b"x")
    try:
        figures, cell = {}, ""
        for label, path in (("1-byte file", tiny), ("1 GB file", big)):
            shell.user_ns["path"] = str(path)
            cell = f"%%task read_{path.stem}\nwith open(path, 'rb') as f:\n    n = len(f.read())"
            with quiet():
                figures[f"whole %%task hit, {label}"] = median_of(
                    runs, lambda c=cell: per_cell(shell.run_cell, c, 5))
        figures["files check, 1 GB file"] = _key_check(shell, cell, runs)
        figures["one os.stat of it"] = median_of(runs, lambda: _stat_time(big))
        return figures
    finally:
        big.unlink()
        tiny.unlink()
        folder.rmdir()


def _stat_time(path: Path) -> float:
    started = time.perf_counter()
    for _ in range(1000):
        os.stat(path)
    return (time.perf_counter() - started) / 1000


def report(title: str, figures: dict[str, float], baseline: str | None, target: str) -> None:
    print(f"\n{title} (target: {target})")
    for label, seconds in figures.items():
        note = f"{seconds - figures[baseline]:+.6f} s over {baseline}" \
            if baseline and label != baseline else ""
        row(label, ms(seconds), note)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="fewer, smaller runs")
    args = parser.parse_args()
    runs = 3 if args.quick else args.runs
    with temp_home() as work:
        os.chdir(work)  # the shell's cwd: relative paths resolve here
        try:
            run_all(work, runs, args.quick)
        finally:
            os.chdir(Path.home())


def run_all(work: Path, runs: int, quick: bool) -> None:
    shell = in_process_shell()
    from orchestrate_nb.notebook import file_access

    file_access.install()
    report("1. %%task overhead on a trivial cell, in-process, file tracking on",
           overhead(shell, runs, 50 if quick else 200), "plain IPython", "<= 2 ms")
    report_open_costs(open_costs(runs, 2000 if quick else 20000, work))
    report("3. a hit on a cell that read 100 files of 1 MB, unchanged",
           many_files(shell, work, runs, 100, 1 << 20), None, "<= 5 ms")
    report("4. a hit on a cell that read a 1 GB file, unchanged",
           big_file(shell, runs), "whole %%task hit, 1-byte file",
           "as a 1-byte file: the check is a stat")


if __name__ == "__main__":
    main()
