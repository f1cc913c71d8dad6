"""Files as inputs and outputs of ``%%task`` cells, in real kernels: a CSV rewritten by an
upstream cell or by another process makes its readers run again (also after a restart), a
touched but identical file does not; parquet read by pyarrow with ``--files``; a partitioned
dataset as the set of its files."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from kernels import LOAD, badge, displays, execute, notebook_of, query, run_cells, stream

MAKE_CSV = """%%task make_csv
import os
import numpy as np
import pandas as pd
os.makedirs("data", exist_ok=True)
rng = np.random.default_rng(seed)
pd.DataFrame({"region": rng.choice(["north", "south", "east"], 400),
              "amount": rng.integers(1, 1000, 400)}).to_csv("data/sales.csv", index=False)"""
READ_CSV = """%%task load
import pandas as pd
sales = pd.read_csv("data/sales.csv")"""
CLEAN = """%%task clean
clean = sales[sales["amount"] > 0]"""
BY_REGION = """%%task by_region
by_region = clean.groupby("region")["amount"].sum()"""
PLOT = """%%task plot
for region, amount in by_region.items():
    print(f"{region:<6} {'#' * (amount // 5000)}")
print("total", int(by_region.sum()))"""
ANALYSIS = [READ_CSV, CLEAN, BY_REGION, PLOT]
WRITER = """import sys
import numpy as np
import pandas as pd
rng = np.random.default_rng(int(sys.argv[1]))
pd.DataFrame({"region": rng.choice(["north", "south", "east"], 400),
              "amount": rng.integers(1, 1000, 400)}).to_csv("data/sales.csv", index=False)
