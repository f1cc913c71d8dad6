"""Folders and files in the home are its owner's only: 0700 and 0600, whatever the umask.

The home holds run parameters, logs, results and executed notebooks (and, on a shared
machine, nothing of it is anyone else's business). Everything that creates a folder or a
file there goes through these helpers, so no code path falls back to the umask's 0755/0644.
A folder that exists already is left as it is: it may be shared on purpose, and a home made
by an older version is the user's to close (``chmod 700``), as the README says.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: str | os.PathLike[str]) -> Path:
    """``path`` as a folder, created (with missing parents) readable by its owner only."""
    path = Path(path)
    missing = []
    for folder in (path, *path.parents):
        if folder.is_dir():
            break
        missing.append(folder)
    for folder in reversed(missing):
        # mkdir's mode is filtered by the umask; 0700 loses nothing to a usual one, and the
        # chmod makes sure of it.
        with contextlib.suppress(FileExistsError):
            folder.mkdir(mode=DIR_MODE)
            os.chmod(folder, DIR_MODE)
    return path


def open_private(path: str | os.PathLike[str], flags: int) -> int:
    """``os.open`` that creates a missing file with mode 0600 (``O_CREAT`` is implied)."""
    return os.open(path, flags | os.O_CREAT, FILE_MODE)


def private_file(path: str | os.PathLike[str]) -> Path:
    """``path`` created empty with mode 0600 if it does not exist (others then write it).

    An existing file is never opened: closing any descriptor of a SQLite database drops
    every lock this process's connections hold on it.
    """
    private_dir(Path(path).parent)
    with contextlib.suppress(FileExistsError):
        os.close(open_private(path, os.O_WRONLY | os.O_EXCL))
    return Path(path)
