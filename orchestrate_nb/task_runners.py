"""Public task runners (``from orchestrate_nb.task_runners import ThreadPoolTaskRunner``)."""

from orchestrate_nb.runtime.task_runners import TaskRunner, ThreadPoolTaskRunner

__all__ = ["TaskRunner", "ThreadPoolTaskRunner"]
