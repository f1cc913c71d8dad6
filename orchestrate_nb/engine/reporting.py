"""Where the engine's events go.

The engine never imports the store: the store's reporter is created lazily through
the ``run_reporter`` port (``engine/ports.py``), so the engine stays importable and fast
without SQLAlchemy loaded.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from orchestrate_nb.core.events import RunEvent, RunReporter
from orchestrate_nb.engine import ports

_lock = threading.Lock()
_store_reporter: RunReporter | None = None
_store_failed = False
_subscribers: list[RunReporter] = []
_log = logging.getLogger("orchestrate_nb.reporting")


class ListReporter:
    """Keeps every event in a list: for tests and in-process consumers."""

    def __init__(self) -> None:
        self.events: list[RunEvent] = []

    def emit(self, event: RunEvent) -> None:
        self.events.append(event)

    def flush(self, timeout: float | None = None) -> None:
        return None

    def close(self) -> None:
        return None

    def of_type(self, cls: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, cls)]


def _load_store_reporter() -> RunReporter | None:
    global _store_reporter, _store_failed
    with _lock:
        if _store_reporter is not None or _store_failed:
            return _store_reporter
        from orchestrate_nb.settings import load_settings

        settings = load_settings()
        if not settings.store_enabled:
            _store_failed = True
            return None
        _store_reporter = ports.load("run_reporter")(settings)
        return _store_reporter


class _Fanout:
    """The reporter the engine talks to: the store's, plus any subscribers."""

    def emit(self, event: RunEvent) -> None:
        store = _store_reporter or _load_store_reporter()
        if store is not None:
            store.emit(event)
        notify_subscribers(event)

    def flush(self, timeout: float | None = None) -> None:
        if _store_reporter is not None:
            _store_reporter.flush(timeout)
        for sub in _subscribers:
            sub.flush(timeout)

    def close(self) -> None:
        flush_and_close_store()


_FANOUT = _Fanout()


def get_reporter() -> RunReporter:
    return _FANOUT


def subscribe(reporter: RunReporter) -> None:
    """Send every following event to ``reporter`` too (the widget, a test's list)."""
    _subscribers.append(reporter)


def notify_subscribers(event: RunEvent) -> None:
    """Send ``event`` to the subscribers only: for a state the store has already recorded
    (a paused run's states are written to the store directly, see ``engine/pause.py``)."""
    for sub in _subscribers:
        try:
            sub.emit(event)
        except Exception:  # a broken subscriber must never break a run
            _log.exception("run event subscriber failed")


def unsubscribe(reporter: RunReporter) -> None:
    if reporter in _subscribers:
        _subscribers.remove(reporter)


def flush_and_close_store() -> None:
    """Close the store's reporter (it is re-created, from the environment, on the next event)."""
    global _store_reporter, _store_failed
    with _lock:
        reporter, _store_reporter, _store_failed = _store_reporter, None, False
    if reporter is not None:
        reporter.close()


def store_reporter() -> RunReporter | None:
    """The store's reporter, created if the store is enabled."""
    return _store_reporter or _load_store_reporter()
