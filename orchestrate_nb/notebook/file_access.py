"""What a cell opens, seen through the interpreter's audit hooks (``sys.addaudithook``).

Every ``open`` (``open()``, ``io.open``, ``os.open``, ``pathlib``, pandas' readers and
writers) raises an ``open`` audit event with its path and mode; listing a directory
(``os.listdir``, ``os.scandir``, so ``glob`` and ``Path.iterdir``) raises its own. A hook
cannot be removed, so one is installed once, on the first recorded cell, and it returns at
once (one global truth test) unless some thread is recording a cell. Recording is per
thread: cells run by ``%flow run --parallel`` each see their own files; files opened by
threads a cell starts itself are not seen (a cell with a top-level ``await`` is followed
into the helper thread that runs it).

Paths are made absolute against the kernel's working directory at open time. Files the
interpreter and the kernel open for themselves (the Python installation and site-packages,
``.pyc`` files, IPython's and Jupyter's own folders, the orchestrate home, ``/proc`` and
the like) are left out, and so are files a cell only appends to (a log: each run adds its
lines, so what is there is no output of one run to check).
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_SYSTEM_ROOTS = ("/proc", "/dev", "/sys", "/run", "/etc", "/usr", "/lib", "/bin", "/sbin",
                 "/var/lib", "/var/cache")
_OWN_FOLDERS = (".cache", ".config", ".local", ".ipython", ".jupyter", ".matplotlib",
                ".orchestrate_nb")
_SKIPPED_SUFFIXES = (".pyc", ".pyo", ".so", ".pth")


@dataclass
class FileAccess:
    """The files one cell run opened: absolute paths, listings end with ``/``."""

    read: dict[str, tuple[int, int] | None] = field(default_factory=dict)  # -> stat at open
    written: set[str] = field(default_factory=set)
    listed: set[str] = field(default_factory=set)
    appended: set[str] = field(default_factory=set)  # only appended to: left out

    def changed_while_running(self) -> list[str]:
        """Files only read whose size or mtime changed between their first open and now."""
        changed = []
        for path, seen in self.read.items():
            if path not in self.written and seen is not None and size_and_mtime(path) != seen:
                changed.append(path)
        return changed


_recorders: dict[int, FileAccess] = {}  # thread ident -> what that thread's cell opened
_ignored: tuple[str, ...] = ()
_install_lock = threading.Lock()
_installed = False


def _hook(event: str, args: tuple[object, ...]) -> None:
    if not _recorders:  # no cell is being recorded: the cost of every other audit event
        return
    if event == "open" or event == "os.listdir" or event == "os.scandir":
        access = _recorders.get(threading.get_ident())
        if access is not None:
            try:
                _note(access, event, args)
            except Exception:  # noqa: BLE001, S110 - a hook must never fail the user's open
                pass


def _note(access: FileAccess, event: str, args: tuple[object, ...]) -> None:
    raw = args[0] if args else None
    if raw is None or isinstance(raw, int):
        return  # an open file descriptor, or scandir() of the working directory: no path
    path = os.path.abspath(os.fsdecode(raw))  # type: ignore[arg-type]
    if ignored(path):
        return
    if event != "open":
        if not _listed_by_import():
            access.listed.add(path.rstrip(os.sep) + os.sep)
        return
    mode, flags = args[1], args[2] if len(args) > 2 else 0
    if isinstance(mode, str):
        if "a" in mode and "+" not in mode:
            access.appended.add(path)  # a log: re-running appends again; not an output
            return
        writes = any(c in mode for c in "wx+")
        reads = "r" in mode or "+" in mode
    else:  # os.open: flags only
        bits = int(flags)  # type: ignore[call-overload]
        if bits & os.O_APPEND and not bits & (os.O_RDWR | os.O_TRUNC):
            access.appended.add(path)
            return
        writes = bool(bits & _WRITE_FLAGS)
        reads = not bits & os.O_WRONLY
    if reads and path not in access.read and path not in access.written:
        access.read[path] = size_and_mtime(path)
    if writes:
        access.written.add(path)


def _listed_by_import() -> bool:
    """The import system lists folders on ``sys.path`` to find modules: not the cell's."""
    frame = sys._getframe(3)  # _listed_by_import <- _note <- _hook <- os.listdir's caller
    return frame.f_code.co_filename.startswith("<frozen importlib")


def size_and_mtime(path: str) -> tuple[int, int] | None:
    """The cheap check of a file: its size and mtime (None when it does not exist)."""
    try:
        found = os.stat(path)
    except OSError:
        return None
    return found.st_size, found.st_mtime_ns


def ignored(path: str) -> bool:
    """Files the interpreter, the kernel and this package open for themselves."""
    return path.startswith(_ignored) or path.endswith(_SKIPPED_SUFFIXES) \
        or f"{os.sep}__pycache__{os.sep}" in path


def _ignored_prefixes() -> tuple[str, ...]:
    import site
    import tempfile

    from orchestrate_nb.settings import HOME_ENV

    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
             *site.getsitepackages(), site.getusersitepackages(), *_SYSTEM_ROOTS}
    home = Path.home()
    roots.update(str(home / name) for name in _OWN_FOLDERS)
    if os.environ.get(HOME_ENV):
        roots.add(os.environ[HOME_ENV])
    for variable in ("IPYTHONDIR", "JUPYTER_RUNTIME_DIR", "JUPYTER_DATA_DIR",
                     "JUPYTER_CONFIG_DIR", "MPLCONFIGDIR"):
        if os.environ.get(variable):
            roots.add(os.environ[variable])
    temp = tempfile.gettempdir()
    return tuple(os.path.abspath(root).rstrip(os.sep) + os.sep for root in roots
                 if root and os.path.abspath(root) not in (os.sep, temp))


def install() -> None:
    """Install the hook (once per process)."""
    global _installed, _ignored
    if _installed:
        return
    with _install_lock:
        if not _installed:
            _ignored = _ignored_prefixes()
            sys.addaudithook(_hook)
            _installed = True


def following(coroutine: Coroutine[Any, Any, Any]) -> Coroutine[Any, Any, Any]:
    """``coroutine``, its files recorded as this thread's cell's when it runs in another
    thread (a cell with a top-level ``await`` runs on a loop in a helper thread)."""
    access = _recorders.get(threading.get_ident())
    if access is None:
        return coroutine

    async def followed() -> Any:
        ident = threading.get_ident()
        _recorders[ident] = access
        try:
            return await coroutine
        finally:
            _recorders.pop(ident, None)

    return followed()


@contextmanager
def recording() -> Iterator[FileAccess]:
    """Record what this thread opens until the block ends."""
    install()
    ident = threading.get_ident()
    access = FileAccess()
    outer = _recorders.get(ident)
    _recorders[ident] = access
    try:
        yield access
    finally:
        if outer is None:
            _recorders.pop(ident, None)
        else:
            _recorders[ident] = outer
