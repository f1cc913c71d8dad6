"""Public task helpers (``from orchestrate_nb.tasks import exponential_backoff``)."""

from __future__ import annotations

from typing import Any

from orchestrate_nb.core.retries import exponential_backoff
from orchestrate_nb.core.tasks import Task, task

__all__ = ["Task", "task", "exponential_backoff", "task_input_hash"]


def task_input_hash(context: Any, arguments: dict[str, Any]) -> str | None:
    """Prefect's ``cache_key_fn``: a hash of the task (its key and code) and its inputs.

    Use as ``@task(cache_key_fn=task_input_hash)``. The key is global (not combined with the
    task's key again), as in Prefect, but includes the task's key itself."""
    from orchestrate_nb.results.cache_policies import fingerprint_named
    from orchestrate_nb.results.fingerprint import fingerprint_parts

    task_ = context.task
    inputs = fingerprint_named(arguments, "parameter") if arguments else ""
    return fingerprint_parts(task_.task_key, task_.fn.__code__.co_code.hex(), inputs)
