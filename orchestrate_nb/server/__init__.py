"""The Jupyter server extension: the REST API the JupyterLab sidebar reads (``/orchestrate/api/``).

``app.OrchestrateApp`` (an ``ExtensionApp``) serves ``handlers.py``, thin tornado adapters
over ``services.py`` (plain functions from a query to a JSON-ready dict, over the store).
Nothing here is imported by ``import orchestrate_nb``: jupyter_server loads it through
``_jupyter_server_extension_points`` when the server starts.
"""

from __future__ import annotations

from typing import Any


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from orchestrate_nb.server.app import OrchestrateApp

    return [{"module": "orchestrate_nb.server", "app": OrchestrateApp}]
