"""Who watches a top-level flow run as it happens: in a Jupyter kernel, the live run graph.

The engine never imports the notebook package: the watcher is a port (``engine/ports.py``),
and only when ipykernel is loaded, so scripts and workers pay one dictionary lookup.
"""

from __future__ import annotations

import logging
import sys
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from orchestrate_nb.engine import ports

_log = logging.getLogger("orchestrate_nb.widget")
_warned = False


def watch_flow_run(flow_run: Any, is_top_level: bool) -> AbstractContextManager[Any]:
    """A context manager to run a flow run's engine in (``nullcontext`` when unwatched)."""
    if not is_top_level or "ipykernel" not in sys.modules:
        return nullcontext()
    global _warned
    try:
        watcher = ports.load("flow_run_watcher")(flow_run)
    except Exception:  # a missing widget library must not stop a flow from running
        if not _warned:  # once: a flow called in a loop must not repeat it
            _warned = True
            _log.warning("the live run graph is unavailable", exc_info=True)
        return nullcontext()
    return watcher if watcher is not None else nullcontext()
