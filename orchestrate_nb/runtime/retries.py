"""Retry delays: a number, a list (one per retry, the last repeated) or a callable."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Union

RetryDelay = Union[float, int, Sequence[Union[float, int]], Callable[[int], Sequence[float]], None]


def exponential_backoff(backoff_factor: float) -> Callable[[int], list[float]]:
    """``retry_delay_seconds=exponential_backoff(10)`` gives 10, 20, 40, ... seconds."""

    def delays(retries: int) -> list[float]:
        return [backoff_factor * 2**r for r in range(retries)]

    return delays


def normalise_retry_delays(delay: RetryDelay, retries: int) -> list[float]:
    if delay is None:
        return [0.0]
    if callable(delay):
        delay = delay(retries)
    values = [float(delay)] if isinstance(delay, (int, float)) else [float(d) for d in delay]
    if not values:
        return [0.0]
    if any(v < 0 for v in values):
        raise ValueError("retry_delay_seconds must not be negative")
    return values


def retry_delay(delays: list[float], attempt: int, jitter_factor: float | None) -> float:
    """Delay before retry number ``attempt`` (1-based); jitter spreads it by ±factor."""
    base = delays[min(attempt - 1, len(delays) - 1)]
    if not jitter_factor or base == 0:
        return base
    return max(0.0, base * (1 + jitter_factor * random.uniform(-1.0, 1.0)))
