"""Concurrency slots, engine side: which tags are limited, waiting for slots, holding them.

The limits live in the run store (``orchestrate_nb.store.concurrency``), loaded lazily
through the ``slot_store`` port (``engine/ports.py``): the engine never imports the store,
and a process whose task runs have no tags never opens it.

- Hot path: a task run without tags pays one truthiness check; one with tags pays a clock
  read and set lookups in this process's cache of limited names, refreshed (inside the
  engine's ``Blocking`` step, never on the event loop) at most every ``REFRESH_SECONDS``,
  or at once after this process changed a limit.
- Task runs: a run whose tags include limited names takes one slot of each (all or none)
  after a cache miss, before it enters Running; it keeps them across retries (a retrying
  run does not lose its place to others, even during its retry delay) and releases them when it reaches a final
  state, however it gets there (completed, failed, timed out, crashed).
- Waiting: attempts back off from 50 ms to 1 s with jitter; a release in this process wakes
  its waiters at once. The first wait is logged once, at INFO, on the run's logger.
- Holding: while this process holds slots, a daemon thread heartbeats them, so another host
  can tell a live holder from a dead one; at exit, slots still held are released.
- With the run store disabled (``ORCHESTRATE_NB_STORE=0``) nothing is enforced.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import math
import os
import random
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from orchestrate_nb.engine import ports
from orchestrate_nb.errors import ConcurrencySlotTimeout

if TYPE_CHECKING:
    from orchestrate_nb.engine.records import TaskRun

REFRESH_SECONDS = 2.0
HEARTBEAT_SECONDS = 10.0
FIRST_DELAY, MAX_DELAY = 0.05, 1.0

_log = logging.getLogger("orchestrate_nb.concurrency")


class Acquisition(Protocol):
    @property
    def slot_ids(self) -> tuple[int, ...]: ...
    @property
    def blocked_on(self) -> str | None: ...
    @property
    def limit(self) -> int: ...
    @property
    def slot_decay_per_second(self) -> float | None: ...
    @property
    def missing(self) -> tuple[str, ...]: ...
    @property
    def retry_after(self) -> float | None: ...


class SlotStore(Protocol):
    """What the engine needs of ``orchestrate_nb.store.concurrency.ConcurrencyStore``."""

    def limit_names(self) -> frozenset[str]: ...
    def try_acquire(self, names: Sequence[str], occupy: int, holder: str,
                    holder_name: str | None = None, *, rate_limit: bool = False,
                    strict: bool = True) -> Acquisition: ...
    def release(self, slot_ids: Sequence[int]) -> None: ...
    def heartbeat(self) -> None: ...
    def release_owned(self) -> None: ...
    def forget_connections(self) -> None: ...
    def close(self) -> None: ...


class SlotRequest:
    """What one acquisition asks for, and how it waits."""

    __slots__ = ("names", "occupy", "holder", "holder_name", "rate_limit", "strict",
                 "timeout", "max_retries", "announce", "warn_missing")

    def __init__(self, names: Sequence[str], occupy: int = 1, *, holder: str | None = None,
                 holder_name: str | None = None, rate_limit: bool = False, strict: bool = True,
                 timeout: float | None = None, max_retries: int | None = None,
                 announce: Callable[[str], None] | None = None) -> None:
        self.names = tuple(sorted(set(names)))
        self.occupy = occupy
        self.holder = holder or str(uuid.uuid4())
        self.holder_name = holder_name
        self.rate_limit = rate_limit
        self.strict = strict
        self.timeout = timeout
        self.max_retries = max_retries
        self.announce = announce or _log.info
        self.warn_missing = not strict  # tags without a limit are not worth a warning

    def try_once(self, store: SlotStore) -> Acquisition:
        return store.try_acquire(self.names, self.occupy, self.holder, self.holder_name,
                                 rate_limit=self.rate_limit, strict=self.strict)


class Lease:
    """Slots held until ``release()`` (idempotent, never raises)."""

    __slots__ = ("slot_ids", "store", "_released")

    def __init__(self, slot_ids: tuple[int, ...], store: SlotStore) -> None:
        self.slot_ids = slot_ids
        self.store = store
        self._released = False

    def release(self) -> None:
        if self._released:
            return
        self._released = True
        _PROCESS.release(self.store, self.slot_ids)


# -- this process's view of the limits -----------------------------------------------------
class _ProcessSlots:
    """The store, the cache of limited names, the count of held slots, the heartbeat."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.refresh_lock = threading.Lock()
        self.released = threading.Condition()
        self.generation = 0  # bumped by each release in this process
        self.store: SlotStore | None = None
        self.store_key: tuple[str, str] | None = None
        self.names: frozenset[str] = frozenset()
        self.loaded_at = -math.inf
        self.held = 0
        self.heartbeat_thread: threading.Thread | None = None

    def slot_store(self) -> SlotStore | None:
        """The store for the current settings; None when the run store is disabled."""
        from orchestrate_nb.settings import load_settings

        settings = load_settings()
        key = (settings.database_url, str(settings.home))
        with self.lock:
            if not settings.store_enabled:
                return None
            if self.store is None or self.store_key != key:
                factory = ports.load("slot_store")
                old, self.store, self.store_key = self.store, factory(settings), key
                if old is not None and self.held == 0:
                    old.close()
            return self.store

    def limited_names(self) -> frozenset[str]:
        """The cached names, re-read if older than ``REFRESH_SECONDS`` (by one thread)."""
        with self.refresh_lock:
            if time.monotonic() - self.loaded_at <= REFRESH_SECONDS:
                return self.names
            store = self.slot_store()
            names = store.limit_names() if store is not None else frozenset()
            self.names, self.loaded_at = names, time.monotonic()
            return names

    def hold(self, store: SlotStore, slot_ids: tuple[int, ...]) -> Lease:
        with self.lock:
            self.held += len(slot_ids)
            if slot_ids and self.heartbeat_thread is None:
                self.heartbeat_thread = threading.Thread(
                    target=self._heartbeat_loop, name="orchestrate_nb-slot-heartbeat",
                    daemon=True)
                self.heartbeat_thread.start()
        return Lease(slot_ids, store)

    def release(self, store: SlotStore, slot_ids: tuple[int, ...]) -> None:
        if not slot_ids:
            return
        try:
            store.release(slot_ids)
        except Exception as exc:  # the slots are released when this process exits
            _log.warning("could not release concurrency slots now (%s); they will be "
                         "released when this process exits", exc)
        with self.lock:
            self.held = max(0, self.held - len(slot_ids))
        with self.released:
            self.generation += 1
            self.released.notify_all()

    def wait_for_release(self, seen: int, timeout: float) -> None:
        with self.released:
            if self.generation == seen:
                self.released.wait(timeout)

    def _heartbeat_loop(self) -> None:
        while True:
            time.sleep(HEARTBEAT_SECONDS)
            with self.lock:
                store = self.store
                if self.held == 0 or store is None:
                    self.heartbeat_thread = None
                    return
            try:
                store.heartbeat()
            except Exception as exc:
                _log.debug("concurrency slot heartbeat failed: %s", exc)

    def release_all_at_exit(self) -> None:
        store = self.store
        if store is not None and self.held:
            try:
                store.release_owned()
            except Exception:
                pass  # another process will find this one dead


