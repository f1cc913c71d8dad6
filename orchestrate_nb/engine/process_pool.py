"""Worker processes that run shipped task calls, each lent to one call at a time.

Workers are fresh interpreters, never forks (the flow's process runs threads), started with
``python -c`` rather than multiprocessing's spawn: a script is never re-imported in them,
so no ``if __name__ == "__main__":`` guard is needed, and a notebook works (functions
travel by value with cloudpickle). Workers start on demand, up to ``max_workers``.

Unlike ``concurrent.futures.ProcessPoolExecutor``, whose whole pool breaks when one worker
dies, a worker whose call runs past its timeout is killed and replaced, and a worker that
dies fails only the call it was running.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import queue
import signal
import subprocess
import sys
import threading
from multiprocessing.connection import Connection
from typing import Any

from orchestrate_nb.errors import OrchestrateError
from orchestrate_nb.settings import STORE_ENABLED_ENV

_BOOTSTRAP = ("import sys, json; sys.path[:] = json.loads(sys.argv[1]); "
              "from orchestrate_nb.engine.process_pool import serve_fd; "
              "serve_fd(int(sys.argv[2]))")
_STOP_GRACE_S = 2.0


class WorkerDiedError(OrchestrateError):
    """The worker process running a task call exited before it replied."""


class CallTimedOut(OrchestrateError):
    """A call ran past its timeout; its worker was killed."""


# -- the worker process ------------------------------------------------------------------
def serve_fd(fd: int) -> None:
    serve(Connection(fd))


def serve(conn: Connection) -> None:
    """Run calls received on ``conn`` until it closes. Ctrl-C is the flow's to handle,
    and a worker never opens the run store (its task runs are recorded by the flow)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.environ[STORE_ENABLED_ENV] = "0"
    from orchestrate_nb.engine.remote_calls import run_pickled

    while True:
        try:
            payload = conn.recv_bytes()
        except (EOFError, OSError):
            return
        conn.send_bytes(run_pickled(payload))


class WorkerProcess:
    """One worker process and the flow's end of its connection."""

    def __init__(self) -> None:
        self.conn, child = multiprocessing.Pipe()
        self._popen: subprocess.Popen[bytes] | None = None
        self._mp: Any = None
        if os.name == "posix":
            path = json.dumps([str(p) for p in sys.path])
            self._popen = subprocess.Popen(
                [sys.executable, "-c", _BOOTSTRAP, path, str(child.fileno())],
                pass_fds=(child.fileno(),), stdin=subprocess.DEVNULL,
                env={**os.environ, STORE_ENABLED_ENV: "0"})
        else:  # no fd passing: fall back to multiprocessing's spawn
            self._mp = multiprocessing.get_context("spawn").Process(
                target=serve, args=(child,), daemon=True)
            self._mp.start()
        child.close()

    @property
    def pid(self) -> int | None:
        return self._popen.pid if self._popen is not None else self._mp.pid

    def call(self, payload: bytes, timeout: float | None) -> bytes:
        """The worker's reply to ``payload``; CallTimedOut (the worker is then killed) or
        WorkerDiedError."""
        try:
            self.conn.send_bytes(payload)
            if not self.conn.poll(timeout):
                self.kill()
                raise CallTimedOut(f"worker process {self.pid} killed after {timeout:g} s")
            return self.conn.recv_bytes()
        except (EOFError, OSError):
            code = self.exit_code(_STOP_GRACE_S)
            raise WorkerDiedError(f"worker process {self.pid} exited (code {code}) while "
                                  "running the task") from None

    def exit_code(self, wait: float = 0.0) -> int | None:
        """The exit code, or None while it runs (waiting up to ``wait`` seconds)."""
        if self._popen is not None:
            try:
                return self._popen.wait(wait)
            except subprocess.TimeoutExpired:
                return None
        self._mp.join(wait)
        return self._mp.exitcode  # type: ignore[no-any-return]

    def kill(self) -> None:
        (self._popen or self._mp).kill()

    def stop(self) -> None:
        self.conn.close()  # the worker sees EOF and exits
        if self.exit_code(_STOP_GRACE_S) is None:
            self.kill()
            self.exit_code(_STOP_GRACE_S)


class WorkerPool:
    """Up to ``max_workers`` worker processes, started on demand, each lent to one call at
    a time; a caller waits for a free worker."""

    def __init__(self, max_workers: int) -> None:
        # Free slots: a live worker, or None where none was started yet. Last in, first
        # out: a warm worker is reused before another one is started.
        self._free: queue.LifoQueue[WorkerProcess | None] = queue.LifoQueue()
        for _ in range(max_workers):
            self._free.put(None)
        self._live: set[WorkerProcess] = set()
        self._lock = threading.Lock()
        self._closed = False

    def call(self, payload: bytes, timeout: float | None) -> bytes:
        """Run a pickled call on a free worker (see WorkerProcess.call)."""
        worker = self._checkout()
        slot: WorkerProcess | None = worker
        try:
            return worker.call(payload, timeout)
        except (CallTimedOut, WorkerDiedError):
            self._discard(worker)
            slot = None  # a new worker starts there when next needed
            raise
        finally:
            self._free.put(slot)

    def _checkout(self) -> WorkerProcess:
        worker = self._free.get()
        if worker is not None and worker.exit_code() is None:
            return worker
        if worker is not None:  # it died while idle
            self._discard(worker)
        try:
            with self._lock:
                if self._closed:
                    raise OrchestrateError("the worker pool is shut down")
                worker = WorkerProcess()
                self._live.add(worker)
        except BaseException:
            self._free.put(None)
            raise
        return worker

    def _discard(self, worker: WorkerProcess) -> None:
        with self._lock:
            self._live.discard(worker)
        worker.stop()

    def shutdown(self, wait: bool = True) -> None:
        """Stop every worker: gently, or (``wait=False``) killing those still running."""
        with self._lock:
            self._closed = True
            workers = list(self._live)
            self._live.clear()
        for worker in workers:
            if not wait:
                worker.kill()
            worker.stop()
