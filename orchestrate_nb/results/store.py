"""Result stores: where cache entries live (a local folder, or any fsspec URL).

Writes are atomic, so no reader ever sees half an entry:

- local folder: the entry is written to a hidden temporary file in the entry's own
  directory (``.<name>.<pid>.<random>.tmp``), then ``os.replace``-d over the final name.
  Readers open only final names, which never start with a dot. There is no fsync: after a
  power cut an entry may be empty or short, which reads as a corrupt entry (a miss).
- object stores through fsspec (s3, gcs, azure, memory…): one PUT of the whole entry; those
  stores make an object visible only once it is complete.
- other fsspec file systems (sftp, smb…): a temporary key, then ``mv`` to the final key.

A missing, expired, truncated or garbled entry is a cache miss; an unreadable one also logs
one warning on the ``orchestrate_nb.results`` logger. Nothing here raises on a lookup.

Entries are signed, and a local folder others may write is not used (``trust.py``): with
no secret to trust, lookups miss and writes are skipped, after one warning.
"""

from __future__ import annotations

import io
import logging
import os
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from contextlib import suppress
from typing import Any, BinaryIO

import xxhash

from orchestrate_nb.errors import OrchestrateError
from orchestrate_nb.private_files import open_private, private_dir
from orchestrate_nb.results.entry import (
    HEAD_READ,
    CorruptEntry,
    encode_entry,
    load_entry,
    parse_header,
)
from orchestrate_nb.results.serializers import Serializer, dump_frames
from orchestrate_nb.results.trust import Signer, folder_problem, results_signer, warn_once
from orchestrate_nb.settings import HOME_ENV, RESULTS_URL_ENV, load_settings

log = logging.getLogger("orchestrate_nb.results")
MISS: tuple[bool, Any] = (False, None)
_SAFE_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*(?:/[A-Za-z0-9_-][A-Za-z0-9_.-]*)*")
_READ_FLAGS = os.O_RDONLY | getattr(os, "O_BINARY", 0)
_TEMP_NAME = re.compile(r"\..+\.(\d+)\.[0-9a-f]{8}\.tmp")  # see LocalResultStore._put
ORPHAN_AGE_SECONDS = 24 * 3600  # a temporary file this old is no write in progress
_CREATE_FLAGS = os.O_WRONLY | os.O_EXCL | getattr(os, "O_BINARY", 0)
_OBJECT_STORES = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "adl", "oci",
                            "memory", "r2", "oss", "cos"})


class ResultStoreError(OrchestrateError):
    """A result store cannot be opened or written."""


def now() -> float:
    """The clock entries expire by (tests replace it)."""
    return time.time()


def entry_name(key: str) -> str:
    """The file name of a key: the key itself when it is a safe relative path."""
    if len(key) <= 200 and _SAFE_NAME.fullmatch(key):
        return key
    return "h-" + xxhash.xxh3_128(key.encode()).hexdigest()


def _create(path: str, directory: str) -> BinaryIO:
    """A new file (never an existing one, mode 0600), making its folder (0700) on first use."""
    try:
        return os.fdopen(open_private(path, _CREATE_FLAGS), "wb")
    except FileNotFoundError:
        private_dir(directory)
        return os.fdopen(open_private(path, _CREATE_FLAGS), "wb")


