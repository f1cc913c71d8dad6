"""``concurrency()`` and ``rate_limit()``: Prefect's global concurrency API, sync and async."""

from __future__ import annotations

import asyncio
import logging
import threading
import time

import pytest

from orchestrate_nb.concurrency import (
    ConcurrencyLimitNotFound,
    ConcurrencySlotAcquisitionError,
    concurrency,
    rate_limit,
)


def test_a_second_block_occupying_two_of_three_slots_waits_for_the_first_to_release(limits):
    limits.create("gpu", 3)
    first_inside, release_first = threading.Event(), threading.Event()
    moments: dict[str, float] = {}

    def first() -> None:
        with concurrency("gpu", occupy=2):
            first_inside.set()
            release_first.wait(10)
            moments["first released"] = time.monotonic()

    def second() -> None:
        with concurrency("gpu", occupy=2):
            moments["second acquired"] = time.monotonic()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    threads[0].start()
    assert first_inside.wait(10)
    threads[1].start()
    time.sleep(0.5)
    assert "second acquired" not in moments
    assert limits.active("gpu") == 2
    release_first.set()
    for thread in threads:
        thread.join(10)

    assert moments["second acquired"] >= moments["first released"]
    assert moments["second acquired"] - moments["first released"] < 0.5  # woken, not polled
    assert limits.active("gpu") == 0


def test_a_block_is_released_when_its_body_raises(limits):
    limits.create("gpu", 1)
    with pytest.raises(RuntimeError), concurrency("gpu"):
        raise RuntimeError("boom")
    assert limits.active("gpu") == 0


def test_several_names_are_acquired_together_or_not_at_all(limits):
    limits.create("a", 1)
    limits.create("b", 1)
    with concurrency("b"), pytest.raises(TimeoutError), \
            concurrency(["a", "b"], timeout_seconds=0.3):
        pass
    assert limits.active("a") == 0
    with concurrency(["b", "a"]):
        assert (limits.active("a"), limits.active("b")) == (1, 1)


def test_async_with_holds_slots_without_blocking_the_event_loop(limits):
    limits.create("api", 1)
    inside: list[int] = []
    peak: list[int] = []
    ticks: list[float] = []

    async def call(index: int) -> None:
        async with concurrency("api"):
            inside.append(index)
            peak.append(len(inside))
            await asyncio.sleep(0.15)
            inside.remove(index)

    async def ticker() -> None:
        for _ in range(10):
            ticks.append(time.monotonic())
            await asyncio.sleep(0.03)

    async def main() -> None:
        await asyncio.gather(call(1), call(2), call(3), ticker())

    started = time.monotonic()
    asyncio.run(main())

    assert max(peak) == 1 and len(peak) == 3
    assert time.monotonic() - started >= 0.45
    assert max(b - a for a, b in zip(ticks, ticks[1:])) < 0.2  # the loop kept running
    assert limits.active("api") == 0


def test_rate_limit_spaces_calls_by_the_slot_decay(limits):
    limits.create("api", 1, decay=5.0)  # one call per 0.2 s
    moments = []
    for _ in range(4):
        rate_limit("api")
        moments.append(time.monotonic())

    gaps = [b - a for a, b in zip(moments, moments[1:])]
    assert min(gaps) >= 0.15, gaps


def test_rate_limit_allows_a_burst_up_to_the_limit_then_the_decay_rate(limits):
    limits.create("api", 3, decay=10.0)
    started = time.monotonic()
    for _ in range(3):
        rate_limit("api")
    burst = time.monotonic() - started
    rate_limit("api", occupy=2)  # waits until two slots have drained: ~0.2 s

    assert burst < 0.1
    assert time.monotonic() - started >= 0.15


def test_rate_limit_is_awaitable_from_async_code(limits):
    limits.create("api", 1, decay=5.0)

    async def calls() -> list[float]:
        moments = []
        for _ in range(3):
            await rate_limit("api")
            moments.append(time.monotonic())
        return moments

    moments = asyncio.run(calls())
    assert min(b - a for a, b in zip(moments, moments[1:])) >= 0.15


def test_rate_limit_on_a_limit_without_decay_says_how_to_add_one(limits):
    limits.create("db", 2)
    with pytest.raises(ConcurrencySlotAcquisitionError,
                       match="'db' has no slot decay.*--slot-decay-per-second R"):
        rate_limit("db")


def test_waiting_past_the_timeout_raises_a_timeout_error_naming_the_limit(limits):
    limits.create("db", 1)
    started = time.monotonic()
    with concurrency("db"), pytest.raises(TimeoutError) as raised, \
            concurrency("db", timeout_seconds=0.3):
        pass

    assert 0.3 <= time.monotonic() - started < 2
    assert str(raised.value) == ("could not acquire a concurrency slot on limit 'db' "
                                 "(limit 1) within 0.3 second(s)")


def test_max_retries_bounds_the_attempts_like_prefect(limits):
    limits.create("db", 1)
    with concurrency("db"), pytest.raises(TimeoutError, match="in 3 attempt"), \
            concurrency("db", max_retries=2):
        pass


def test_a_name_without_a_limit_is_an_error_that_says_how_to_create_it_when_strict(limits):
    with pytest.raises(ConcurrencyLimitNotFound) as raised, concurrency("nope", strict=True):
        pass
    assert str(raised.value) == ("no concurrency limit named 'nope'; create it with: "
                                 "orchestrate-nb concurrency-limit create nope N")


def test_a_name_without_a_limit_is_skipped_with_a_warning_by_default_like_prefect(limits,
                                                                                  caplog):
    limits.create("db", 1)
    logger = logging.getLogger("orchestrate_nb.concurrency")  # ours do not propagate
    logger.addHandler(caplog.handler)
    try:
        with concurrency(["db", "nope"]):
            assert limits.active("db") == 1
    finally:
        logger.removeHandler(caplog.handler)
    assert "Concurrency limits 'nope' do not exist - skipping acquisition" in caplog.text


def test_occupying_more_slots_than_the_limit_fails_at_once(limits):
    limits.create("db", 2)
    with pytest.raises(ConcurrencySlotAcquisitionError, match="cannot occupy 3 slots.*is 2"), \
            concurrency("db", occupy=3):
        pass


@pytest.mark.parametrize("occupy", [0, -1, 1.5, True])
def test_occupy_must_be_a_positive_whole_number(occupy):
    with pytest.raises(ValueError, match="occupy"):
        concurrency("db", occupy=occupy)


def test_limits_are_not_enforced_when_the_run_store_is_disabled(monkeypatch):
    monkeypatch.setenv("ORCHESTRATE_NB_STORE", "0")
    with concurrency("never-created", occupy=5):
        rate_limit("never-created")