"""


def total_on_disk(work: Path) -> int:
    return int(pd.read_csv(work / "data" / "sales.csv")["amount"].sum())


def printed_total(outputs: list[Any]) -> int:
    return int(stream(outputs).split("total ")[-1].split()[0])


def write_sales(work: Path, seed: int) -> None:
    """Another process writes the CSV (a download, a colleague's script)."""
    import subprocess

    (work / "data").mkdir(exist_ok=True)
    (work / "write_sales.py").write_text(WRITER)
    subprocess.run([sys.executable, "write_sales.py", str(seed)], cwd=work, check=True)


@pytest.fixture(scope="module")
def upstream_rewrite(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The five cells, then ``seed`` changed and make_csv run again, in one kernel."""
    work = tmp_path_factory.mktemp("upstream")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("ORCHESTRATE_NB_HOME", str(work / "home"))
        outputs = run_cells([LOAD, "seed = 1", MAKE_CSV, *ANALYSIS, "seed = 2", MAKE_CSV,
                             "%flow status", *ANALYSIS, "%flow status"], work,
                            allow_errors=False)
    return {"outputs": outputs, "work": work}


def test_a_csv_rewritten_by_an_upstream_cell_is_read_again(upstream_rewrite):
    outputs, work = upstream_rewrite["outputs"], upstream_rewrite["work"]
    first, last = printed_total(outputs[6]), printed_total(outputs[13])
    assert last == total_on_disk(work) != first
    assert badge(outputs[10]).startswith("▶ re-ran: data/sales.csv changed · ")
    assert badge(outputs[11]).startswith("▶ re-ran: sales changed · ")


def test_status_calls_the_reader_of_a_rewritten_file_stale_and_shows_the_file_edge(
        upstream_rewrite):
    before, after = (displays(upstream_rewrite["outputs"][i])[0]["text/plain"]
                     for i in (9, 14))
    rows = {line.split()[0]: line.split(maxsplit=1)[1] for line in before.splitlines()}
    assert rows["load"].startswith("stale") and rows["load"].endswith("data/sales.csv changed")
    assert rows["plot"].endswith("upstream 'load' is stale")
    assert "files: make_csv → load (data/sales.csv)" in before
    assert "stale" not in after


def test_the_run_store_links_the_writer_of_a_file_to_its_reader(upstream_rewrite):
    edges = query(upstream_rewrite["work"] / "home",
                  "SELECT u.task_name, d.task_name, e.input_name FROM task_run_edges e "
                  "JOIN task_runs u ON u.id = e.upstream_task_run_id "
                  "JOIN task_runs d ON d.id = e.downstream_task_run_id")
    assert edges.count(("make_csv", "load", "data/sales.csv")) == 2


@pytest.fixture(scope="module")
def other_process(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Another process rewrites the CSV between two Run Alls of one kernel; then between
    kernels (a restart); then only touches it."""
    work = tmp_path_factory.mktemp("other")
    write_sales(work, 1)
    rewrite = "import subprocess, sys\n" \
              "subprocess.run([sys.executable, 'write_sales.py', '2'], check=True)"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("ORCHESTRATE_NB_HOME", str(work / "home"))
        same_kernel = run_cells([LOAD, *ANALYSIS, rewrite, *ANALYSIS], work,
                                allow_errors=False)
        totals = [total_on_disk(work)]
        write_sales(work, 3)
        restarted = run_cells([LOAD, *ANALYSIS], work, allow_errors=False)
        totals.append(total_on_disk(work))
        csv = work / "data" / "sales.csv"
        os.utime(csv, ns=(csv.stat().st_atime_ns, csv.stat().st_mtime_ns + 10**9))
        touched = run_cells([LOAD, *ANALYSIS], work, allow_errors=False)
    return {"same_kernel": same_kernel, "restarted": restarted, "touched": touched,
            "totals": totals}


def test_a_csv_rewritten_by_another_process_is_read_again_in_the_same_kernel(other_process):
    outputs = other_process["same_kernel"]
    assert badge(outputs[6]).startswith("▶ re-ran: data/sales.csv changed · ")
    assert printed_total(outputs[9]) == other_process["totals"][0] != printed_total(outputs[4])


def test_a_csv_rewritten_while_no_kernel_ran_is_read_again_after_a_restart(other_process):
    outputs = other_process["restarted"]
    assert badge(outputs[1]).startswith("▶ re-ran: data/sales.csv changed · ")
    assert printed_total(outputs[4]) == other_process["totals"][1]


def test_a_touched_but_identical_file_stays_cached(other_process):
    outputs = other_process["touched"]
    assert all(badge(cell).startswith("⟳ cached") for cell in outputs[1:])
    assert printed_total(outputs[4]) == other_process["totals"][1]


WRITE_PARQUET = """import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import os
os.makedirs("data", exist_ok=True)
rng = np.random.default_rng({seed})
table = pa.table({{"region": rng.choice(["north", "south"], 50),
                  "amount": rng.integers(1, 100, 50)}})
pq.write_table(table, parquet_path)"""


def test_a_parquet_file_read_by_pyarrow_is_an_input_when_declared_with_files(tmp_path: Path):
    read = """%%task load --files data/sales.parquet
import pyarrow.compute as pc
import pyarrow.parquet as pq
total = pc.sum(pq.read_table(parquet_path)["amount"]).as_py()
total"""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("ORCHESTRATE_NB_HOME", str(tmp_path / "home"))
        outputs = run_cells([LOAD, "parquet_path = 'data/sales' + '.parquet'",
                             WRITE_PARQUET.format(seed=1), read, read,
                             WRITE_PARQUET.format(seed=2), read, "print(total)"], tmp_path,
                            allow_errors=False)
    import pyarrow.parquet as pq

    on_disk = sum(pq.read_table(tmp_path / "data" / "sales.parquet")["amount"].to_pylist())
    assert badge(outputs[4]).startswith("⟳ cached")
    assert badge(outputs[6]).startswith("▶ re-ran: data/sales.parquet changed · ")
    assert stream(outputs[7]) == f"{on_disk}\n"


def test_a_partitioned_dataset_counts_as_the_set_of_its_files(tmp_path: Path):
    write = """import pyarrow as pa
import pyarrow.parquet as pq
pq.write_to_dataset(pa.table({{"region": {regions}, "amount": {amounts}}}),
                    "data/parts", partition_cols=["region"])"""
    read = """%%task load_parts
import pyarrow.parquet as pq
parts = pq.read_table("data/parts/")
total = sum(parts["amount"].to_pylist())
total"""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("ORCHESTRATE_NB_HOME", str(tmp_path / "home"))
        outputs = run_cells([LOAD, write.format(regions=["north", "south"], amounts=[1, 2]),
                             read, read, write.format(regions=["west"], amounts=[40]),
                             "%flow status", read], tmp_path, allow_errors=False)
    assert badge(outputs[3]).startswith("⟳ cached")
    status = displays(outputs[5])[0]["text/plain"].splitlines()[1]
    assert status.startswith("load_parts  stale") and "data/parts/region=west/" in status
    assert badge(outputs[6]).startswith("▶ re-ran: data/parts/region=west/")
    assert outputs[6][-1].data["text/plain"] == "43"


def test_a_file_written_by_a_cell_and_changed_by_a_person_makes_the_cell_run_again(
        tmp_path: Path):
    cells = [LOAD, "seed = 1", MAKE_CSV, READ_CSV]
    with pytest.MonkeyPatch.context() as env:
        env.setenv("ORCHESTRATE_NB_HOME", str(tmp_path / "home"))
        execute(notebook_of(cells), tmp_path)
        original = (tmp_path / "data" / "sales.csv").read_text()
        (tmp_path / "data" / "sales.csv").write_text("region,amount\nnorth,1\n")
        outputs = run_cells(cells, tmp_path, allow_errors=False)
    assert badge(outputs[2]).startswith("▶ re-ran: data/sales.csv changed · ")
    assert (tmp_path / "data" / "sales.csv").read_text() == original
    assert badge(outputs[3]).startswith("⟳ cached")  # the same content as it first read


def test_status_says_a_cell_reading_a_url_needs_an_expiration_or_no_cache(tmp_path: Path):
    with pytest.MonkeyPatch.context() as env:
        env.setenv("ORCHESTRATE_NB_HOME", str(tmp_path / "home"))
        outputs = run_cells([LOAD, "%%task fetch\nurl = 'https://example.org/sales.csv'",
                             "%%task fresh --cache-expiration 1h\nsource = 'https://example.org/x'",
                             "%flow status"], tmp_path, allow_errors=False)
    text = displays(outputs[3])[0]["text/plain"]
    assert "reads https://example.org/sales.csv: not a file; use --cache-expiration or " \
           "--no-cache" in text
    assert "example.org/x" not in text


def test_a_cell_with_a_top_level_await_has_its_files_seen_too(tmp_path: Path):
    read = "%%task fetch\nimport asyncio\nawait asyncio.sleep(0)\nnote = open(name).read()"
    (tmp_path / "note.txt").write_text("one")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("ORCHESTRATE_NB_HOME", str(tmp_path / "home"))
        outputs = run_cells([LOAD, "name = 'note.txt'", read,
                             "open('note.txt', 'w').write('two')", read, "print(note)"],
                            tmp_path, allow_errors=False)
    assert badge(outputs[4]).startswith("▶ re-ran: note.txt changed")
    assert stream(outputs[5]) == "two\n"


def test_flow_run_after_a_restart_runs_a_file_s_writer_before_its_reader(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import nbformat

    cells = [LOAD, "seed = 1", READ_CSV, MAKE_CSV, CLEAN, BY_REGION, PLOT]  # reader first
    path = tmp_path / "sales.ipynb"
    nbformat.write(notebook_of(cells, {1: ["parameters"]}), str(path))
    monkeypatch.setenv("ORCHESTRATE_NB_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("JPY_SESSION_NAME", str(path))
    run_cells([LOAD, "seed = 1", MAKE_CSV, *ANALYSIS], tmp_path, allow_errors=False)
    outputs = run_cells([LOAD, "%flow run -p seed=2", "%flow graph"], tmp_path,
                        allow_errors=False)
    ran = [line.split(":")[0] for line in stream(outputs[1]).splitlines() if ": ▶" in line]
    assert ran == ["make_csv", "load", "clean", "by_region", "plot"]
    assert "load: ▶ re-ran: data/sales.csv changed" in stream(outputs[1])
    assert printed_total(outputs[1]) == total_on_disk(tmp_path)
    assert "→ load (data/sales.csv)" in displays(outputs[2])[0]["text/plain"]
