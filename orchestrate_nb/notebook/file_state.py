"""Files as inputs and outputs of a cell: their fingerprints, and the cache key they make.

- A file's fingerprint is a hash of its content (xxh3, streamed), computed only when its
  size or mtime changed since it was last hashed in this process or recorded in a manifest:
  checking an unchanged 1 GB file costs a ``stat``. A touched but identical file keeps its
  fingerprint. A missing file is ``absent``; a directory listing (a path ending with ``/``)
  is fingerprinted by its sorted names.
- Which files a cell reads is known only after it ran, so the cache is two-level: the
  *manifest* at the cell's base key (code + input values) lists the files its last run
  opened, with their size, mtime and hash; the result lives at the base key plus the
  fingerprints of those files (and of the files ``--files`` and the path literals of its
  code name). A hit is served only when every such file has the content it had when the
  cell finished: a file it read changed, or one it wrote was changed or deleted, means
  another key, a miss, and a badge naming the file.
"""

from __future__ import annotations

import glob
import os
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any

import xxhash

from orchestrate_nb.notebook.file_access import ignored, size_and_mtime
from orchestrate_nb.results.fingerprint import fingerprint_parts

ABSENT = "absent"
MANIFEST_PREFIX = "cells-files/"
_CHUNK = 1 << 20
_MAX_LITERAL_FILES = 10_000  # a path literal matching more is not followed
_GLOB = re.compile(r"[*?\[]")
_known: dict[str, tuple[int, int, str]] = {}  # path -> (size, mtime_ns, content hash)
_lock = threading.Lock()


def file_fingerprint(path: str) -> str:
    """The content hash of ``path`` (a listing's names for ``dir/``); ``absent`` if gone."""
    if path.endswith(os.sep):
        return _listing_fingerprint(path)
    try:
        found = os.stat(path)
    except OSError:
        return ABSENT
    if not os.path.isfile(path):
        return ABSENT
    known = _known.get(path)
    if known is not None and known[0] == found.st_size and known[1] == found.st_mtime_ns:
        return known[2]
    digest = _content_hash(path)
    if size_and_mtime(path) == (found.st_size, found.st_mtime_ns):  # not written while we read it
        with _lock:
            _known[path] = (found.st_size, found.st_mtime_ns, digest)
    return digest


def _content_hash(path: str) -> str:
    hasher = xxhash.xxh3_128()
    try:
        with open(path, "rb", buffering=0) as handle:
            while chunk := handle.read(_CHUNK):
                hasher.update(chunk)
    except OSError:
        return ABSENT
    return hasher.hexdigest()


def _listing_fingerprint(path: str) -> str:
    try:
        names = sorted(os.listdir(path))
    except OSError:
        return ABSENT
    return "listing:" + xxhash.xxh3_64("\0".join(names).encode()).hexdigest()



def fingerprints(paths: Iterable[str]) -> dict[str, str]:
    return {path: file_fingerprint(path) for path in sorted(set(paths))}


def display_path(path: str, cwd: str | None = None) -> str:
    """``data/sales.csv`` for a file under the working directory, else the absolute path."""
    cwd = cwd or os.getcwd()
    relative = os.path.relpath(path, cwd)
    if relative.startswith(os.pardir):
        return path
    return relative + os.sep if path.endswith(os.sep) and relative != "." else relative


# -- declared files: --files patterns and path literals of the code ------------------------
def declared_files(patterns: Iterable[str], literals: Iterable[str]) -> list[str]:
    """The files ``--files`` patterns and the code's path literals name now (directories as
    the files under them; a pattern matching nothing names its path, as absent)."""
    found: dict[str, None] = {}
    for pattern in patterns:
        found.update(dict.fromkeys(_expand(pattern, keep_missing=True) or ()))
    for literal in literals:
        found.update(dict.fromkeys(_expand(literal, keep_missing=False) or ()))
    return [path for path in found if not ignored(path)]


def _expand(pattern: str, keep_missing: bool) -> list[str] | None:
    path = os.path.abspath(os.path.expanduser(pattern))
    if _GLOB.search(pattern):
        matches = glob.glob(path, recursive=True)
    elif os.path.exists(path):
        matches = [path]
    else:
        return [path] if keep_missing else None
    files: list[str] = []
    for match in matches:
        files.extend(_files_under(match) if os.path.isdir(match) else [match])
        if len(files) > _MAX_LITERAL_FILES and not keep_missing:
            return None
    return files


def _files_under(directory: str) -> list[str]:
    """Every file under ``directory``, hidden ones left out (``.crc``, checkpoints)."""
    files: list[str] = []
    for root, folders, names in os.walk(directory):
        folders[:] = sorted(f for f in folders if not f.startswith("."))
        files.extend(os.path.join(root, n) for n in sorted(names) if not n.startswith("."))
    return files


# -- the two-level key ------------------------------------------------------------------------
def manifest_key(base_key: str) -> str:
    return MANIFEST_PREFIX + base_key


def read_manifest(store: Any, base_key: str) -> tuple[dict[str, Any], list[str]]:
    """The files the cell's last run with this base key opened (-> [size, mtime_ns, hash]),
    and the declared ones it only appended to. The recorded sizes and mtimes let this
    process skip hashing unchanged files again."""
    hit, value = store.read(manifest_key(base_key))
    if not hit or not isinstance(value, dict) or not isinstance(value.get("files"), dict):
        return {}, []
    with _lock:
        for path, known in value["files"].items():
            if path not in _known and isinstance(known, list) and len(known) == 3:
                _known[path] = (int(known[0]), int(known[1]), str(known[2]))
    return value["files"], list(value.get("skipped") or ())


def rehashed(recorded: Mapping[str, Any]) -> bool:
    """Whether a file of a manifest was hashed again with the same content (touched): its
    manifest is then worth rewriting, so the next kernel needs only a stat again."""
    for path, known in recorded.items():
        now = _known.get(path)
        if now is not None and isinstance(known, list) and len(known) == 3 \
                and now[2] == known[2] and [now[0], now[1]] != known[:2]:
            return True
    return False


def write_manifest(store: Any, base_key: str, files: Mapping[str, str],
                   skipped: Iterable[str], task_key: str | None) -> None:
    from orchestrate_nb.results.serializers import get_serializer

    recorded = {}
    for path, digest in files.items():
        known = _known.get(path)
        recorded[path] = [known[0], known[1], digest] if known and known[2] == digest \
            else [-1, -1, digest]
    store.write(manifest_key(base_key), {"files": recorded, "skipped": sorted(skipped)},
                get_serializer("json"), None, task_key)


def result_key(base_key: str, files: Mapping[str, str]) -> str:
    """Where the result of a run that saw these files lives."""
    if not files:
        return base_key
    return base_key + "+" + fingerprint_parts(*(f"{p}={d}" for p, d in sorted(files.items())))
