"""Which process owns a run, and whether that process is still alive.

A pid alone is not an identity: pids are recycled. The owner token is the process start
time (field 22 of ``/proc/<pid>/stat``, in clock ticks since boot) where the platform has
it; elsewhere it is empty and the pid alone decides.
"""

from __future__ import annotations

import os
import socket
from functools import lru_cache
from typing import NamedTuple


class ProcessIdentity(NamedTuple):
    host: str
    pid: int
    token: str


def current_process() -> ProcessIdentity:
    """This process (recomputed after a fork: the pid changes)."""
    pid = os.getpid()
    return ProcessIdentity(_hostname(), pid, process_start_token(pid) or "")


@lru_cache(maxsize=1)
def _hostname() -> str:
    return socket.gethostname()


def process_start_token(pid: int) -> str | None:
    """The start time of ``pid``, or None when it cannot be read (no /proc, or no process)."""
    stat = _proc_stat(pid)
    return stat[1] if stat else None


def _proc_stat(pid: int) -> tuple[str, str] | None:
    """(state letter, start time) from /proc/<pid>/stat."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            raw = stat.read()
    except OSError:
        return None
    # The command name (field 2) may contain spaces and parentheses: split after its ")".
    fields = raw[raw.rfind(b")") + 2 :].split()
    if len(fields) < 20:
        return None
    return fields[0].decode(), fields[19].decode()


def is_local_process_alive(pid: int, token: str | None) -> bool:
    """Whether ``pid`` on this host is still the process that recorded ``token``."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, owned by another user
    except OSError:
        return False
    stat = _proc_stat(pid)
    if stat is None:  # no /proc here: the pid is all we can go by
        return True
    state, start = stat
    if state in ("Z", "X"):  # killed, not yet reaped by its parent
        return False
    return not token or start == token


def is_local_host(host: str | None) -> bool:
    return host == _hostname()
