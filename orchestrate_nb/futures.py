"""Public futures (``from orchestrate_nb.futures import wait, as_completed``)."""

from orchestrate_nb.engine.futures import (
    PrefectFuture,
    PrefectFutureList,
    TaskRunFuture,
    as_completed,
    wait,
)

__all__ = ["PrefectFuture", "PrefectFutureList", "TaskRunFuture", "as_completed", "wait"]
