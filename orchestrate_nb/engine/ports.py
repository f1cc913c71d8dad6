"""The engine's ports: what it uses but never imports, in one table.

The engine sits below the run store and the notebook package (see docs/architecture.md), so
the things it needs from them are named here, as import strings, and loaded on first
use. This is the one place to look for them, and the one seam to replace them:

=================  ==================================================  ============================
port               default implementation                              used by
=================  ==================================================  ============================
run_reporter       ``store.reporter:create_store_reporter``            ``engine/reporting.py``
slot_store         ``store.concurrency:open_concurrency_store``        ``engine/concurrency.py``
pause_control      ``store.pauses:open_pause_control``                 ``engine/pause.py``
flow_run_watcher   ``notebook.graph.live:watch_flow_run``              ``engine/watchers.py``
run_finished       ``alerts.local:dispatch_finished_runs``             ``store/reporter.py``
=================  ==================================================  ============================

``load(port)`` returns the implementation (a factory). Tests, and later the server
extension, replace one with ``override(port, implementation)``, which returns what undoes it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

PORTS: dict[str, str] = {
    "run_reporter": "orchestrate_nb.store.reporter:create_store_reporter",
    "slot_store": "orchestrate_nb.store.concurrency:open_concurrency_store",
    "pause_control": "orchestrate_nb.store.pauses:open_pause_control",
    "flow_run_watcher": "orchestrate_nb.notebook.graph.live:watch_flow_run",
    # flow runs whose final state the store committed: their alerts are evaluated and sent
    "run_finished": "orchestrate_nb.alerts.local:dispatch_finished_runs",
}
_overrides: dict[str, Callable[..., Any]] = {}


def load(port: str) -> Callable[..., Any]:
    """The implementation of ``port``: an override if one is set, else the table's."""
    implementation = _overrides.get(port)
    if implementation is not None:
        return implementation
    module_name, _, attr = PORTS[port].partition(":")
    found: Callable[..., Any] = getattr(importlib.import_module(module_name), attr)
    return found


def override(port: str, implementation: Callable[..., Any]) -> Callable[[], None]:
    """Use ``implementation`` for ``port`` until the returned function is called."""
    if port not in PORTS:
        raise KeyError(f"no port named {port!r} (ports: {', '.join(PORTS)})")
    previous = _overrides.get(port)
    _overrides[port] = implementation

    def restore() -> None:
        if previous is None:
            _overrides.pop(port, None)
        else:
            _overrides[port] = previous

    return restore
