"""Starting a run's process: forked from a preloaded server instead of a fresh interpreter.

A fresh ``python -m orchestrate_nb.deploy.execute`` pays for its imports on every run:
~0.5 s for the engine and store, ~2 s more for papermill. A worker instead starts one
``multiprocessing`` fork server that imports all of that once (``warm_up``, called when the
worker starts, so the imports overlap its first poll), and each run's process is a fork of
it: it starts in milliseconds with everything loaded.

Each run process (``_child``):

- takes the worker's environment and working directory *at the time of the run* (the fork
  server's are those of when it started), plus ``ORCHESTRATE_NB_FLOW_RUN_ID``;
- starts a session of its own, so cancelling kills its whole process group: the run and
  the kernel papermill started for it;
- writes its output to ``ORCHESTRATE_NB_HOME/runs/<run id>.log``;
- exits when the worker is gone (``execute.main`` watches its parent: the fork server,
  which exits with the worker).
"""

from __future__ import annotations

import atexit
import multiprocessing
import multiprocessing.forkserver
import os
import signal
import sys
from pathlib import Path
from typing import Any

from orchestrate_nb.settings import FLOW_RUN_ID_ENV

PRELOAD = ["orchestrate_nb.deploy.preload"]  # imported once by the fork server
_context = multiprocessing.get_context("forkserver")


def warm_up() -> None:
    """Start the fork server now (its imports run in the background)."""
    _context.set_forkserver_preload(PRELOAD)
    multiprocessing.forkserver.ensure_running()


class RunProcess:
    """One run's process (a ``multiprocessing.Process`` leading its own process group)."""

    def __init__(self, run_id: str, log: Path) -> None:
        _context.set_forkserver_preload(PRELOAD)
        env = {**os.environ, FLOW_RUN_ID_ENV: run_id}
        self._process = _context.Process(target=_child, args=(run_id, str(log), env, os.getcwd()),
                                         name=f"orchestrate-nb-run-{run_id}", daemon=False)
        self._process.start()
        assert self._process.pid is not None
        self.pid: int = self._process.pid

    @property
    def sentinel(self) -> int:
        """Ready (for ``multiprocessing.connection.wait``) once the process has exited."""
        return self._process.sentinel

    def poll(self) -> int | None:
        """The exit code, or None while it runs."""
        return self._process.exitcode

    def kill(self) -> None:
        """SIGKILL its process group (its kernel included), then reap it."""
        if self._process.exitcode is None:
            for kill in (os.killpg, os.kill):  # before setsid() the group is not its own yet
                try:
                    kill(self.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
        self.wait()

    def wait(self, timeout: float | None = None) -> int | None:
        self._process.join(timeout)
        return self._process.exitcode


def _child(run_id: str, log: str, env: dict[str, str], cwd: str) -> None:
    os.setsid()
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    from orchestrate_nb.deploy.execute import main

    try:
        code: Any = main([run_id])
    finally:
        atexit._run_exitfuncs()  # the fork server's children end with os._exit
    sys.exit(code)
