"""Task runs whose tags have a limit hold a slot while they run, on every way out."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from orchestrate_nb import flow, tags, task
from orchestrate_nb.engine import concurrency as runtime_concurrency
from orchestrate_nb.store.concurrency import ConcurrencyStore
from orchestrate_nb.task_runners import ThreadPoolTaskRunner


class Overlap:
    """How many task bodies ran at once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running = 0
        self.peak = 0

    def run(self, seconds: float) -> None:
        with self.lock:
            self.running += 1
            self.peak = max(self.peak, self.running)
        time.sleep(seconds)
        with self.lock:
            self.running -= 1


def test_tagged_task_runs_in_one_flow_respect_the_limit(limits):
    limits.create("db", 2)
    overlap = Overlap()

    @task(tags=["db"])
    def query(index: int) -> int:
        overlap.run(0.1)
        return index

    @flow(task_runner=ThreadPoolTaskRunner(max_workers=6))
    def load() -> list[int]:
        return [future.result() for future in query.map(range(6))]

    assert load() == list(range(6))
    assert overlap.peak == 2
    assert limits.active("db") == 0


def test_the_tags_context_manager_limits_task_runs_too(limits):
    limits.create("db", 1)
    overlap = Overlap()

    @task
    def query() -> None:
        overlap.run(0.1)

    @flow(task_runner=ThreadPoolTaskRunner(max_workers=3))
    def load() -> None:
        with tags("db"):
            futures = [query.submit() for _ in range(3)]
        for future in futures:
            future.result()

    load()
    assert overlap.peak == 1


def test_async_tagged_tasks_wait_for_slots_without_blocking_each_other(limits):
    limits.create("db", 1)
    overlap = Overlap()

    @task(tags=["db"])
    async def query() -> None:
        with overlap.lock:
            overlap.running += 1
            overlap.peak = max(overlap.peak, overlap.running)
        await asyncio.sleep(0.1)
        with overlap.lock:
            overlap.running -= 1

    @flow
    async def load() -> None:
        await asyncio.gather(query(), query(), query())

    asyncio.run(load())
    assert overlap.peak == 1


def test_waiting_is_logged_once_on_the_task_runs_logger(limits, run_logs):
    limits.create("db", 1)
    release = threading.Event()
    holding = threading.Event()

    @task(tags=["db"], task_run_name="holder")
    def hold() -> None:
        holding.set()
        release.wait(10)

    @task(tags=["db"], task_run_name="waiter")
    def wait_for_slot() -> None:
        return None

    @flow(task_runner=ThreadPoolTaskRunner(max_workers=2))
    def load() -> None:
        holder = hold.submit()
        assert holding.wait(10)  # (else the waiter may take the slot first and never wait)
        waiter = wait_for_slot.submit()
        time.sleep(0.6)  # several attempts
        release.set()
        holder.result()
        waiter.result()

    load()
    waits = [m for m in run_logs.messages() if m.startswith("waiting for")]
    assert waits == ["waiting for a concurrency slot on tag 'db' (limit 1)"]


def test_a_running_task_run_is_listed_as_the_holder_of_its_slot(limits):
    limits.create("db", 2)
    seen: list[list[str | None]] = []

    @task(tags=["db"], task_run_name="load-orders")
    def load_orders() -> None:
        seen.append(limits.holders("db"))

    load_orders()
    assert seen == [["load-orders"]]


def test_the_slot_is_kept_across_retries_and_released_after_the_last_attempt(limits):
    limits.create("db", 1)
    active: list[float] = []

    @task(tags=["db"], retries=2, retry_delay_seconds=0)
    def flaky() -> None:
        active.append(limits.active("db"))
        raise ValueError("try again")

    with pytest.raises(ValueError):
        flaky()
    assert active == [1, 1, 1]
    assert limits.active("db") == 0


