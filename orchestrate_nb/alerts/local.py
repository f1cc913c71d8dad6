"""Alerts for runs outside deployments, sent by the process that ran the flow.

The store's reporter hands over the ids of flow runs whose final state it has just
committed (through the engine's ``run_finished`` port); a daemon thread evaluates and sends
them, so the flow never waits for a receiver. Runs of deployments are left to the worker
(it sees them end, crash or go late even if this process dies). At interpreter exit the
thread is given up to ``EXIT_WAIT_SECONDS`` to finish what it has.
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import threading
import time

from orchestrate_nb.alerts import delivery
from orchestrate_nb.alerts.evaluate import AlertIndex, run_deliveries
from orchestrate_nb.alerts.facts import read_runs
from orchestrate_nb.errors import OrchestrateError, StoreError
from orchestrate_nb.settings import Settings
from orchestrate_nb.store.database import Database, normalise_url

logger = logging.getLogger("orchestrate_nb.alerts")
EXIT_WAIT_SECONDS = delivery.TIMEOUT_SECONDS + 2
RETRY_WINDOW_SECONDS = 60.0  # how long the process keeps retrying its own failed sends


class LocalDispatcher:
    """One per process: evaluates and sends on its own thread, in the order runs finish."""

    def __init__(self) -> None:
        self.index = AlertIndex(check_seconds=0)  # an alert made just before the run counts
        self.queue: queue.Queue[tuple[Settings, list[str]]] = queue.Queue()
        self.database: Database | None = None  # of the store the last runs were written to
        self.idle = threading.Event()
        self.idle.set()
        self.retry_until = 0.0
        self.thread = threading.Thread(target=self._loop, name="orchestrate_nb-alerts",
                                       daemon=True)
        self.thread.start()
        atexit.register(self.wait, EXIT_WAIT_SECONDS)

    def submit(self, settings: Settings, run_ids: list[str]) -> None:
        self.idle.clear()
        self.queue.put((settings, run_ids))

    def wait(self, timeout: float) -> bool:
        """Until what was submitted is sent (or given up); False on timeout."""
        return self.idle.wait(timeout)

    def _loop(self) -> None:
        while True:
            try:
                settings, run_ids = self.queue.get(timeout=1.0)
            except queue.Empty:
                self._retry_due()
                continue
            try:
                self._dispatch(self._database(settings), run_ids)
            except StoreError as exc:  # the store's reporter says it, in one line
                logger.debug("alerts of %d finished run(s) not evaluated: %s",
                             len(run_ids), exc)
            except OrchestrateError as exc:
                logger.warning("alerts of %d finished run(s) not evaluated: %s",
                               len(run_ids), exc)
            except Exception:  # a bug: never let it stop the thread (nor touch the run)
                logger.exception("alert evaluation failed")
            if self.queue.empty():
                self.idle.set()

    def _database(self, settings: Settings) -> Database:
        """The store the runs were written to (not whatever the environment says now)."""
        from orchestrate_nb.store.database import open_database

        if self.database is None or \
                self.database.engine.url != normalise_url(settings.database_url):
            if self.database is not None:
                self.database.dispose()
            self.database = None
            self.database = open_database(settings)  # (migrated already: it was written)
        return self.database

    def _dispatch(self, database: Database, run_ids: list[str]) -> None:
        with database.read() as conn:
            index = self.index.refresh(conn)
            if not index.alerts:
                return
            runs = [r for r in read_runs(conn, run_ids) if r.deployment_id is None]
            wanted = run_deliveries(conn, index, runs)
        outcomes = delivery.claim_and_send(database, wanted)
        if any(o.status == "retrying" for o in outcomes):
            self.retry_until = time.monotonic() + RETRY_WINDOW_SECONDS

    def _retry_due(self) -> None:
        if time.monotonic() > self.retry_until or self.database is None:
            return
        try:
            outcomes = delivery.send_due(self.database)
        except OrchestrateError as exc:
            logger.debug("alert retries not sent: %s", exc)  # the next try says more
            return
        if any(o.status == "retrying" for o in outcomes):
            self.retry_until = time.monotonic() + RETRY_WINDOW_SECONDS


_lock = threading.Lock()
_dispatchers: dict[int, LocalDispatcher] = {}


def dispatch_finished_runs(settings: Settings, run_ids: list[str]) -> None:
    """The ``run_finished`` port: called on the store's writer thread; returns at once."""
    with _lock:
        dispatcher = _dispatchers.get(os.getpid())
        if dispatcher is None:
            dispatcher = _dispatchers[os.getpid()] = LocalDispatcher()
    dispatcher.submit(settings, run_ids)


def wait_for_local_alerts(timeout: float = EXIT_WAIT_SECONDS) -> bool:
    """Wait until this process's alerts are sent (tests; a script that exits right away
    is covered by the exit hook)."""
    dispatcher = _dispatchers.get(os.getpid())
    return True if dispatcher is None else dispatcher.wait(timeout)


