"""Starting a run's process: forked from a preloaded zygote instead of a fresh interpreter.

A fresh ``python -m orchestrate_nb.deploy.execute`` pays for its imports on every run:
~0.5 s for the engine and store, ~2 s more for papermill. A worker instead starts one zygote
process (``deploy/zygote.py``) that imports all of that once (``warm_up``, called when the
worker starts, so the imports overlap its own start), and each run's process is a fork of
it: it starts in milliseconds with everything loaded. Nothing of the worker's own process
(its ``__main__``, threads, open connections) is copied into a run.

The zygote is driven over a pipe, one JSON line per message:

- worker → zygote: ``{"run_id", "log", "env", "cwd"}``: fork a run process that takes that
  environment (plus ``ORCHESTRATE_NB_FLOW_RUN_ID``) and working directory, leads a session
  of its own (cancelling kills its group: the run and the kernel papermill started for
  it), writes its output to ``log`` and runs ``execute.main([run_id])``;
- zygote → worker: ``{"started": pid}`` (or ``{"error": ...}``) in reply, and
  ``{"exited": pid, "code": c}`` whenever a run process ends (a negative code: killed by
  that signal). The worker waits on the pipe, so it wakes as soon as a run ends.

The zygote exits when the pipe closes (the worker stopped or died); its run processes then
exit too (``execute.main`` watches its parent).
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from orchestrate_nb.errors import OrchestrateError
from orchestrate_nb.settings import FLOW_RUN_ID_ENV, STORE_WRITER_ENV

REPLY_TIMEOUT = 120.0  # the zygote's imports (papermill) on a loaded machine
# Not ``python -m``, which puts the working directory first on sys.path: an ``inspect.py``
# or ``json.py`` in the folder a worker starts in would replace the standard module in the
# zygote and every run. ``-c`` puts "" there instead, dropped before anything is imported
# (PYTHONPATH entries come after it and stay).
ZYGOTE_MAIN = ("import sys\nif sys.path[:1] == ['']: del sys.path[0]\n"
               "from orchestrate_nb.deploy.zygote import main\nmain()")


class LaunchError(OrchestrateError):
    """The zygote could not start a run process."""


class Launcher:
    """The client side of one zygote (started on first use, restarted if it died)."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._zygote: subprocess.Popen[bytes] | None = None
        self._buffer = b""
        self._exits: dict[int, int] = {}
        self.generation = 0  # which zygote: a run process outlives no zygote but its own

    def warm_up(self) -> None:
        with self._lock:
            self._ensure()

    def start(self, run_id: str, log: Path) -> int:
        """Fork a run process; its pid."""
        # A run (and its notebook's kernel) writes the store from a thread: the zygote has
        # the store's modules loaded already, and a writer process would cost a short run
        # more to start than it saves (unless the worker's environment says otherwise).
        env = {STORE_WRITER_ENV: "thread", **os.environ, FLOW_RUN_ID_ENV: run_id}
        request = {"run_id": run_id, "log": str(log), "cwd": os.getcwd(), "env": env}
        with self._lock:
            zygote = self._ensure()
            assert zygote.stdin is not None
            try:
                zygote.stdin.write(json.dumps(request).encode() + b"\n")
                zygote.stdin.flush()
            except (BrokenPipeError, OSError) as exc:
                raise LaunchError(f"the run launcher died: {exc}") from None
            deadline = time.monotonic() + REPLY_TIMEOUT
            while True:
                for message in self._read(max(0.0, deadline - time.monotonic())):
                    if "started" in message:
                        return int(message["started"])
                    if "error" in message:
                        raise LaunchError(f"cannot start run {run_id}: {message['error']}")
                if time.monotonic() >= deadline or zygote.poll() is not None:
                    raise LaunchError(f"the run launcher did not start run {run_id}")

    def exit_code(self, pid: int, generation: int) -> int | None:
        """The exit code of the run process ``pid`` forked by zygote ``generation`` once it
        ended, else None (never blocks)."""
        with self._lock:
            self._read(0.0)
            if pid in self._exits:
                return self._exits[pid]
            if generation != self.generation or self._zygote is None or \
                    self._zygote.poll() is not None:
                return -signal.SIGKILL  # its zygote is gone: it went with it
            return None

    def wait(self, pid: int, generation: int, timeout: float | None = None) -> int | None:
        deadline = None if timeout is None else time.monotonic() + timeout
        while (code := self.exit_code(pid, generation)) is None:
            if deadline is not None and time.monotonic() >= deadline:
                return None
            with self._lock:
                self._read(0.05)
        return code

    def forget(self, pid: int) -> None:
        with self._lock:
            self._exits.pop(pid, None)

    @property
    def fileno(self) -> int | None:
        """Readable when the zygote has news (a run process ended)."""
        zygote = self._zygote
        return None if zygote is None or zygote.stdout is None else zygote.stdout.fileno()

    def stop(self) -> None:
        """Close the pipe: the zygote exits (and with it any run process still running)."""
        with self._lock:
            zygote, self._zygote = self._zygote, None
            if zygote is None:
                return
            assert zygote.stdin is not None and zygote.stdout is not None
            zygote.stdin.close()
            try:
                zygote.wait(timeout=10)
            except subprocess.TimeoutExpired:
                zygote.kill()
                zygote.wait()
            zygote.stdout.close()

    # -- internals ------------------------------------------------------------------------
    def _ensure(self) -> subprocess.Popen[bytes]:
        if self._zygote is not None and self._zygote.poll() is None:
            return self._zygote
        if self._zygote is not None:
            self.stop()
        self._buffer = b""
        self._exits.clear()
        self.generation += 1
        self._zygote = subprocess.Popen(
            [sys.executable, "-c", ZYGOTE_MAIN],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
        return self._zygote

    def _read(self, timeout: float) -> list[dict[str, Any]]:
        """The messages that arrive within ``timeout`` (exits are recorded as they come)."""
        zygote = self._zygote
        if zygote is None or zygote.stdout is None:
            return []
        fd = zygote.stdout.fileno()
        messages = []
        while True:
            ready, _, _ = select.select([fd], [], [], timeout)
            if not ready:
                break
            chunk = os.read(fd, 65536)
            if not chunk:  # the zygote exited
                break
            self._buffer += chunk
            *lines, self._buffer = self._buffer.split(b"\n")
            for line in lines:
                message = json.loads(line)
                if "exited" in message:
                    self._exits[int(message["exited"])] = int(message["code"])
                messages.append(message)
            if messages:
                break
        return messages


_launcher = Launcher()


def warm_up() -> None:
    """Start the zygote now (its imports run while the caller goes on)."""
    _launcher.warm_up()


def stop() -> None:
    """Stop the zygote (after the last run process ended: a caller that is done)."""
    _launcher.stop()


class RunProcess:
    """One run's process, forked by the zygote; it leads its own process group."""

    def __init__(self, run_id: str, log: Path, launcher: Launcher | None = None) -> None:
        self._launcher = launcher or _launcher
        self.pid = self._launcher.start(run_id, log)
        self.generation = self._launcher.generation
        self.returncode: int | None = None

    @property
    def sentinel(self) -> int:
        """A file descriptor readable when some run process of the zygote has ended."""
        fileno = self._launcher.fileno
        return -1 if fileno is None else fileno

    def poll(self) -> int | None:
        """The exit code, or None while it runs."""
        if self.returncode is None:
            self.returncode = self._launcher.exit_code(self.pid, self.generation)
            if self.returncode is not None:
                self._launcher.forget(self.pid)
        return self.returncode

    def kill(self) -> None:
        """SIGKILL its process group (its kernel included), then wait for it to end."""
        if self.poll() is None:
            for kill in (os.killpg, os.kill):  # before setsid() the group is not its own yet
                try:
                    kill(self.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
        self.wait()

    def wait(self, timeout: float | None = None) -> int | None:
        if self.returncode is None:
            self.returncode = self._launcher.wait(self.pid, self.generation, timeout)
            if self.returncode is not None:
                self._launcher.forget(self.pid)
        return self.returncode
