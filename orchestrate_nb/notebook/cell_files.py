"""The files of one cell run: the key part they make before the run, what the run opened,
and the result storage that files the result under the files it saw (see ``file_state``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from orchestrate_nb.notebook import file_access
from orchestrate_nb.notebook.cell_result import CellResult, CellResultStore
from orchestrate_nb.notebook.file_state import (
    declared_files,
    display_path,
    fingerprints,
    manifest_key,
    read_manifest,
    rehashed,
    result_key,
    write_manifest,
)
from orchestrate_nb.results.serializers import Serializer
from orchestrate_nb.results.store import default_store


@dataclass(frozen=True)
class SeenFiles:
    """What a finished run read and wrote, with the fingerprints they had at its end."""

    files: dict[str, str]  # path -> content fingerprint (listings end with "/")
    read: tuple[str, ...]
    written: tuple[str, ...]
    skipped: tuple[str, ...]  # declared files it only appended to
    problem: str | None  # why the result must not be cached


class CellFiles:
    """Files as inputs and outputs of one run of a cell."""

    def __init__(self, patterns: tuple[str, ...], literals: tuple[str, ...],
                 task_key: str | None = None) -> None:
        self.patterns = patterns
        self.literals = literals
        self.task_key = task_key
        self.base_key: str | None = None
        self.before: dict[str, str] = {}  # fingerprints when the run started
        self._had_manifest = False

    def key(self, base_key: str) -> str:
        """The result's key: the base key plus the files the last run with it opened (and
        the declared ones), as they are now."""
        self.base_key = base_key
        store = default_store()
        recorded, skipped = read_manifest(store, base_key)
        self._had_manifest = bool(recorded or skipped)
        declared = declared_files(self.patterns, self.literals)
        self.before = fingerprints([*recorded, *(p for p in declared if p not in skipped)])
        if rehashed(recorded):  # touched, same content: record the new mtimes
            try:
                write_manifest(store, base_key, {p: self.before[p] for p in recorded},
                               skipped, self.task_key)
            except Exception:  # noqa: BLE001, S110 - only saves hashing it again next time
                pass
        return result_key(base_key, self.before)

    @contextmanager
    def recording(self) -> Iterator[file_access.FileAccess]:
        with file_access.recording() as access:
            yield access

    def seen(self, access: file_access.FileAccess) -> SeenFiles:
        declared = declared_files(self.patterns, self.literals)
        appended = access.appended - access.written - set(access.read)
        read = [*access.read, *access.listed,
                *(p for p in declared if p not in access.written and p not in appended)]
        files = fingerprints([*read, *access.written])
        changed = access.changed_while_running()
        problem = f"{display_path(changed[0])} changed while the cell ran" if changed else None
        return SeenFiles(files, tuple(sorted(set(read))), tuple(sorted(access.written)),
                         tuple(sorted(appended.intersection(declared))), problem)

    def storage(self) -> CellResultStore:
        return _FilesStore(self)

    def store_result(self, key: str, value: Any, serializer: Serializer,
                     expires_in: float | None, task_key: str | None) -> None:
        """Write the manifest of the files the run saw, then the result under them."""
        store = default_store()
        if self.base_key is not None and isinstance(value, CellResult):
            if value.files or value.skipped:
                write_manifest(store, self.base_key, value.files, value.skipped, task_key)
            elif self._had_manifest:
                store.delete(manifest_key(self.base_key))
            key = result_key(self.base_key, value.files)
        store.write(key, value, serializer, expires_in, task_key)


class _FilesStore(CellResultStore):
    """The cell result store, writing where the files the run saw say."""

    def __init__(self, files: CellFiles) -> None:
        self.files = files

    def _write(self, key: str, value: Any, serializer: Serializer,
               expires_in: float | None, task_key: str | None) -> None:
        self.files.store_result(key, value, serializer, expires_in, task_key)


def changed_files(files: Mapping[str, str], now: Mapping[str, str] | None = None
                  ) -> list[str]:
    """Display names of the files whose fingerprint differs from ``files`` (``now``: the
    fingerprints to compare with; default: the files as they are)."""
    from orchestrate_nb.notebook.file_state import file_fingerprint

    changed = []
    for path, digest in files.items():
        current = now.get(path) if now is not None else file_fingerprint(path)
        if current is not None and current != digest:
            changed.append(display_path(path, os.getcwd()))
    return changed


def new_files(files: Mapping[str, str], now: Mapping[str, str]) -> list[str]:
    """Files in ``now`` that ``files`` did not have (one that appeared in a folder the cell
    reads)."""
    return [display_path(path) for path in now if path not in files]
