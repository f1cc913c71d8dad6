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
        path = path / f"{_file_name(run.flow_name)}-{_file_name(run.name)}.ipynb"
    elif path.suffix != ".ipynb":
        raise InvalidArgument(f"{dest} is not a folder: give an existing folder or a path "
                              f"ending in .ipynb")
    elif not path.parent.is_dir():
        raise InvalidArgument(f"folder {path.parent} does not exist")
    if path.exists() and not force:
        raise InvalidArgument(f"{path} already exists (--force replaces it)")
    return path


def _file_name(text: str) -> str:
    return re.sub(r"[^\w.-]+", "_", text).strip("._") or "run"
