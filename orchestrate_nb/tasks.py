"""Public task helpers (``from orchestrate_nb.tasks import exponential_backoff``)."""

from orchestrate_nb.core.tasks import Task, task
from orchestrate_nb.runtime.retries import exponential_backoff

__all__ = ["Task", "task", "exponential_backoff"]
