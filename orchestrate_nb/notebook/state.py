"""What a kernel remembers about its task cells: how each last ran, with which input
fingerprints, producing which output fingerprints; the fingerprints of values task cells
produced (:class:`KnownValues`); the session flow run; and the output routers.

The last run of each cell is also written to the result store (a small JSON entry per cell),
so after a kernel restart a cell that must run again can still say why ("re-ran: n
changed").
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrate_nb.notebook.analysis import CellAnalysis
from orchestrate_nb.notebook.capture import OutputRouter
from orchestrate_nb.notebook.file_state import display_path
from orchestrate_nb.notebook.fingerprints import KnownValues
from orchestrate_nb.results.fingerprint import fingerprint_parts
from orchestrate_nb.settings import adopted_flow_run_id

INDEX_PREFIX = "cells-index/"


@dataclass(frozen=True)
class LastRun:
    """The code and input fingerprints a cell last ran (or was restored) with."""

    code_hash: str
    inputs: Mapping[str, str]
    files: Mapping[str, str] = field(default_factory=dict)  # path -> fingerprint at its end
    read: tuple[str, ...] = ()
    written: tuple[str, ...] = ()


@dataclass
class CellRecord:
    name: str
    analysis: CellAnalysis  # with --inputs/--outputs applied
    code_hash: str
    inputs: dict[str, str]  # input fingerprints of the last run; empty if unknown
    outputs: dict[str, str] = field(default_factory=dict)  # output fingerprints
    state: str = "never run"  # completed, cached, failed, not cached
    duration: float | None = None  # seconds the last run took (cached: the time saved)
    why: str = ""
    finished: dt.datetime | None = None
    task_run_id: str | None = None
    # what its inputs held when it ended (differs from ``inputs`` for those it mutated):
    # the cell is stale once one of them holds something else
    inputs_after: dict[str, str] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)  # files it opened -> fingerprint
    read: tuple[str, ...] = ()
    written: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()  # files its code names that it only appended to
    identity: str = ""  # as the last-run index knows it (CellSpec.identity)
    magic_line: str = ""  # the code this kernel ran: its %%task line and body
    body: str = ""

    @property
    def last_run(self) -> LastRun:
        return LastRun(self.code_hash, self.inputs, self.files, self.read, self.written)


class KernelState:
    """Per-shell state of the notebook magics."""

    def __init__(self, shell: Any, config: Any) -> None:
        self.shell = shell
        self.config = config  # the TaskMagics instance: its traits are the defaults
        self.known = KnownValues()
        self.records: dict[str, CellRecord] = {}
        # variable -> (task run id, flow run id) of the run that last defined it
        self.producers: dict[str, tuple[str, str | None]] = {}
        self.router = OutputRouter(shell)
        self.lock = threading.RLock()
        self._session: Any = None
        self._notebook: Path | None = None  # the notebook file, once found or given
        self._indexed: dict[str, LastRun] = {}  # what this kernel wrote to the index, by key
        self._identity: str | None = None  # the notebook's resolved path, once found

    def notebook_path(self, explicit: str | None = None) -> Path | None:
        """This kernel's notebook file (``explicit`` wins; remembered once known)."""
        from orchestrate_nb.notebook.notebook_file import find_notebook

        path = find_notebook(self.shell, explicit)
        if path is None and self._notebook is not None and self._notebook.is_file():
            path = self._notebook
        if path is not None:
            self._notebook = path
        return path

    def notebook_identity(self) -> str | None:
        """What makes this notebook's task cells its own (cache, index, task keys): the
        resolved absolute path of its file; None when it cannot be found."""
        if self._identity is None:
            try:
                path = self.notebook_path()
            except Exception:  # noqa: BLE001 - no notebook: cells are known by name only
                path = None
            if path is not None:
                self._identity = notebook_identity_of(path)
        return self._identity

    def flow_names(self) -> list[str]:
        """The flow names this notebook's runs are recorded under (its session, its file)."""
        from orchestrate_nb.notebook.notebook_file import flow_name_of

        names = [self._session.flow_name if self._session else flow_name_of(self.shell)]
        if self._notebook is not None:
            names.append(self._notebook.stem)
        return list(dict.fromkeys(names))

    @property
    def namespace(self) -> dict[str, Any]:
        return self.shell.user_ns  # type: ignore[no-any-return]

    @property
    def hidden(self) -> Mapping[str, Any]:
        return getattr(self.shell, "user_ns_hidden", {})  # type: ignore[no-any-return]

    def session(self) -> Any:
        """The kernel session's flow run (created on first use)."""
        if self._session is None:
            from orchestrate_nb.engine.session import NotebookSession
            from orchestrate_nb.notebook.notebook_file import flow_name_of

            name = self._notebook.stem if self._notebook else flow_name_of(self.shell)
            self._session = NotebookSession(name)
        return self._session

    def close(self) -> None:
        if self._session is not None:
            self._session.close()

    def save_record(self, record: CellRecord, flow_run_id: str | None) -> None:
        with self.lock:
            self.records[record.name] = record
            if record.state not in ("failed", "not run") and record.task_run_id is not None:
                written = [display_path(path) for path in record.written]
                for name in (*record.analysis.outputs, *record.outputs, *written):
                    self.producers[name] = (record.task_run_id, flow_run_id)

    def last_run(self, identity: str, name: str, notebook: str | None) -> LastRun | None:
        """How the cell last ran: in this kernel, or else as the store's index of the
        ``notebook`` (its identity) says."""
        record = self.records.get(name)
        if record is not None and record.inputs is not None and record.state != "never run":
            return record.last_run
        from orchestrate_nb.results.store import default_store

        for key in _index_keys(identity, notebook):
            hit, value = default_store().read(key)
            if hit and isinstance(value, dict):
                break
        else:
            return None
        inputs, files = value.get("inputs"), value.get("files")
        return LastRun(str(value.get("code")), inputs if isinstance(inputs, dict) else {},
                       files if isinstance(files, dict) else {},
                       tuple(value.get("read") or ()), tuple(value.get("written") or ()))

    def remember_last_run(self, identity: str, run: LastRun, notebook: str | None) -> None:
        """Write the cell's last run to the store's index (best effort; a file write, so
        skipped when this kernel wrote the same already)."""
        from orchestrate_nb.results.serializers import get_serializer
        from orchestrate_nb.results.store import default_store

        key = _index_keys(identity, notebook)[0]
        if self._indexed.get(key) == run:
            return
        self._indexed[key] = run
        try:
            default_store().write(key,
                                  {"code": run.code_hash, "inputs": dict(run.inputs),
                                   "files": dict(run.files), "read": list(run.read),
                                   "written": list(run.written)},
                                  get_serializer("json"))
        except Exception:  # noqa: BLE001 - only explanations after a restart depend on it
            return


def _index_keys(identity: str, notebook: str | None) -> list[str]:
    """Where this kernel writes the cell's last run, then where else it may read it.

    Deployment runs write an index of their own: a session then explains a re-run by what
    changed since *its* last run (a file the run rewrote), not by a parameter the scheduled
    run was given and the user never set. A deployment's first run reads the session's.
    """
    parts = ("cell", identity) if notebook is None else ("cell", notebook, identity)
    session = INDEX_PREFIX + fingerprint_parts(*parts)
    if adopted_flow_run_id() is None:
        return [session]
    return [INDEX_PREFIX + fingerprint_parts("deployment", *parts), session]


def notebook_identity_of(path: Path) -> str:
    """A notebook's identity: the resolved absolute path of its file."""
    return str(path.resolve())
