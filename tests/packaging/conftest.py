"""tests/ui's browser fixtures (chromium, page with its console check, artifacts), for the
JupyterLab of a fresh virtualenv."""

from __future__ import annotations

from fresh_venv import ui

chromium = ui.chromium
page = ui.page
artifacts = ui.artifacts
pytest_runtest_makereport = ui.pytest_runtest_makereport
