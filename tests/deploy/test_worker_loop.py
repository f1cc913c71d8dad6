"""The worker's loop in-process: a store that stays unreachable, and the signal handlers it
borrows while it runs."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy.exc import OperationalError

from orchestrate_nb.deploy import worker as worker_module
from orchestrate_nb.deploy.worker import Worker
from orchestrate_nb.errors import StoreError
from orchestrate_nb.store.database import Database


class UnreachableDatabase:
    """Every transaction fails the way a database that went away does."""

    attempts = 0
    display_url = "postgresql+psycopg://db.example/test"

    @contextmanager
    def _fail(self) -> Iterator[None]:
        self.attempts += 1
        raise OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused"))
        yield  # pragma: no cover

    read = write = _fail


def test_a_run_once_worker_gives_up_with_one_line_when_the_store_stays_down(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(worker_module, "FAILURE_WAIT_SECONDS", 0.01)
    database = UnreachableDatabase()
    worker = Worker(database, run_once=True, maintenance_seconds=0)  # type: ignore[arg-type]
    with pytest.raises(StoreError) as raised:
        worker.run_forever(poll=0.01)
    assert database.attempts >= worker_module.RUN_ONCE_ATTEMPTS
    message = str(raised.value)
    assert message.startswith("the worker cannot reach the run store: ")
    assert "connection refused" in message and "\n" not in message


def test_run_forever_restores_the_signal_handlers_it_replaced(database: Database) -> None:
    def mine(*_: object) -> None:
        pass

    before_int = signal.signal(signal.SIGINT, mine)
    before_term = signal.signal(signal.SIGTERM, mine)
    try:
        stop = threading.Event()
        worker = Worker(database)
        threading.Timer(0.3, stop.set).start()
        worker.run_forever(poll=0.05, stop_event=stop)
        assert signal.getsignal(signal.SIGINT) is mine
        assert signal.getsignal(signal.SIGTERM) is mine
    finally:
        signal.signal(signal.SIGINT, before_int)
        signal.signal(signal.SIGTERM, before_term)
