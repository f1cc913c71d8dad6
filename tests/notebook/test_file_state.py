"""File fingerprints, declared files and the files part of a cell's key, without a kernel."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from orchestrate_nb.notebook import file_state
from orchestrate_nb.notebook.cell_files import CellFiles
from orchestrate_nb.notebook.file_state import (
    ABSENT,
    declared_files,
    display_path,
    file_fingerprint,
    read_manifest,
    write_manifest,
)
from orchestrate_nb.results.store import default_store


def touch(path: Path, seconds: int = 5) -> None:
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + seconds * 10**9))


def test_a_touched_file_keeps_its_fingerprint_and_an_edited_one_does_not(tmp_path: Path):
    path = tmp_path / "sales.csv"
    path.write_text("region,amount\nnorth,1\n")
    first = file_fingerprint(str(path))
    touch(path)
    assert file_fingerprint(str(path)) == first
    path.write_text("region,amount\nnorth,2\n")
    assert file_fingerprint(str(path)) != first
    path.unlink()
    assert file_fingerprint(str(path)) == ABSENT


def test_a_folder_listing_changes_when_a_file_appears(tmp_path: Path):
    listing = str(tmp_path) + os.sep
    before = file_fingerprint(listing)
    (tmp_path / "new.csv").write_text("x")
    assert file_fingerprint(listing) != before


def test_declared_files_expand_folders_and_globs_and_keep_missing_patterns(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    parts = tmp_path / "data" / "parts" / "region=north"
    parts.mkdir(parents=True)
    (parts / "part-0.parquet").write_bytes(b"1")
    (parts / ".part-0.parquet.crc").write_bytes(b"2")
    (tmp_path / "data" / "a.csv").write_text("a")
    found = declared_files(["data/parts", "data/*.csv", "later.json"], ["nowhere/x.csv"])
    assert [display_path(p) for p in found] == [
        "data/parts/region=north/part-0.parquet", "data/a.csv", "later.json"]


def test_a_touched_file_is_hashed_once_then_its_manifest_remembers_the_new_mtime(
        tmp_path: Path):
    path = tmp_path / "big.bin"
    path.write_bytes(b"0" * 1000)
    files = {str(path): file_fingerprint(str(path))}
    write_manifest(default_store(), "cells/base", files, [], None)
    touch(path)
    file_state._known.clear()  # a new kernel: it knows what the manifest says
    CellFiles((), ()).key("cells/base")
    recorded, _ = read_manifest(default_store(), "cells/base")
    assert recorded[str(path)][1] == path.stat().st_mtime_ns