_PROCESS = _ProcessSlots()
atexit.register(lambda: _PROCESS.release_all_at_exit())


def _reset_after_fork() -> None:
    """A child holds none of its parent's slots and must not share its connections."""
    global _PROCESS
    old = _PROCESS
    _PROCESS = _ProcessSlots()
    if old.store is not None:
        old.store.forget_connections()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


def invalidate_limit_cache() -> None:
    """Forget which names are limited (after this process created or removed a limit)."""
    _PROCESS.loaded_at = -math.inf


def slot_store() -> SlotStore | None:
    return _PROCESS.slot_store()


# -- task runs -----------------------------------------------------------------------------
def may_be_limited(tags: tuple[str, ...]) -> bool:
    """Hot path: False when no tag of the run has a limit (per the fresh cache)."""
    process = _PROCESS
    if time.monotonic() - process.loaded_at > REFRESH_SECONDS:
        return True  # the engine's Blocking step refreshes the cache
    names = process.names
    return bool(names) and any(tag in names for tag in tags)


def acquire_task_slots(task_run: TaskRun, logger: Callable[[], logging.LoggerAdapter[Any]]
                       ) -> Lease | None:
    """Block until the run holds a slot of each of its limited tags (never raises).

    Run by the engine's ``Blocking`` step before the run enters Running; a store that
    cannot be reached is logged and the run goes ahead unlimited.
    """
    try:
        names = _PROCESS.limited_names()
        limited = [tag for tag in task_run.tags if tag in names]
        if not limited:
            return None
        request = SlotRequest(limited, holder=task_run.id, holder_name=task_run.name,
                              strict=False, announce=lambda text: logger().info(text))
        request.warn_missing = False
        return acquire(request, subject="tag")
    except Exception as exc:
        logger().error("concurrency limits not enforced for this run: %s", exc)
        return None


