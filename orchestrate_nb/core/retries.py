"""Retry delays: a number, a list (one per retry, the last repeated) or a callable."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from typing import Any, Union

RetryDelay = Union[float, int, Sequence[Union[float, int]], Callable[[int], Sequence[float]], None]


def exponential_backoff(backoff_factor: float) -> Callable[[int], list[float]]:
    """``retry_delay_seconds=exponential_backoff(10)`` gives 10, 20, 40, ... seconds."""

    def delays(retries: int) -> list[float]:
        return [backoff_factor * 2**r for r in range(retries)]

    return delays


def normalise_retry_delays(delay: RetryDelay, retries: int, owner: str = "task") -> list[float]:
    """The delays before each retry, checked at decoration time: a bad value is one line
    naming the option and what it takes."""
    if delay is None:
        return [0.0]
    given = delay
    if callable(delay):
        delay = delay(retries)
    values: list[Any] | None = [delay] if _is_number(delay) else list(delay) if isinstance(
        delay, (list, tuple)) else None
    if values is None or not all(_is_number(v) and 0 <= v < math.inf for v in values):
        got = f"{given!r} (which returned {delay!r})" if callable(given) else repr(given)
        raise ValueError(f"{owner}: retry_delay_seconds takes seconds ≥ 0: a number, a list "
                         f"of numbers (one per retry) or a callable returning either; got {got}")
    return [float(v) for v in values] or [0.0]


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def retry_delay(delays: list[float], attempt: int, jitter_factor: float | None) -> float:
    """Delay before retry number ``attempt`` (1-based); jitter spreads it by ±factor."""
    base = delays[min(attempt - 1, len(delays) - 1)]
    if not jitter_factor or base == 0:
        return base
    return max(0.0, base * (1 + jitter_factor * random.uniform(-1.0, 1.0)))
