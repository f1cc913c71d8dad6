"""Concurrency fixtures: a fresh per-process slot state, limits in the store under test,
the CLI in-process, and log lines as the run store would record them.

``database_url`` (tests/conftest.py) runs a test on SQLite and, with
``ORCHESTRATE_NB_TEST_POSTGRES_URL`` set, on a PostgreSQL schema of its own.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from orchestrate_nb.core.events import LogEmitted
from orchestrate_nb.engine import concurrency as runtime_concurrency
from orchestrate_nb.engine import reporting
from orchestrate_nb.engine.reporting import ListReporter
from orchestrate_nb.store.concurrency import ConcurrencyStore, open_concurrency_store


@pytest.fixture(autouse=True)
def fresh_slots(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts with no cached limits and no store open in this process."""
    process = runtime_concurrency._ProcessSlots()
    monkeypatch.setattr(runtime_concurrency, "_PROCESS", process)
    yield
    if process.store is not None:
        process.store.close()


class Limits:
    """Create and inspect limits in the store the code under test uses."""

    def __init__(self, store: ConcurrencyStore) -> None:
        self.store = store

    def create(self, name: str, limit: int, decay: float | None = None) -> None:
        self.store.set_limit(name, limit, decay)
        runtime_concurrency.invalidate_limit_cache()

    def active(self, name: str) -> float:
        return next(info.active_slots for info in self.store.list_limits() if info.name == name)

    def holders(self, name: str) -> list[str | None]:
        info = next(info for info in self.store.list_limits() if info.name == name)
        return [holder.holder_name for holder in info.holders]


@pytest.fixture
def limits(database_url: str) -> Iterator[Limits]:
    store = open_concurrency_store()
    yield Limits(store)
    store.close()





class RunLogs(ListReporter):
    def messages(self) -> list[str]:
        return [event.message for event in self.of_type(LogEmitted)]


@pytest.fixture
def run_logs() -> Iterator[RunLogs]:
    """Log lines of runs, as the run store receives them."""
    recorded = RunLogs()
    reporting.subscribe(recorded)
    yield recorded
    reporting.unsubscribe(recorded)