# -- waiting -------------------------------------------------------------------------------
class _Backoff:
    """Delays between attempts; announces the first wait; raises when time is up."""

    def __init__(self, request: SlotRequest, subject: str) -> None:
        self.request = request
        self.subject = subject
        self.deadline = (math.inf if request.timeout is None
                         else time.monotonic() + request.timeout)
        self.delay = FIRST_DELAY
        self.attempts = 0

    def next_delay(self, outcome: Acquisition) -> float:
        self.attempts += 1
        if self.attempts == 1:
            self.request.announce(f"waiting for {self._slots()} on {self.subject} "
                                  f"{outcome.blocked_on!r} ({_describe_limit(outcome)})")
        remaining = self.deadline - time.monotonic()
        retries = self.request.max_retries
        if remaining <= 0 or (retries is not None and self.attempts > retries):
            raise self._timeout(outcome)
        if outcome.retry_after is not None:  # a rate limit drains on a known schedule
            return min(remaining, outcome.retry_after + random.uniform(0.001, 0.01))
        delay = min(remaining, self.delay * random.uniform(0.5, 1.5))
        self.delay = min(self.delay * 2, MAX_DELAY)
        return delay

    def _slots(self) -> str:
        kind = "rate-limit slot" if self.request.rate_limit else "concurrency slot"
        occupy = self.request.occupy
        return f"a {kind}" if occupy == 1 else f"{occupy} {kind}s"

    def _timeout(self, outcome: Acquisition) -> ConcurrencySlotTimeout:
        if self.request.timeout is not None:
            waited = f" within {self.request.timeout:g} second(s)"
        else:
            waited = f" in {self.attempts} attempt(s)"
        return ConcurrencySlotTimeout(
            f"could not acquire {self._slots()} on {self.subject} {outcome.blocked_on!r} "
            f"({_describe_limit(outcome)}){waited}")


def _describe_limit(outcome: Acquisition) -> str:
    decay = outcome.slot_decay_per_second
    return f"limit {outcome.limit}" + (f", decaying {decay:g}/s" if decay else "")


def acquire(request: SlotRequest, subject: str = "limit") -> Lease | None:
    """Block until the request's slots are held; None when the store is disabled."""
    store = _PROCESS.slot_store()
    if store is None:
        return None
    backoff = _Backoff(request, subject)
    while True:
        seen = _PROCESS.generation
        outcome = request.try_once(store)
        if outcome.blocked_on is None:
            return _acquired(request, store, outcome)
        _PROCESS.wait_for_release(seen, backoff.next_delay(outcome))


async def acquire_async(request: SlotRequest, subject: str = "limit") -> Lease | None:
    """``acquire`` without blocking the event loop (each attempt runs in a thread)."""
    store = await asyncio.to_thread(_PROCESS.slot_store)
    if store is None:
        return None
    backoff = _Backoff(request, subject)
    while True:
        outcome = await _try_in_thread(request, store)
        if outcome.blocked_on is None:
            return _acquired(request, store, outcome)
        await asyncio.sleep(backoff.next_delay(outcome))


def _acquired(request: SlotRequest, store: SlotStore, outcome: Acquisition) -> Lease | None:
    if outcome.missing and request.warn_missing:
        _log.warning("Concurrency limits %s do not exist - skipping acquisition (create "
                     "one with `orchestrate-nb concurrency-limit create NAME N`; strict=True "
                     "makes this an error)", ", ".join(repr(name) for name in outcome.missing))
    if request.rate_limit or not outcome.slot_ids:  # a rate limit's slots decay by themselves
        return None
    return _PROCESS.hold(store, outcome.slot_ids)


async def _try_in_thread(request: SlotRequest, store: SlotStore) -> Acquisition:
    attempt = asyncio.ensure_future(asyncio.to_thread(request.try_once, store))
    try:
        return await asyncio.shield(attempt)
    except asyncio.CancelledError:
        # The attempt may still succeed: give back what it takes.
        def give_back(done: asyncio.Future[Acquisition]) -> None:
            if not done.cancelled() and done.exception() is None and not request.rate_limit:
                threading.Thread(target=store.release, args=(done.result().slot_ids,),
                                 daemon=True).start()

        attempt.add_done_callback(give_back)
        raise
