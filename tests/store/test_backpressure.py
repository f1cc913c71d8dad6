"""The store's backlog stays bounded: a writer that falls behind slows its emitters down,
never drops an event, and a stuck store does not hold them for longer than the flush wait."""

from __future__ import annotations

import dataclasses
import sqlite3
import threading
import time

import pytest
from polling import wait_for

from orchestrate_nb.store import database as database_module
from orchestrate_nb.store.reporter import StoreReporter


def _slow_writes(reporter: StoreReporter, seconds: float) -> None:
    write = reporter._write

    def slow(events):  # a store that takes its time over every batch
        time.sleep(seconds)
        write(events)

    reporter._write = slow  # type: ignore[method-assign]


def _emit_all(reporter: StoreReporter, events) -> int:
    """Emit ``events``; the longest the queue got."""
    longest = 0
    for event in events:
        reporter.emit(event)
        longest = max(longest, len(reporter._queue))
    return longest


def test_a_writer_that_falls_behind_slows_the_emitter_and_loses_nothing(settings, synthetic,
                                                                         query):
    reporter = StoreReporter(settings, batch_size=50, max_backlog=200, writer="thread")
    _slow_writes(reporter, 0.02)
    run, _, events = synthetic.completed_flow(tasks=300)  # ~900 events, 4.5× the backlog

    longest = _emit_all(reporter, events)
    reporter.flush()
    reporter.close()

    assert longest <= 200
    assert len(query("SELECT id FROM task_runs WHERE state_type = 'COMPLETED'")) == 300
    assert reporter.lost_events == 0


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_stuck_store_holds_the_emitter_no_longer_than_the_flush_wait(settings, synthetic,
                                                                       query, monkeypatch):
    monkeypatch.setattr(database_module, "BUSY_TIMEOUT_SECONDS", 0.05)
    query("SELECT 1")  # the store exists
    reporter = StoreReporter(dataclasses.replace(settings, flush_wait=0.5), batch_size=20,
                             max_backlog=40, retry_window=60)
    locker = sqlite3.connect(settings.home / "orchestrate_nb.db", isolation_level=None,
                             check_same_thread=False)
    locker.execute("BEGIN IMMEDIATE")  # another process holds the write lock until we say
    run, _, events = synthetic.completed_flow(tasks=100)
    try:
        done = threading.Event()
        threading.Thread(target=lambda: (_emit_all(reporter, events), done.set()),
                         daemon=True).start()
        # The writer retries the lock for up to a minute; the emitter goes on after 0.5 s.
        wait_for(done.is_set, "every event to be emitted while the store is locked", 20)
    finally:
        locker.rollback()
    reporter.flush()
    reporter.close()
    assert len(query("SELECT id FROM task_runs WHERE state_type = 'COMPLETED'")) == 100
    assert reporter.lost_events == 0


def test_a_writer_process_that_falls_behind_slows_the_emitter_and_loses_nothing(
        settings, synthetic, query):
    """The batches go to a writer process; while another thread is handing them over (here:
    the test holds the hand-over for a second), an emitter past the backlog waits."""
    reporter = StoreReporter(dataclasses.replace(settings, store_writer="process"),
                             batch_size=50, max_backlog=200)
    reporter.emit(synthetic.flow_run_created())
    reporter.flush()  # the writer process is up
    assert reporter.writer_pid is not None
    run, _, events = synthetic.completed_flow(tasks=300)
    longest: list[int] = []
    done = threading.Event()
    with reporter._send_lock:
        threading.Thread(target=lambda: (longest.append(_emit_all(reporter, events)),
                                         done.set()), daemon=True).start()
        time.sleep(1.0)
        assert not done.is_set(), "the emitter went on past the backlog"
        assert len(reporter._queue) <= 200
    wait_for(done.is_set, "every event to be emitted once the hand-over goes on", 20)
    reporter.flush()
    reporter.close()

    assert longest[0] <= 200
    assert len(query("SELECT id FROM task_runs WHERE state_type = 'COMPLETED'")) == 300
    assert reporter.lost_events == 0
