"""The run-graph widget: a traitlets model synced to a small ES module view (anywidget).

It needs no extension of ours: anywidget's own front end loads ``static/graph.js`` and
``static/graph.css`` from the model, so it renders in JupyterLab, Notebook 7 and VS Code.
Its output also carries the graph as ``image/svg+xml`` and ``text/plain``. It lives only
while its run does: when the run ends, ``live.FlowRunWatch`` replaces the output with the
final graph without the widget (``graph_html``), which is what a saved notebook keeps.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anywidget
import ipywidgets
from traitlets import Dict, Unicode

from orchestrate_nb.notebook.graph.fallback import BOX, graph_svg, graph_text
from orchestrate_nb.notebook.graph.states import state_table

STATIC = Path(__file__).parent / "static"
_layout: ipywidgets.Layout | None = None


def _shared_layout() -> ipywidgets.Layout:
    """One Layout model for every run graph: a widget per flow call then opens one comm,
    not two (a third of a millisecond less on every call)."""
    global _layout
    if _layout is None or _layout.comm is None:  # closed (Widget.close_all)
        _layout = ipywidgets.Layout()
    return _layout


class RunGraph(anywidget.AnyWidget):  # type: ignore[misc]
    """Tasks as nodes, dependencies as edges; ``graph`` is a ``GraphModel`` snapshot."""

    _esm = (STATIC / "graph.js").read_text(encoding="utf-8")
    _css = (STATIC / "graph.css").read_text(encoding="utf-8")
    graph = Dict(help="The graph: flow, nodes (laid out), edges.").tag(sync=True)
    states = Dict(state_table(), help="Each node state's mark, colour and finality (the one "
                  "table, graph/states.py).").tag(sync=True)
    box = Dict(BOX, help="Node size and spacing, in pixels (the static SVG's)."
               ).tag(sync=True)
    selected = Unicode(None, allow_none=True, help="The node whose logs are pinned open."
                       ).tag(sync=True)

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("layout", _shared_layout())
        super().__init__(**kwargs)

    def show(self, graph: dict[str, Any]) -> None:
        """Replace the graph: one message to the front end."""
        self.graph = graph

    def _repr_mimebundle_(self, **kwargs: Any) -> tuple[dict[str, Any], dict[str, Any]] | None:
        bundle = super()._repr_mimebundle_(**kwargs)
        if bundle is None:
            return None
        data, metadata = bundle
        data["text/plain"] = graph_text(self.graph)
        data["image/svg+xml"] = graph_svg(self.graph)
        return data, metadata
