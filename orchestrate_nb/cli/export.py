"""Where ``orchestrate-nb runs export`` copies a run's executed notebook, and the checks
that refuse it with one line before anything is written."""

from __future__ import annotations

import re
from pathlib import Path

from orchestrate_nb.cli.format import InvalidArgument
from orchestrate_nb.errors import OrchestrateError
from orchestrate_nb.store.views import FlowRunInfo


def executed_notebook_of(run: FlowRunInfo) -> Path:
    if not run.executed_notebook:
        raise OrchestrateError(f"flow run {run.name} ({run.id[:8]}) has no executed notebook "
                               f"(only runs of notebook deployments keep one)")
    source = Path(run.executed_notebook)
    if not source.is_file():
        raise OrchestrateError(f"the executed notebook of flow run {run.id[:8]} is gone: "
                               f"{source} does not exist")
    return source


def export_target(run: FlowRunInfo, dest: str, force: bool) -> Path:
    """DEST itself when it ends in .ipynb, else a file named after the run in folder DEST."""
    path = Path(dest).expanduser()
    if path.is_dir():
        path = path / f"{_default_stem(run)}.ipynb"
    elif path.suffix != ".ipynb":
        raise InvalidArgument(f"{dest} is not a folder: give an existing folder or a path "
                              f"ending in .ipynb")
    elif not path.parent.is_dir():
        raise InvalidArgument(f"folder {path.parent} does not exist")
    if path.exists() and not force:
        raise InvalidArgument(f"{path} already exists (--force replaces it)")
    return path


def _default_stem(run: FlowRunInfo) -> str:
    """FLOW-RUN, or RUN alone when it already starts with the flow's name (a deployment named
    like its notebook: ``sales-20261204-2144``, not ``sales-sales-20261204-2144``)."""
    flow, name = _file_name(run.flow_name.removesuffix(".ipynb")), _file_name(run.name)
    return name if name == flow or name.startswith(f"{flow}-") else f"{flow}-{name}"


def _file_name(text: str) -> str:
    return re.sub(r"[^\w.-]+", "_", text).strip("._") or "run"
