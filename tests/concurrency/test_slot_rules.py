"""When a slot counts: held by a live process, heartbeated from another host, not yet decayed."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import threading
import time

from sqlalchemy import insert, select

from orchestrate_nb.concurrency import concurrency
from orchestrate_nb.engine import concurrency as runtime_concurrency
from orchestrate_nb.processes import current_process, process_start_token
from orchestrate_nb.store.concurrency import SLOTS, STALE_AFTER

UTC = dt.timezone.utc


def add_slot(limits, host: str, pid: int, token: str, heartbeat: dt.datetime) -> None:  # type: ignore[no-untyped-def]
    with limits.store.database.write() as conn:
        conn.execute(insert(SLOTS).values(
            limit_name="db", holder="someone", holder_name=None, occupy=1, owner_host=host,
            owner_pid=pid, owner_token=token, acquired_at=heartbeat, heartbeat=heartbeat,
            expires_at=None))


def try_db(limits):  # type: ignore[no-untyped-def]
    return limits.store.try_acquire(["db"], 1, "me")


def test_a_slot_of_a_dead_process_on_this_host_is_released_by_the_next_acquisition(limits):
    limits.create("db", 1)
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True)
    add_slot(limits, current_process().host, int(finished.stdout), "123",
             dt.datetime.now(UTC))

    assert try_db(limits).blocked_on is None
    assert limits.active("db") == 1


def test_a_slot_whose_pid_was_reused_by_another_process_is_released(limits):
    limits.create("db", 1)
    me = current_process()
    add_slot(limits, me.host, me.pid, "a-start-time-that-is-not-ours", dt.datetime.now(UTC))
    assert try_db(limits).blocked_on is None


def test_a_slot_of_a_live_process_on_this_host_is_kept_whatever_its_heartbeat(limits):
    limits.create("db", 1)
    me = current_process()
    add_slot(limits, me.host, me.pid, me.token, dt.datetime.now(UTC) - dt.timedelta(days=1))
    assert try_db(limits).blocked_on == "db"


def test_a_slot_held_on_another_host_counts_until_its_heartbeat_is_stale(limits):
    limits.create("db", 1)
    now = dt.datetime.now(UTC)
    add_slot(limits, "another-host", 4242, "1", now - STALE_AFTER + dt.timedelta(seconds=5))
    assert try_db(limits).blocked_on == "db"

    add_slot(limits, "another-host", 4343, "1", now - STALE_AFTER - dt.timedelta(seconds=1))
    limits.create("db", 2)
    assert try_db(limits).blocked_on is None  # the stale one went; the fresh one stays
    assert limits.active("db") == 2


def test_held_slots_are_heartbeated_while_held(limits, monkeypatch):
    limits.create("db", 1)
    monkeypatch.setattr(runtime_concurrency, "HEARTBEAT_SECONDS", 0.1)
    with concurrency("db"):
        with limits.store.database.read() as conn:
            first = conn.execute(select(SLOTS.c.heartbeat)).scalar_one()
        time.sleep(0.5)
        with limits.store.database.read() as conn:
            later = conn.execute(select(SLOTS.c.heartbeat)).scalar_one()
    assert later > first


def test_the_own_process_start_token_identifies_it():
    me = current_process()
    assert me.token == (process_start_token(me.pid) or "")


def test_many_threads_never_hold_more_slots_than_the_limit(limits):
    limits.create("db", 2)
    lock = threading.Lock()
    running: list[int] = []
    peak: list[int] = []

    def worker(index: int) -> None:
        for _ in range(3):
            with concurrency("db"):
                with lock:
                    running.append(index)
                    peak.append(len(running))
                time.sleep(0.01)
                with lock:
                    running.remove(index)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert len(peak) == 24 and max(peak) == 2
    assert limits.active("db") == 0
