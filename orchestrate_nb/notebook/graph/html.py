"""The run graph as a saved notebook keeps it: an output with no widget in it.

JupyterLab draws an output with the widget MIME type as a widget, whatever else it carries;
reopened without a kernel (and without saved widget state) it shows "Error displaying
widget: model not found" instead. So once a graph is final, its output is replaced by this
bundle: our own MIME type, ``RUN_GRAPH_MIME`` (the snapshot with the state table and the node
box, which the orchestrate-nb labextension draws with the inline widget's own renderer, with
states and hover details, in trusted and untrusted notebooks alike), then HTML (the SVG, with
hover titles, then each failure's exception and user frame and the last log lines, in
``<details>`` that open without any script), the SVG alone, and text. Every frontend picks
what it can draw: JupyterLab and Notebook 7 with the labextension take the first; without it,
and in VS Code, nbconvert or GitHub, one of the others.
"""

from __future__ import annotations

from html import escape
from typing import Any

from orchestrate_nb.notebook.graph.fallback import BOX, graph_svg, graph_text
from orchestrate_nb.notebook.graph.states import state_table

RUN_GRAPH_MIME = "application/vnd.orchestrate-nb.run-graph.v1+json"

FAILED = ("failed", "crashed")
_MAX_FAILURES = 20
_MAX_LOGGED_NODES = 50
_RED, _GREY = "#cf222e", "#57606a"
_PRE = "margin:2px 0 6px;white-space:pre-wrap;font-size:12px"


# An untrusted notebook's HTML is sanitised: <svg> and <style> are dropped, the SVG's text
# kept as a jumble. So the SVG's box is hidden by its style attribute and shown by a
# stylesheet rule (!important beats an inline style), which only trusted output keeps; the
# text version is shown the other way round. Trusted: the picture; untrusted: the text.
_STYLE = ("<style>.onb-saved-graph__svg{display:block!important}"
          ".onb-saved-graph__text{display:none!important}</style>")


def saved_graph_bundle(graph: dict[str, Any]) -> dict[str, Any]:
    """The MIME bundle of a final run-graph snapshot (``GraphModel.snapshot``)."""
    svg, text = graph_svg(graph), graph_text(graph)
    parts = [_STYLE, f'<div class="onb-saved-graph__svg" style="display:none;overflow-x:auto">'
             f'{svg}</div><pre class="onb-saved-graph__text" style="{_PRE}">{escape(text)}'
             f'</pre>', _failures(graph), _logs(graph)]
    html = ('<div class="onb-saved-graph" data-testid="onb-saved-graph" '
            'style="font-family:sans-serif;font-size:13px">' + "".join(parts) + "</div>")
    return {RUN_GRAPH_MIME: run_graph_data(graph), "text/html": html, "image/svg+xml": svg,
            "text/plain": text}


def run_graph_data(graph: dict[str, Any]) -> dict[str, Any]:
    """``RUN_GRAPH_MIME``'s data: what the widget's view is given, as JSON."""
    return {"graph": graph, "states": state_table(), "box": dict(BOX)}


def _failures(graph: dict[str, Any]) -> str:
    failed = [n for n in graph.get("nodes", []) if n.get("state") in FAILED]
    return "".join(_failure(node) for node in failed[:_MAX_FAILURES])


def _failure(node: dict[str, Any]) -> str:
    error = node.get("error")
    headline = error["exception"] if error else (
        node.get("message") or node.get("detail") or node["state"])
    frame = f'<pre style="{_PRE}">{escape(error["frame"])}</pre>' if error else ""
    return (f'<div class="onb-saved-graph__failure" data-testid="onb-failure" style="border-left:3px solid {_RED};'
            f'padding:2px 8px;margin:6px 0"><b>✗ {escape(node["label"])}</b>'
            f' — {escape(headline)}{frame}</div>')


def _logs(graph: dict[str, Any]) -> str:
    flow = graph.get("flow") or {}
    sections = [(flow.get("flow_name") or "flow run", flow.get("logs") or [])]
    sections += [(n["label"], n.get("logs") or []) for n in graph.get("nodes", [])]
    shown = [(label, lines) for label, lines in sections if lines][:_MAX_LOGGED_NODES]
    if not shown:
        return ""
    body = "".join(f'<div><b>{escape(label)}</b><pre style="{_PRE}">'
                   f'{escape(chr(10).join(lines))}</pre></div>' for label, lines in shown)
    return (f'<details data-testid="onb-saved-logs"><summary style="color:{_GREY};'
            f'cursor:pointer">Last log lines</summary>{body}</details>')
