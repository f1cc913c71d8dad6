"""Who watches a top-level flow run as it happens: in a Jupyter kernel, the live run graph.

The engine never imports the notebook package: the watcher is found from an import string,
and only when ipykernel is loaded, so scripts and workers pay one dictionary lookup.
"""

from __future__ import annotations

import importlib
import logging
import sys
from contextlib import AbstractContextManager, nullcontext
from typing import Any

FLOW_RUN_WATCHER = "orchestrate_nb.notebook.graph.live:watch_flow_run"
_log = logging.getLogger("orchestrate_nb.widget")
_warned = False


def watch_flow_run(flow_run: Any, is_top_level: bool) -> AbstractContextManager[Any]:
    """A context manager to run a flow run's engine in (``nullcontext`` when unwatched)."""
    if not is_top_level or "ipykernel" not in sys.modules:
        return nullcontext()
    global _warned
    try:
        module_name, _, attr = FLOW_RUN_WATCHER.partition(":")
        watcher = getattr(importlib.import_module(module_name), attr)(flow_run)
    except Exception:  # a missing widget library must not stop a flow from running
        if not _warned:  # once: a flow called in a loop must not repeat it
            _warned = True
            _log.warning("the live run graph is unavailable", exc_info=True)
        return nullcontext()
    return watcher if watcher is not None else nullcontext()
