"""Imported once by the worker's fork server (``deploy/launcher.py``), so that run processes
forked from it start with the engine, the store and papermill loaded.

Any failure here is swallowed: the fork server must start whatever is (not) installed, and
a run process imports what it lacks itself.
"""

from __future__ import annotations

import importlib

MODULES = (
    "orchestrate_nb.deploy.execute", "orchestrate_nb.deploy.deployments",
    "orchestrate_nb.flows", "orchestrate_nb.store.reporter", "orchestrate_nb.store.writer",
    "sqlalchemy.dialects.postgresql", "sqlalchemy.dialects.sqlite", "psycopg",
    "papermill", "orchestrate_nb.deploy.papermill_engine", "nbclient", "jupyter_client",
)

for _name in MODULES:
    try:
        importlib.import_module(_name)
    except Exception:  # noqa: BLE001, S112 - see the docstring
        continue
