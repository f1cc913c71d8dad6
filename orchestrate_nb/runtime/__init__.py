"""Prefect's runtime module: attributes of the current run, read when asked for.

    from orchestrate_nb.runtime import flow_run, task_run, deployment
    flow_run.name, flow_run.parameters, task_run.run_count, deployment.id

Outside a run every attribute has Prefect's empty value (None, ``[]``, ``{}``, 0, and now
for ``flow_run.scheduled_start_time``). For tests, an environment variable overrides an
attribute, in and out of runs: ``ORCHESTRATE_NB__RUNTIME__FLOW_RUN__NAME=nightly`` (Prefect's
``PREFECT__RUNTIME__FLOW_RUN__NAME`` works too), converted to the attribute's type.
"""

from orchestrate_nb.runtime import deployment, flow_run, task_run

__all__ = ["deployment", "flow_run", "task_run"]
