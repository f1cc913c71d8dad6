"""``my_flow.serve(...)``: deploy a flow and execute its runs in this process, until stopped.

``serve`` deploys the flow (``deploy_flow``: by its file entrypoint, or pickled by value
when it was defined in a notebook cell or a script run as ``__main__``) into a pool of its
own, ``serve:<deployment name>``, so workers of other pools never take its runs, and runs a
``Worker`` of that pool: its schedule fires, runs triggered with ``orchestrate-nb
deployment run NAME`` start within a second, each in a child process exactly as a worker
runs it (cancel, timeouts and crash retries apply).

The worker runs in a thread while the calling thread waits: SIGINT (Ctrl-C, or "interrupt
kernel" in Jupyter) or SIGTERM stops it — no more runs are taken, running ones get the
worker's grace period to finish — and a second signal kills the running ones now (they end
CRASHED, so retries apply). The signal handlers replaced are restored when ``serve``
returns, with no thread or run process left behind. With ``pause_on_shutdown`` the
deployment is then paused, so no runs pile up while nobody serves; serving it again
resumes it.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import shlex
import signal
import sys
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from orchestrate_nb.deploy.deployments import deploy_flow, schedule_of
from orchestrate_nb.errors import DeploymentError, NotFound
from orchestrate_nb.settings import adopted_flow_run_id

if TYPE_CHECKING:
    from orchestrate_nb.core.flows import Flow
    from orchestrate_nb.deploy.worker import Worker
    from orchestrate_nb.store.deployments import DeploymentInfo

UTC = dt.timezone.utc
POOL_PREFIX = "serve:"
DEFAULT_LIMIT = 4  # runs at once, like a worker's default
WAIT_SECONDS = 0.2  # how often the waiting thread looks at the worker and the signals


def serve(flow: Flow[Any, Any], name: str | None = None, *, cron: str | None = None,
          interval: float | dt.timedelta | None = None, rrule: str | None = None,
          timezone: str = "UTC", parameters: Mapping[str, Any] | None = None,
          tags: Iterable[str] | None = None, retries: int = 0,
          retry_delay_seconds: float = 0, timeout_seconds: float | None = None,
          catchup: str = "latest", limit: int | None = None, pause_on_shutdown: bool = True,
          print_starting_message: bool = True, stop_event: threading.Event | None = None,
          poll: float | None = None) -> None:
    """Deploy ``flow`` as ``name`` (its name by default) and execute its runs here until
    SIGINT/SIGTERM or ``stop_event``; a mistake is a DeploymentError before anything is
    written."""
    inside = _inside_a_run()
    if inside:  # (a script's unguarded serve() re-run where a run's process imports it)
        print(f"orchestrate-nb: serve() skipped: {inside}", file=sys.stderr)
        return
    limit = _check_limit(limit)
    name = flow.name if name is None else name
    if not isinstance(name, str) or not name.strip():
        raise DeploymentError(f"serve needs a non-empty name, got {name!r}")
    info = deploy_flow(flow, name, cron=cron, interval=interval, rrule=rrule,
                       timezone=timezone, parameters=parameters,
                       pool=POOL_PREFIX + name.strip(), retries=retries,
                       retry_delay_seconds=retry_delay_seconds,
                       timeout_seconds=timeout_seconds, tags=tags, catchup=catchup,
                       paused=False)
    _serve_deployment(info, limit, pause_on_shutdown, print_starting_message,
                      stop_event or threading.Event(), poll)


def _inside_a_run() -> str | None:
    """Why this process must not serve: it is a deployment run's (a run never serves)."""
    run_id = adopted_flow_run_id()
    if run_id:
        return f"this process executes deployment run {run_id}"
    if getattr(multiprocessing.current_process(), "_inheriting", False):
        return ("this process is a run's, importing the script that serves (put the serve() "
                "call under `if __name__ == \"__main__\":`)")
    return None


def _check_limit(limit: int | None) -> int:
    if limit is None:
        return DEFAULT_LIMIT
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise DeploymentError(f"limit must be a whole number ≥ 1, got {limit!r}")
    return limit


