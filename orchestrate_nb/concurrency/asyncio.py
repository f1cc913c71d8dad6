"""Prefect's ``prefect.concurrency.asyncio``: ``concurrency`` (an ``async with`` block)
and ``rate_limit`` (awaited). See ``orchestrate_nb.concurrency``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from orchestrate_nb.concurrency import (
    ConcurrencyLimitNotFound,
    ConcurrencySlotAcquisitionError,
    ConcurrencySlots,
    ConcurrencySlotTimeout,
    _names,
    _occupy,
    _request,
)
from orchestrate_nb.engine import concurrency as _slots

__all__ = ["ConcurrencyLimitNotFound", "ConcurrencySlotAcquisitionError",
           "ConcurrencySlotTimeout", "concurrency", "rate_limit"]


@asynccontextmanager
async def concurrency(names: str | list[str], occupy: int = 1,
                      timeout_seconds: float | None = None, max_retries: int | None = None,
                      lease_duration: float = 300, strict: bool = False, holder: Any = None,
                      suppress_warnings: bool = False) -> AsyncIterator[None]:
    """Hold ``occupy`` slots of each named limit for the block, waiting without blocking
    the event loop. A limit that does not exist: a warning and no limit (``strict=True``
    raises)."""
    async with ConcurrencySlots(names, occupy, timeout_seconds, max_retries, strict, holder):
        yield


async def rate_limit(names: str | list[str], occupy: int = 1,
                     timeout_seconds: float | None = None, strict: bool = False) -> None:
    """Wait until ``occupy`` slots of each named rate limit are free, and take them."""
    request = _request(_names(names), _occupy(occupy), timeout_seconds, None, strict, None,
                       rate_limit=True)
    if request.names:
        await _slots.acquire_async(request)
