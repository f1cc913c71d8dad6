"""Global concurrency and rate limits, as in ``prefect.concurrency.sync`` / ``.asyncio``.

``orchestrate_nb.concurrency.sync`` and ``orchestrate_nb.concurrency.asyncio`` are
Prefect's two modules; this package's own ``concurrency(...)`` works with ``with`` and with
``async with``, and its ``rate_limit(...)`` blocks when called from sync code and is
awaitable when called from an ``async def`` (``await rate_limit("api")``)::

    from orchestrate_nb.concurrency.sync import concurrency, rate_limit

    with concurrency("database", occupy=2):         # or: async with concurrency(...)
        ...
    rate_limit("api")                               # limits created with a slot decay

Limits are created with ``orchestrate-nb concurrency-limit create NAME N
[--slot-decay-per-second R]`` and live in the run store, so they hold across processes and,
on PostgreSQL, machines. A limit's name is also a task tag: task runs tagged with it take
one of its slots while they run.

As in Prefect, naming a limit that does not exist logs a warning and runs the block
unlimited; ``strict=True`` raises ``ConcurrencyLimitNotFound`` (a
``ConcurrencySlotAcquisitionError``) saying how to create it instead.

Differences from Prefect, on purpose:

- There are no leases to renew: a slot is held until released, or until its process is
  found dead (see ``orchestrate_nb.store.concurrency``). ``lease_duration``,
  ``raise_on_lease_renewal_failure`` and ``holder`` are accepted for compatibility;
  ``holder`` only names the holder in ``concurrency-limit ls``.
- With the run store disabled (``ORCHESTRATE_NB_STORE=0``) limits are not enforced.
"""

from __future__ import annotations

import inspect
import logging
import sys
from types import TracebackType
from typing import Any

from orchestrate_nb.engine import concurrency as _slots
from orchestrate_nb.errors import (
    ConcurrencyLimitNotFound,
    ConcurrencySlotAcquisitionError,
    ConcurrencySlotTimeout,
)

__all__ = [
    "ConcurrencyLimitNotFound", "ConcurrencySlotAcquisitionError", "ConcurrencySlotTimeout",
    "ConcurrencySlots", "concurrency", "rate_limit",
]


class ConcurrencySlots:
    """Holds slots of the named limits for the duration of a ``with``/``async with`` block."""

    def __init__(self, names: str | list[str], occupy: int = 1,
                 timeout_seconds: float | None = None, max_retries: int | None = None,
                 strict: bool = False, holder: Any = None) -> None:
        self.names = _names(names)
        self.occupy = _occupy(occupy)
        self.timeout_seconds = timeout_seconds
        self.max_retries = max_retries
        self.strict = strict
        self.holder = holder
        self._leases: list[_slots.Lease | None] = []  # a stack: the object may be re-entered

    def _request(self) -> _slots.SlotRequest:
        return _request(self.names, self.occupy, self.timeout_seconds, self.max_retries,
                        self.strict, self.holder, rate_limit=False)

    def __enter__(self) -> None:
        self._leases.append(_slots.acquire(self._request()) if self.names else None)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._release()

    async def __aenter__(self) -> None:
        lease = await _slots.acquire_async(self._request()) if self.names else None
        self._leases.append(lease)

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        self._release()

    def _release(self) -> None:
        lease = self._leases.pop() if self._leases else None
        if lease is not None:
            lease.release()


def concurrency(names: str | list[str], occupy: int = 1, timeout_seconds: float | None = None,
                max_retries: int | None = None, lease_duration: float = 300,
                strict: bool = False, holder: Any = None,
                raise_on_lease_renewal_failure: bool | None = None) -> ConcurrencySlots:
    """Acquire ``occupy`` slots of each named limit for the block; release them after it.

    Waits as long as it takes, or raises ``TimeoutError`` (``ConcurrencySlotTimeout``)
    naming the limit after ``timeout_seconds`` or ``max_retries`` attempts. Several names
    are acquired all together or not at all.
    """
    return ConcurrencySlots(names, occupy, timeout_seconds, max_retries, strict, holder)


def rate_limit(names: str | list[str], occupy: int = 1, timeout_seconds: float | None = None,
               strict: bool = False) -> Any:
    """Block until ``occupy`` slots of each named rate limit are free, and take them.

    The limits must have a slot decay: the slots are never released, they drain at that
    rate. Called from an ``async def`` this returns an awaitable (``await rate_limit(...)``);
    called from sync code it blocks and returns None.
    """
    request = _request(_names(names), _occupy(occupy), timeout_seconds, None, strict, None,
                       rate_limit=True)
    if _called_from_coroutine():
        return _rate_limit_async(request)
    if request.names:
        _slots.acquire(request)
    return None


async def _rate_limit_async(request: _slots.SlotRequest) -> None:
    if request.names:
        await _slots.acquire_async(request)


def _called_from_coroutine() -> bool:
    """Whether the caller of our caller is an ``async def`` (or top-level ``await`` code)."""
    try:
        frame = sys._getframe(2)
    except ValueError:
        return False
    return bool(frame.f_code.co_flags & (inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR))


# -- arguments -----------------------------------------------------------------------------
def _names(names: str | list[str]) -> list[str]:
    listed = [names] if isinstance(names, str) else list(names)
    for name in listed:
        if not isinstance(name, str) or not name:
            raise ValueError(f"concurrency limit names are non-empty strings, not {name!r}")
    return listed


def _occupy(occupy: int) -> int:
    if isinstance(occupy, bool) or not isinstance(occupy, int) or occupy < 1:
        raise ValueError(f"occupy must be a whole number of slots, at least 1 (got {occupy!r})")
    return occupy


def _request(names: list[str], occupy: int, timeout: float | None, max_retries: int | None,
             strict: bool, holder: Any, *, rate_limit: bool) -> _slots.SlotRequest:
    return _slots.SlotRequest(
        names, occupy, holder_name=_holder_name(holder), rate_limit=rate_limit, strict=strict,
        timeout=timeout, max_retries=max_retries, announce=_announcer())


def _holder_name(holder: Any) -> str | None:
    if holder is not None:
        return str(getattr(holder, "id", None) or (holder.get("id") if isinstance(
            holder, dict) else None) or holder)
    from orchestrate_nb.engine.context import flow_run_ctx, task_run_ctx

    task_ctx = task_run_ctx.get()
    if task_ctx is not None:
        return f"task run {task_ctx.task_run.name}"
    flow_ctx = flow_run_ctx.get()
    return f"flow run {flow_ctx.flow_run.name}" if flow_ctx is not None else None


def _announcer() -> Any:
    """Log on the run's logger inside a run, else on ``orchestrate_nb.concurrency``."""
    from orchestrate_nb.engine.logging import configure_logging, get_run_logger
    from orchestrate_nb.errors import OrchestrateError

    configure_logging()
    try:
        logger: logging.Logger | logging.LoggerAdapter[Any] = get_run_logger()
    except OrchestrateError:
        logger = logging.getLogger("orchestrate_nb.concurrency")
    return logger.info
