"""Helpers the deployment tests import: fixture notebooks and deployment rows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

PARAMETERS_CELL = "n = 3\nday: str = 'mon'\nrate = 0.5\nverbose = False\nitems = [1, 2]\n"


def write_notebook(path: Path, parameters: str | None = PARAMETERS_CELL) -> Path:
    cells = []
    if parameters is not None:
        cells.append({"cell_type": "code", "metadata": {"tags": ["parameters"]},
                      "source": parameters, "outputs": [], "execution_count": None})
    cells.append({"cell_type": "code", "metadata": {}, "source": "print(n)",
                  "outputs": [], "execution_count": None})
    path.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4,
                                "nbformat_minor": 5}))
    return path


def deployment_values(name: str = "nightly", cron: str | None = "0 2 * * *",
                      timezone: str = "UTC", **changes: Any) -> dict[str, Any]:
    """A deployment's columns as ``save_deployment`` takes them (tests set the clock)."""
    values: dict[str, Any] = {
        "name": name, "kind": "notebook", "entrypoint": "/nb/etl.ipynb", "flow_name": "etl",
        "parameters": None, "pool": "default", "schedule_kind": "cron" if cron else None,
        "cron": cron, "interval_seconds": None, "rrule": None, "timezone": timezone,
        "anchor": None, "paused": False, "catchup": "latest", "retries": 0,
        "retry_delay_seconds": 0.0, "timeout_seconds": None, "tags": None,
    }
    values.update(changes)
    return values
