"""``%flow deploy`` in a real kernel: the saved notebook becomes a deployment."""

from __future__ import annotations

import json
import sqlite3

import nbformat
from kernels import LOAD, run_cells, stream


def _saved_notebook(path):
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("n = 3\nday = 'monday'"),
        nbformat.v4.new_code_cell("%%task total\ntotal = n * 2"),
    ])
    nb.cells[0].metadata["tags"] = ["parameters"]
    nbformat.write(nb, path)


def _deployments(home):
    with sqlite3.connect(home / "orchestrate_nb.db") as db:
        return db.execute("select name, cron, parameters from deployments").fetchall()


def test_flow_deploy_in_a_kernel_deploys_the_saved_notebook(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("ORCHESTRATE_NB_HOME", str(home))
    _saved_notebook(tmp_path / "etl.ipynb")
    outputs = run_cells([LOAD, '%flow deploy --name nightly --cron "0 2 * * *" '
                               f'--notebook {tmp_path / "etl.ipynb"} -p n=5'], tmp_path)
    assert not [o for o in outputs[1] if o.output_type == "error"]
    (name, cron, parameters), = _deployments(home)
    assert (name, cron, json.loads(parameters)) == ("nightly", "0 2 * * *", {"n": 5})


def test_flow_deploy_with_an_unknown_parameter_is_one_usage_error_and_writes_nothing(
        tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("ORCHESTRATE_NB_HOME", str(home))
    _saved_notebook(tmp_path / "etl.ipynb")
    outputs = run_cells([LOAD, "%flow deploy --name nightly --interval 3600 "
                               f"--notebook {tmp_path / 'etl.ipynb'} -p colour=red"], tmp_path)
    assert stream(outputs[1], "stderr") == (
        "UsageError: unknown parameter 'colour' (the notebook's parameters cell declares: "
        "n, day)\n")
    db = home / "orchestrate_nb.db"
    assert not db.exists() or _deployments(home) == []