def test_slots_are_released_after_a_failure_a_timeout_and_a_crash(limits):
    limits.create("db", 1)

    class Interrupted(BaseException):
        pass

    @task(tags=["db"])
    def fails() -> None:
        raise ValueError("no")

    @task(tags=["db"], timeout_seconds=0.2)
    def hangs() -> None:
        time.sleep(2)

    @task(tags=["db"])
    def crashes() -> None:
        raise Interrupted()

    with pytest.raises(ValueError):
        fails()
    assert limits.active("db") == 0
    with pytest.raises(TimeoutError):
        hangs()
    assert limits.active("db") == 0
    with pytest.raises(Interrupted):
        crashes()
    assert limits.active("db") == 0


def test_a_limit_created_in_this_process_applies_to_the_next_task_run_at_once(limits, cli):
    @task(tags=["db"])
    def query() -> dict[str, float]:
        return {info.name: info.active_slots for info in limits.store.list_limits()}

    assert query() == {}  # and "db is not limited" is cached for a while
    assert cli("concurrency-limit", "create", "db", "1").code == 0
    assert query() == {"db": 1}


def test_task_runs_without_tags_never_touch_the_database(limits, monkeypatch):
    limits.create("db", 1)
    touched: list[str] = []

    def refuse(what: str):  # type: ignore[no-untyped-def]
        def touch(*args, **kwargs):  # type: ignore[no-untyped-def]
            touched.append(what)
            raise RuntimeError("the concurrency store is down")
        return touch

    for name in ("try_acquire", "limit_names", "release"):
        monkeypatch.setattr(ConcurrencyStore, name, refuse(name))
    monkeypatch.setattr(runtime_concurrency._ProcessSlots, "slot_store", refuse("open"))

    @task
    def plain(x: int) -> int:
        return x + 1

    @flow
    def pipeline() -> list[int]:
        return [plain(i) for i in range(50)] + [f.result() for f in plain.map(range(50))]

    assert pipeline() == [i + 1 for i in range(50)] * 2
    assert touched == []


def test_tags_without_a_limit_read_the_limit_names_at_most_every_two_seconds(limits,
                                                                            monkeypatch):
    limits.create("db", 1)
    reads: list[float] = []
    real = ConcurrencyStore.limit_names

    def counted(self: ConcurrencyStore) -> frozenset[str]:
        reads.append(time.monotonic())
        return real(self)

    acquired: list[object] = []
    monkeypatch.setattr(ConcurrencyStore, "limit_names", counted)
    monkeypatch.setattr(ConcurrencyStore, "try_acquire",
                        lambda *args, **kwargs: acquired.append(args))

    @task(tags=["reporting", "nightly"])
    def report(x: int) -> int:
        return x

    @flow
    def pipeline() -> None:
        for i in range(200):
            report(i)

    pipeline()
    assert len(reads) == 1
    assert acquired == []


def test_limits_are_not_enforced_when_the_run_store_is_disabled(monkeypatch, run_logs):
    monkeypatch.setenv("ORCHESTRATE_NB_STORE", "0")
    overlap = Overlap()

    @task(tags=["db"])
    def query() -> None:
        overlap.run(0.1)

    @flow(task_runner=ThreadPoolTaskRunner(max_workers=3))
    def load() -> None:
        for future in [query.submit() for _ in range(3)]:
            future.result()

    load()
    assert overlap.peak == 3
    assert not [m for m in run_logs.messages() if "concurrency" in m]


def test_a_store_that_cannot_be_reached_is_logged_and_the_task_runs_unlimited(
        limits, monkeypatch, run_logs):
    limits.create("db", 1)

    def down(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("the concurrency store is down")

    monkeypatch.setattr(ConcurrencyStore, "try_acquire", down)

    @task(tags=["db"])
    def query() -> int:
        return 1

    assert query() == 1
    assert ("concurrency limits not enforced for this run: the concurrency store is down"
            in run_logs.messages())
