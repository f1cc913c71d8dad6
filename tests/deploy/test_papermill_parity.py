"""A deployment runs papermill-style notebooks (none of ours: no ``%%task``, no
``%load_ext``) to the same executed notebook as bare papermill does."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nbformat
import papermill
import pytest
from papermill.exceptions import PapermillExecutionError
from worker_helpers import Query, run_worker_once

from orchestrate_nb.deploy.deployments import deploy_notebook, trigger_deployment
from orchestrate_nb.store.database import Database

pytestmark = [pytest.mark.timeout(300),
              pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]

# name: (cells as (source, tags), the parameters a run is given)
NOTEBOOKS: dict[str, tuple[list[tuple[str, list[str]]], dict[str, Any]]] = {
    "none_defaults": ([("limit = None\nlabel = None\nseed = None", ["parameters"]),
                       ("print(repr(limit), repr(label), repr(seed))", []),
                       ("limit * 2", [])], {"limit": 3, "label": False, "seed": None}),
    "list_parameter": ([("items = [1, 2]\nscale = 1.0", ["parameters"]),
                        ("import statistics\nprint(sum(items) * scale, "
                         "statistics.mean(items))", [])], {"items": [3, 4, 5], "scale": 2.0}),
    "injected_before": ([("n = 1", ["parameters"]), ("n = 99", ["injected-parameters"]),
                         ("## a markdown cell", []), ("print('n is', n)", [])], {"n": 7}),
    "failing_cell": ([("n = 1", ["parameters"]), ("print('before', n)", []),
                      ("raise RuntimeError(f'boom {n}')", []), ("print('after')", [])],
                     {"n": 2}),
}


def write(path: Path, cells: list[tuple[str, list[str]]]) -> Path:
    notebook = nbformat.v4.new_notebook(metadata={"kernelspec": {
        "name": "python3", "display_name": "Python 3", "language": "python"}})
    for source, tags in cells:
        cell = (nbformat.v4.new_markdown_cell(source) if source.startswith("#")
                else nbformat.v4.new_code_cell(source))
        cell.metadata["tags"] = tags
        notebook.cells.append(cell)
    nbformat.write(notebook, path)
    return path


def comparable(path: Path) -> list[tuple[Any, ...]]:
    """What a reader sees in an executed notebook: cells, tags, sources and outputs."""
    cells = json.loads(path.read_text())["cells"]
    return [(c["cell_type"], c["metadata"].get("tags", []), "".join(c["source"]),
             [_output(o) for o in c.get("outputs", [])]) for c in cells]


def _output(output: dict[str, Any]) -> tuple[Any, ...]:
    if output["output_type"] == "error":
        return ("error", output["ename"], output["evalue"])
    if output["output_type"] == "stream":
        return ("stream", output["name"], "".join(output["text"]))
    return (output["output_type"], json.dumps(output.get("data"), sort_keys=True))


def bare_papermill(notebook: Path, parameters: dict[str, Any]) -> Path:
    output = notebook.with_name(f"{notebook.stem}.papermill.ipynb")
    try:
        papermill.execute_notebook(str(notebook), str(output), parameters=parameters,
                                   kernel_name="python3", cwd=str(notebook.parent),
                                   progress_bar=False)
    except PapermillExecutionError:
        pass
    return output


def test_deployment_runs_produce_the_notebooks_bare_papermill_produces(
        tmp_path: Path, database: Database, query: Query) -> None:
    runs = {}
    for name, (cells, parameters) in NOTEBOOKS.items():
        notebook = write(tmp_path / f"{name}.ipynb", cells)
        deploy_notebook(notebook, name=name, parameters=parameters)
        runs[name] = trigger_deployment(name)
    run_worker_once("--limit", str(len(NOTEBOOKS)), completes=False)  # one run fails
    for name, run_id in runs.items():
        ours = query("SELECT state_type, state_message, executed_notebook FROM flow_runs "
                     "WHERE id = :id", id=run_id)[0]
        theirs = comparable(bare_papermill(tmp_path / f"{name}.ipynb", NOTEBOOKS[name][1]))
        assert comparable(Path(ours["executed_notebook"])) == theirs, name
        failed = name == "failing_cell"
        assert ours["state_type"] == ("FAILED" if failed else "COMPLETED")
        assert ours["state_message"] == ("RuntimeError: boom 2" if failed else None)
