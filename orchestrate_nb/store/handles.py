"""One open database per process and URL, for the small, occasional reads and writes of
artifacts, variables, blocks and alerts (the run history has its own batched writer)."""

from __future__ import annotations

import os
import threading

from orchestrate_nb.settings import load_settings
from orchestrate_nb.store.database import Database, open_database

_lock = threading.Lock()
_databases: dict[tuple[int, str], Database] = {}


def shared_database() -> Database:
    """The configured store (``ORCHESTRATE_NB_DATABASE_URL``), opened and migrated once."""
    settings = load_settings()
    key = (os.getpid(), settings.database_url)  # a forked child opens its own connections
    with _lock:
        database = _databases.get(key)
        if database is None:
            database = _databases[key] = open_database(settings)
        return database


def forget_databases() -> None:
    """Close every shared database (tests that switch stores)."""
    with _lock:
        for (pid, _), database in list(_databases.items()):
            if pid == os.getpid():
                database.dispose()
        _databases.clear()