def _serve_deployment(info: DeploymentInfo, limit: int, pause_on_shutdown: bool,
                      chatty: bool, stop: threading.Event, poll: float | None) -> None:
    from orchestrate_nb.deploy import launcher
    from orchestrate_nb.deploy.worker import POLL_SECONDS, Worker
    from orchestrate_nb.store.database import open_database

    database = open_database()
    try:
        worker = Worker(database, pool=info.pool, limit=limit)
        if chatty:
            print(starting_message(info, limit), flush=True)
        with _signals_stop(stop) as hurry:  # (still ours while pausing: no interruption)
            try:
                _run_worker(worker, stop, hurry, poll or POLL_SECONDS, chatty)
            finally:
                if pause_on_shutdown:
                    _pause(database, info.name)
    finally:
        database.dispose()
        launcher.stop()  # its run processes have ended: leave no process behind
    if chatty:
        again = " (paused until it is served again)" if pause_on_shutdown else ""
        print(f"Stopped serving {info.name!r}{again}.", flush=True)


def starting_message(info: DeploymentInfo, limit: int) -> str:
    schedule = schedule_of(info)
    when = schedule.describe() if schedule is not None else "no schedule"
    return (f"Serving flow {info.flow_name!r} as deployment {info.name!r} ({when}; up to "
            f"{limit} run{'s' if limit != 1 else ''} at once). Start a run with: "
            f"orchestrate-nb deployment run {shlex.quote(info.name)} — stop with Ctrl-C "
            "(in Jupyter: interrupt the kernel).")


@contextmanager
def _signals_stop(stop: threading.Event) -> Iterator[threading.Event]:
    """While inside, SIGINT/SIGTERM set ``stop``, and a second one the event yielded (stop
    now); the handlers replaced are restored on the way out. Off the main thread, where
    handlers cannot be set, only ``stop`` stops."""
    from orchestrate_nb.deploy.worker import borrow_signals, restore_signals

    hurry = threading.Event()

    def handle(signum: int, frame: object) -> None:
        (hurry if stop.is_set() else stop).set()

    previous = borrow_signals(handle)
    try:
        yield hurry
    finally:
        restore_signals(previous)


def _run_worker(worker: Worker, stop: threading.Event, hurry: threading.Event,
                poll: float, chatty: bool) -> None:
    """``worker.run_forever`` in a thread (so that it leaves this thread's signal
    handlers alone) until it returns; re-raises what it raised."""
    failures: list[BaseException] = []

    def work() -> None:
        try:
            worker.run_forever(poll=poll, stop_event=stop)
        except BaseException as exc:
            failures.append(exc)
            stop.set()

    thread = threading.Thread(target=work, name=f"orchestrate-nb-serve-{worker.pool}")
    thread.start()
    try:
        told = killed = False
        while thread.is_alive():
            thread.join(WAIT_SECONDS)
            if stop.is_set() and not told and not failures:
                told = True
                _tell_stopping(worker, chatty)
            if hurry.is_set() and not killed:
                killed = True
                _kill_runs(worker)
    finally:  # (should this thread fail, the worker still stops before serve returns)
        stop.set()
        thread.join()
    if failures:
        raise failures[0]


def _tell_stopping(worker: Worker, chatty: bool) -> None:
    running = len(worker.children)
    if chatty and running:
        print(f"Stopping: {running} running run{'s' if running != 1 else ''} may take up to "
              f"{worker.grace_seconds:.0f} s to finish; press Ctrl-C (interrupt) again to "
              "stop them now.", flush=True)


def _kill_runs(worker: Worker) -> None:
    """Kill the running runs' process groups; the worker ends their runs CRASHED."""
    for child in list(worker.children.values()):
        try:
            os.killpg(child.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def _pause(database: Any, name: str) -> None:
    from orchestrate_nb.store import deployments as store

    try:
        with store.write(database) as conn:
            store.set_paused(conn, name, True, dt.datetime.now(UTC))
    except NotFound:  # removed while served
        pass
