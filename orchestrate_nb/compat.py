"""Prefect names orchestrate_nb does not provide: each is refused with one line naming it.

``unsupported(name, what)`` is the error a module raises when such a name is looked up
(``from orchestrate_nb import get_client``), instead of an ``AttributeError`` from inside.
"""

from __future__ import annotations

from orchestrate_nb.errors import UnsupportedFeature

# Prefect's top-level names we refuse, with what to use instead.
TOP_LEVEL_UNSUPPORTED = {
    "get_client": "the Prefect API client (there is no API server: read run history with "
                  "`orchestrate-nb runs ls` or orchestrate_nb.store)",
    "serve": "serving several deployments at once (use my_flow.serve(name=...), or "
             "deploy_flow(...) and `orchestrate-nb worker start`)",
    "aserve": "serving several deployments at once (use my_flow.serve(name=...))",
    "deploy": "Prefect's deploy() to work pools (use deploy_flow(...) or "
              "deploy_notebook(...), run by `orchestrate-nb worker start`)",
    "suspend_flow_run": "suspending a flow run (its process exits; use pause_flow_run, "
                        "which waits in the process)",
    "asuspend_flow_run": "suspending a flow run (use pause_flow_run, which waits in the "
                         "process)",
}


# Prefect's Flow and Task methods we refuse, with what to use instead.
FLOW_METHODS_UNSUPPORTED = {
    "to_deployment": "deployment objects (use deploy_flow(my_flow, name, ...) or "
                     "my_flow.serve(name=...))",
    "ato_deployment": "deployment objects (use deploy_flow(my_flow, name, ...))",
    "deploy": "deploying to work pools (use deploy_flow(my_flow, name, ...), run by "
              "`orchestrate-nb worker start`)",
    "from_source": "loading flows from remote source (deploy a file: deploy_flow('path.py:fn', "
                   "name))",
    "afrom_source": "loading flows from remote source",
}
TASK_METHODS_UNSUPPORTED = {
    "delay": "background task workers (call the task, or .submit() it inside a flow)",
    "apply_async": "background task workers (call the task, or .submit() it inside a flow)",
    "serve": "serving tasks to task workers (call the task, or .submit() it inside a flow)",
}


def refuse_method(owner: str, kind: str, name: str, table: dict[str, str]) -> AttributeError:
    """A missing attribute of a flow or task: Prefect's method names are refused in one
    line naming them; any other name is an ordinary AttributeError."""
    if name in table:
        raise unsupported(f"{kind}.{name}", table[name])
    return AttributeError(f"{owner} has no attribute {name!r}")


def unsupported(name: str, what: str) -> UnsupportedFeature:
    """The error for a Prefect feature we do not have: one line, naming it."""
    return UnsupportedFeature(f"{name} is not supported by orchestrate_nb: {what}")