def _reader(fd: int) -> Callable[[memoryview], int]:
    """Reads the rest of a large entry into the buffers its value will live in."""
    return lambda view: io.FileIO(fd, "rb", closefd=False).readinto(view) or 0


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class ResultStore:
    """Entries by key. Subclasses say how to open and put bytes; the format is shared."""

    url: str

    def read(self, key: str) -> tuple[bool, Any]:
        """``(True, value)`` for a live entry, ``(False, None)`` otherwise; never raises."""
        name = entry_name(key)
        signer = self._signer()
        if signer is None:
            return MISS
        try:
            return self._load(name, key, signer)
        except FileNotFoundError:
            return MISS
        except CorruptEntry as exc:
            return self._unreadable(name, str(exc))
        except Exception as exc:  # noqa: BLE001 - e.g. a class that no longer exists
            return self._unreadable(name, f"{type(exc).__name__}: {_first_line(exc)}")

    def _unreadable(self, name: str, why: str) -> tuple[bool, Any]:
        log.warning("cache entry %s is unreadable (%s); treating it as a miss",
                    self.describe(name), why)
        return MISS

    def write(self, key: str, value: Any, serializer: Serializer,
              expires_in: float | None = None, task_key: str | None = None) -> None:
        """Serialize and store ``value`` under ``key``, atomically (raises on failure);
        it expires ``expires_in`` seconds from now (None: never)."""
        signer = self._signer()
        if signer is None:  # (warned once) an untrusted store: tasks run uncached
            return
        frames = dump_frames(serializer, value)
        created = now()
        expires = created + expires_in if expires_in is not None else None
        chunks = encode_entry(key, frames, serializer.name, created, expires, task_key,
                              signer)
        self._put(entry_name(key), chunks)

    def _signer(self) -> Signer | None:
        """What signs and checks entries; None when this store is not to be used."""
        return results_signer()

    def describe(self, name: str) -> str:
        return f"{self.url.rstrip('/')}/{name}"

    def clear(self, task_key: str | None = None) -> int:
        """Delete every entry, or those written by the task with ``task_key``; how many.
        (A listing of the store: for ``%flow clear-cache``, never on a lookup.)"""
        removed = 0
        for name in self._names():
            if task_key is not None and self._task_of(name) != task_key:
                continue
            removed += self._remove(name)
        return removed

    def _task_of(self, name: str) -> str | None:
        try:
            task = parse_header(self._head(name)).meta().get("task")
        except Exception:  # noqa: BLE001 - unreadable entries belong to no task
            return None
        return task if isinstance(task, str) else None

    # -- what a concrete store provides ------------------------------------------------
    def _load(self, name: str, key: str, signer: Signer) -> tuple[bool, Any]:
        """Read the entry ``name`` and hand its bytes to ``load_entry``."""
        raise NotImplementedError

    def _put(self, name: str, chunks: Iterable[Any]) -> None:
        raise NotImplementedError

    def delete(self, key: str) -> bool:
        """Remove the entry of ``key``; whether there was one."""
        return self._remove(entry_name(key))

    def _remove(self, name: str) -> bool:
        raise NotImplementedError

    def _names(self) -> list[str]:
        """Names of all entries (temporary files excluded)."""
        raise NotImplementedError

    def _head(self, name: str) -> bytes:
        """The first bytes of an entry (its header line at least)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"


class LocalResultStore(ResultStore):
    """A folder on this machine: plain ``open``, no fsspec, no directory listings."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.root = os.path.abspath(os.path.expanduser(os.fspath(path)))
        self.url = self.root
        self._checked = False  # the folder was found private (checked once it exists)

    def _path(self, name: str) -> str:
        return self.root + os.sep + name

    def _signer(self) -> Signer | None:
        if not self._checked:
            problem = folder_problem(self.root)
            if problem is not None:
                warn_once(problem)
                return None
            self._checked = os.path.isdir(self.root)
        return results_signer()

    def _load(self, name: str, key: str, signer: Signer) -> tuple[bool, Any]:
        # os.open/os.read: no file object, half the cost of open() for a small entry
        fd = os.open(self._path(name), _READ_FLAGS)
        try:
            head = os.read(fd, HEAD_READ)
            size = len(head) if len(head) < HEAD_READ else os.fstat(fd).st_size
            return load_entry(head, size, _reader(fd), key, name == key, now(), signer)
        finally:
            os.close(fd)

    def describe(self, name: str) -> str:
        return self._path(name)

    def _put(self, name: str, chunks: Iterable[Any]) -> None:
        path = self._path(name)
        directory, base = os.path.split(path)
        temp = os.path.join(directory, f".{base}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        try:
            with _create(temp, directory) as f:
                for chunk in chunks:
                    f.write(chunk)
            os.replace(temp, path)
        except BaseException:
            with suppress(OSError):
                os.unlink(temp)
            raise

    def _remove(self, name: str) -> bool:
        try:
            os.unlink(self._path(name))
        except FileNotFoundError:
            return False
        return True

    def clear(self, task_key: str | None = None) -> int:
        self._sweep_orphans()
        return super().clear(task_key)

    def _sweep_orphans(self) -> None:
        """Delete the temporary files of writes that never finished: their process is gone
        (killed mid-write), or they are a day old."""
        from orchestrate_nb.processes import is_local_process_alive

        for directory, subdirs, files in os.walk(self.root):
            subdirs[:] = [d for d in subdirs if not d.startswith(".")]
            for name in files:
                match = _TEMP_NAME.fullmatch(name)
                if match is None:
                    continue
                path = os.path.join(directory, name)
                with suppress(OSError):
                    if not is_local_process_alive(int(match[1]), None) or \
                            time.time() - os.stat(path).st_mtime > ORPHAN_AGE_SECONDS:
                        os.unlink(path)

    def _names(self) -> list[str]:
        names = []
        for directory, subdirs, files in os.walk(self.root):
            subdirs[:] = [d for d in subdirs if not d.startswith(".")]
            relative = os.path.relpath(directory, self.root)
            prefix = "" if relative == "." else relative.replace(os.sep, "/") + "/"
            names += [prefix + f for f in files if not f.startswith(".")]
        return sorted(names)

    def _head(self, name: str) -> bytes:
        with open(self._path(name), "rb") as f:
            return f.read(HEAD_READ)


class FsspecResultStore(ResultStore):
    """Any fsspec URL (``s3://bucket/prefix``, ``memory://cache``…)."""

    def __init__(self, url: str, **storage_options: Any) -> None:
        try:
            import fsspec
        except ImportError:
            raise ResultStoreError(f"result storage {url!r} needs fsspec installed") from None
        try:
            self.fs, root = fsspec.core.url_to_fs(url, **storage_options)
        except (ImportError, ValueError) as exc:
            raise ResultStoreError(f"result storage {url!r}: {exc}") from None
        self.root = root.rstrip("/")
        self.url = url
        protocols = self.fs.protocol if isinstance(self.fs.protocol, tuple) else (
            self.fs.protocol,)
        self.single_put = any(p in _OBJECT_STORES for p in protocols)

    def _path(self, name: str) -> str:
        return f"{self.root}/{name}"

    def _load(self, name: str, key: str, signer: Signer) -> tuple[bool, Any]:
        data = self.fs.cat_file(self._path(name))
        return load_entry(data, len(data), None, key, name == key, now(), signer)

    def _put(self, name: str, chunks: Iterable[Any]) -> None:
        data = b"".join(chunks)  # remote writes: one copy is cheap next to the network
        path = self._path(name)
        if self.single_put:
            self.fs.pipe_file(path, data)
            return
        parent, _, base = path.rpartition("/")
        temp = f"{parent}/.{base}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
        self.fs.makedirs(parent, exist_ok=True)
        self.fs.pipe_file(temp, data)
        try:
            self.fs.mv(temp, path)
        except BaseException:
            with suppress(Exception):
                self.fs.rm_file(temp)
            raise

    def _remove(self, name: str) -> bool:
        try:
            self.fs.rm_file(self._path(name))
        except FileNotFoundError:
            return False
        return True

    def _names(self) -> list[str]:
        try:
            paths = self.fs.find(self.root)
        except FileNotFoundError:
            return []
        root = self.fs._strip_protocol(self.root).rstrip("/") + "/"
        names = [p[len(root):] if p.startswith(root) else p for p in paths]
        return sorted(n for n in names if not any(part.startswith(".")
                                                  for part in n.split("/")))

    def _head(self, name: str) -> bytes:
        data: bytes = self.fs.cat_file(self._path(name), start=0, end=HEAD_READ)
        return data


_stores: dict[str, ResultStore] = {}
_stores_lock = threading.Lock()


def open_store(location: str | os.PathLike[str]) -> ResultStore:
    """The store at a path or URL (one instance per location in this process)."""
    text = os.fspath(location)
    store = _stores.get(text)
    if store is not None:
        return store
    if text.startswith("file://"):
        store = LocalResultStore(text[len("file://"):])
    elif "://" in text:
        store = FsspecResultStore(text)
    else:
        store = LocalResultStore(text)
    with _stores_lock:
        return _stores.setdefault(text, store)


def resolve_store(spec: Any) -> ResultStore:
    """A task's ``result_storage``: a store, a path or URL, or a Prefect-style
    file-system block with a ``basepath``; None means the default store."""
    if spec is None:
        return default_store()
    if isinstance(spec, ResultStore):
        return spec
    if isinstance(spec, (str, os.PathLike)):
        return open_store(spec)
    basepath = getattr(spec, "basepath", None)
    if isinstance(basepath, (str, os.PathLike)):
        return open_store(basepath)
    raise ResultStoreError(f"result_storage must be a path, a URL or a ResultStore, "
                           f"got {spec!r}")


_default: tuple[tuple[str | None, str | None], ResultStore] | None = None


def default_store() -> ResultStore:
    """The store settings name (ORCHESTRATE_NB_RESULTS_URL or ORCHESTRATE_NB_HOME/results).

    ``load_settings()`` is too slow for a cache hit's budget, so it is called again only
    when one of the two variables it reads for this has changed."""
    global _default
    environ = (os.environ.get(RESULTS_URL_ENV), os.environ.get(HOME_ENV))
    current = _default
    if current is not None and current[0] == environ:
        return current[1]
    store = open_store(load_settings().results_url)
    _default = (environ, store)
    return store
