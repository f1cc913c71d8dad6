"""Workloads shared by every engine, written only against the Prefect-compatible API.

The engine is the module named by the `BENCH_ENGINE` environment variable, read once at
import: `orchestrate_nb` (default), `prefect`, or `plain_engine` (no orchestration, the
baseline). The same source therefore runs on Prefect and on orchestrate_nb with only the
import changed, which is the promise being measured.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

ENGINE_ENV = "BENCH_ENGINE"
ENGINE = os.environ.get(ENGINE_ENV, "orchestrate_nb")

_api = importlib.import_module(ENGINE)
flow: Any = _api.flow
task: Any = _api.task


@task
def inc(x: int) -> int:
    return x + 1


@flow
def sequential_flow(n: int) -> int:
    """`n` trivial tasks called one after another."""
    total = 0
    for i in range(n):
        total += inc(i)
    return total


@flow
def mapped_flow(n: int) -> int:
    """`n` trivial tasks submitted at once with `.map`, then every result gathered."""
    futures = inc.map(range(n))
    return sum(future.result() for future in futures)


@flow
def empty_flow() -> None:
    """A flow with no tasks: the fixed cost of one flow run."""
    return None


def plain_empty() -> None:
    return None


def plain_inc(x: int) -> int:
    return x + 1


def expected_total(n: int) -> int:
    """What `sequential_flow(n)` and `mapped_flow(n)` return."""
    return sum(plain_inc(i) for i in range(n))
